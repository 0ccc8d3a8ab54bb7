"""The `jem` command: parse the subcommand, run it, turn errors into one line and exit 1.

Started as a command (the installed `jem-python`, which the compiled
`jem` beside it runs when it cannot hand a call over itself; `python -m
jem.cli.main`), a
command that talks to the controller (SERVED_COMMANDS), and `jem --help`, is
handed to the user's resident command server, as the Slurm-named commands are
(`jem_slurm.launcher`; docs/slurm-compat.md): a child forked from a server
that has grpc, jem.client and every parser imported runs `run()` as the
caller (its stdio, working directory, environment and signals), so `jem jobs`
answers in about the time of `squeue` instead of paying ~250 ms of imports.
The rest run in this process: the daemons, `up` and `down`, `slurm-path` and
local work. So this module imports only `os` and `sys` at its top; argparse
and the command modules are imported by `run`. `main(argv)` given its argv
(tests, embedding) always runs here.
"""

import os

# gRPC reads this when it is first imported. The agent forks job processes from
# a threaded gRPC server and always execs right after; gRPC's fork handlers
# then crash the child now and again (SIGSEGV before exec), so turn them off.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import sys  # noqa: E402  (after the environment is set)

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
    "gateway": "daemons",
}
# The commands the resident command server runs: those that talk to the controller and end when
# their call does. The others run in the caller's process: the daemons (`controller`, `agent`,
# `authd`) and `up`/`down`, which start and stop them; `slurm-path`, which writes the commands and
# stops the servers; `sim` and `ca`, local work. A command added to COMMAND_MODULES runs here
# until it is added to this list.
SERVED_COMMANDS = frozenset({
    "submit", "jobs", "show", "cancel", "hold", "release", "requeue", "watch", "why", "run", "steps", "nodes",
    "drain", "down-node", "resume", "shares", "accounts", "token", "audit", "ping",
})


def is_served(argv: list[str]) -> bool:
    """Whether the command server runs `jem ARGV` (`jem --help` and the like too)."""
    return not argv or argv[0].startswith("-") or argv[0] in SERVED_COMMANDS


def main(argv: list[str] | None = None) -> int:
    """`jem ARGV`: with no `argv` (this process's own), a served command goes to the command server
    and this process exits with its status; otherwise it runs here (`run`)."""
    if argv is None:
        argv = sys.argv[1:]
        if is_served(argv):
            _run_on_server(argv)
    return run(argv)


def main_installed(script: str) -> int:
    """`jem ARGV` as the installed `jem-python` runs it: `main`, and first, for a served command, note the
    server's key where the compiled `jem` beside `script` reads it (`launcher.record_installed_key`), so
    that it hands the next calls over without starting Python."""
    argv = sys.argv[1:]
    if is_served(argv):
        _run_on_server(argv, os.path.realpath(script))
    return run(argv)


def _run_on_server(argv: list[str], installed_script: str | None = None) -> None:
    """Hand `jem ARGV` to this user's command server and exit with its status. Returns when it is to
    run here instead: no server is to be used, or none was up (this caller then starts one, for the
    next call: `jem_slurm.launcher.NewServer`)."""
    import jem_slurm.launcher as launcher

    key = launcher.server_key(sys.executable)
    if installed_script is not None:
        directory = launcher.runtime_dir()
        if directory is not None:
            launcher.record_installed_key(directory, installed_script, key)
    outcome = launcher.run_on_server("jem", argv, key)
    if isinstance(outcome, launcher.NewServer):
        import jem_slurm.inprocess as inprocess

        inprocess.spawn_server(outcome)
    elif outcome is not None:
        launcher.exit_like(outcome)


def launch(key: str) -> None:
    """The `jem` that `jem slurm-path` writes beside the Slurm-named commands when the compiled launcher
    hands a call to Python (no server up yet, a command the server does not run), under `python -I -S`
    (no site, unlike the installed `jem-python`). A served command
    goes to the server for `key`; the rest, and a call no server took, run in a full interpreter that
    replaces this one (`python -m jem.cli.main`, the command line by which `jem down` knows a daemon)."""
    import jem_slurm.launcher as launcher

    argv = sys.argv[1:]
    if not is_served(argv):
        os.execv(sys.executable, [sys.executable, "-m", "jem.cli.main", *argv])
    outcome = launcher.run_on_server("jem", argv, key)
    if outcome is None or isinstance(outcome, launcher.NewServer):
        launcher.exec_in_process("jem", argv, outcome)
    launcher.exit_like(outcome)


def preload() -> None:
    """Import what `run` needs for any served command: argparse and every command's parser (`jem --help`
    shows them all). For the command server (`jem_slurm.forkserver`), before it forks."""
    build_parser([])


def _command_modules(argv: list[str]) -> list:
    """The modules whose parsers `argv` needs: its command's alone when it begins with one."""
    import importlib

    if argv[:1] and argv[0] in COMMAND_MODULES:
        names = [COMMAND_MODULES[argv[0]]]
    else:
        names = list(dict.fromkeys(COMMAND_MODULES.values()))
    return [importlib.import_module(f"jem.cli.{name}") for name in names]


def _parser_class() -> type:
    """argparse's parser, reporting usage errors as one line and exit status 1 (not 2). Made when a
    parser is built, so that a `jem` handed to the command server never imports argparse itself."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):
            self.exit(1, f"{self.prog}: error: {message}\n")

    return Parser


def build_parser(argv: list[str] | None = None) -> "argparse.ArgumentParser":
    """The parser for `argv` (default: every command's)."""
    parser_class = _parser_class()
    parser = parser_class(prog="jem", description="JEM: a job execution manager for HPC clusters")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    sub.required = True
    for module in _command_modules(argv or []):
        module.add_parsers(sub)
    return parser


def parse(parser: "argparse.ArgumentParser", argv: list[str]) -> "argparse.Namespace":
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


def run(argv: list[str] | None = None) -> int:
    """`jem ARGV` (default: this process's argv) in this process: the in-process run, and what the
    command server's child runs."""
    from jem.model.errors import JemError

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
