"""The `jem` command: parse the subcommand, run it, turn errors into one line and exit 1."""

import os

# gRPC reads this when it is first imported. The agent forks job processes from
# a threaded gRPC server and always execs right after; gRPC's fork handlers
# then crash the child now and again (SIGSEGV before exec), so turn them off.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import argparse  # noqa: E402  (after the environment is set)
import importlib  # noqa: E402
import sys  # noqa: E402

from jem.model.errors import JemError  # noqa: E402


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 1 (not 2)."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message}\n")


# The module (jem/cli/NAME.py) that defines each command, in `jem --help`'s order: `jem X`
# imports X's module alone; `jem`, `jem --help` and an unknown command import them all.
# Each module imports at its top only what its parser needs (the stdlib, jem.model):
# jem.client (grpc), the scheduler (numpy), psutil and the security stack are imported
# by the command that runs. So `jem jobs` pays for grpc but not numpy, `jem sim` for
# numpy but not grpc, and `jem --help` for neither. tests/unit/test_cli_imports.py holds
# both to it.
COMMAND_MODULES = {
    "up": "cluster", "down": "cluster", "controller": "daemons", "agent": "daemons", "submit": "submit",
    "jobs": "jobs", "show": "jobs", "cancel": "jobs", "hold": "jobs", "release": "jobs", "requeue": "jobs",
    "watch": "jobs", "why": "why", "run": "steps", "steps": "steps", "nodes": "nodes", "drain": "nodes",
    "down-node": "nodes", "resume": "nodes", "slurm-path": "slurmpath", "shares": "shares", "accounts": "accounts",
    "sim": "sim", "ca": "ca", "authd": "auth", "token": "auth", "audit": "audit", "ping": "ping",
}


def _command_modules(argv: list[str]) -> list:
    """The modules whose parsers `argv` needs: its command's alone when it begins with one."""
    if argv[:1] and argv[0] in COMMAND_MODULES:
        names = [COMMAND_MODULES[argv[0]]]
    else:
        names = list(dict.fromkeys(COMMAND_MODULES.values()))
    return [importlib.import_module(f"jem.cli.{name}") for name in names]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (default: every command's)."""
    parser = _Parser(prog="jem", description="JEM: a job execution manager for HPC clusters")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in _command_modules(argv or []):
        module.add_parsers(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but a command whose parser names a list in `trailing` (set_defaults) takes the
    `Name=Value` words that follow its options into it too, as sacctmgr does: argparse fills every
    positional at the first one (`add-user alice`) and would refuse the `MaxJobs=2` of
    `jem accounts add-user alice -A physics MaxJobs=2`."""
    args, extras = parser.parse_known_args(argv)
    field = getattr(args, "trailing", None)
    if extras:
        if field is None or any(word.startswith("-") or "=" not in word for word in extras):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        setattr(args, field, [*getattr(args, field), *extras])
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parse(parser, argv)
    try:
        return args.run(args)
    except JemError as exc:
        print(f"jem {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:   # a file the command reads or writes (its path, its error), never a traceback
        print(f"jem {args.command}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:   # a file that is not text (one the command names itself says which)
        print(f"jem {args.command}: error: a file it read is not UTF-8 text ({exc})", file=sys.stderr)
        return 1


def _os_error_text(exc: OSError) -> str:
    """`/no/such/dir/x: No such file or directory`, as Slurm's commands name a file they cannot use."""
    if not exc.strerror:
        return str(exc)
    if exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {exc.strerror}"
    return f"{exc.filename}: {exc.strerror}" if exc.filename is not None else exc.strerror


if __name__ == "__main__":
    sys.exit(main())
