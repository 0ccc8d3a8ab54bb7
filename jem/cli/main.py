"""The `jem` command: parse the subcommand, run it, turn errors into one line and exit 1."""

import os

# gRPC reads this when it is first imported. The agent forks job processes from
# a threaded gRPC server and always execs right after; gRPC's fork handlers
# then crash the child now and again (SIGSEGV before exec), so turn them off.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import argparse  # noqa: E402  (after the environment is set)
import sys  # noqa: E402

from jem.model.errors import JemError  # noqa: E402


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 1 (not 2)."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message}\n")


def _command_modules(argv: list[str]) -> tuple:
    """The modules that define the subcommands. `jem sim` loads only its own: it runs
    the scheduler in this process, and the others' gRPC imports would double its start-up."""
    if argv[:1] == ["sim"] and not {"-h", "--help"} & set(argv[1:]):
        from jem.cli import sim
        return (sim,)
    from jem.cli import cluster, daemons, jobs, nodes, shares, sim, slurmpath, steps, submit
    from jem.cli import accounts, audit, auth, ca, ping, why
    return (cluster, daemons, submit, jobs, why, steps, nodes, slurmpath, shares, accounts, sim, ca, auth, audit,
            ping)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="jem", description="JEM: a job execution manager for HPC clusters")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in _command_modules(argv or []):
        module.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except JemError as exc:
        print(f"jem {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
