"""What every command shares: the run wrapper that turns errors into Slurm's messages and exit codes.

A command raises `Failure(lines, code)` for anything it reports itself; a
`UsageError` from getopt becomes Slurm's two usage lines and exit 255 (sbatch)
or 1; a controller that cannot be reached is named on one line, never with a
traceback. jem.client (and so grpc) is imported only when a command first talks
to the controller, so `--help` and usage errors stay cheap.
"""

import os
import sys

from jem_slurm.getopt import UsageError

# What every command's --version and -V print: Slurm's own line, which tools parse.
SLURM_VERSION = "slurm 22.05.8"


class Interrupted(Exception):
    """A signal srun or salloc catches to end what it waits for (`raise_interrupted` is its handler)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def raise_interrupted(signum, frame):
    raise Interrupted(signum)


class Failure(Exception):
    """An error a command reports: the stderr lines (without the prefix) and the exit code."""

    def __init__(self, *lines: str, code: int = 1, prefix: str = "error: "):
        super().__init__(lines[0] if lines else "")
        self.lines = lines
        self.code = code
        self.prefix = prefix


def connect():
    """A jem.client.Client for the controller named by $JEM_CONTROLLER or the state dir (in a command
    server's child, its unary calls go through the server's call relay)."""
    from jem.client import Client

    return Client()


def run(prog: str, body, argv: list[str] | None, *, usage_code: int = 1) -> int:
    """Run `body(argv)` and map what it raises onto Slurm's stderr shape and exit codes."""
    from jem.model.errors import JemError

    argv = sys.argv[1:] if argv is None else argv
    try:
        return body(argv)
    except UsageError as exc:
        print(f"{prog}: {exc}\nTry \"{prog} --help\" for more information", file=sys.stderr)
        return usage_code
    except Failure as exc:
        for line in exc.lines:
            print(f"{prog}: {exc.prefix}{line}" if exc.prefix is not None else line, file=sys.stderr)
        return exc.code
    except JemError as exc:
        if exc.reason == "ControllerUnreachable":
            where = "" if exc.detail.startswith("no controller address") else " at"
            print(f"{prog}: error: Unable to contact JEM controller{where}: {exc.detail}".replace(
                f"controller at: ", "controller at "), file=sys.stderr)
        else:
            print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0


def split_list(values: list[str]) -> list[str]:
    """Comma lists given once or repeated (`-j 1,2 -j 3`) as one flat list."""
    return [part for value in values for part in value.split(",") if part]


def is_digits(text: str) -> bool:
    """Whether `text` is a decimal number as int() reads it ("²" and "١" are digits to str.isdigit)."""
    return text.isascii() and text.isdigit()


def node_names(texts: list[str]) -> list[str]:
    """The nodes of host lists (`n[1-4],m1`); Failure names a malformed or too large one."""
    import hostlist

    try:
        return hostlist.expand_hostlist(",".join(texts))
    except hostlist.BadHostlist as exc:
        raise Failure(f"Invalid node name specified: {','.join(texts)} ({exc})") from None


def user_names(values: list[str]) -> list[str]:
    """User names from names or numeric uids; unknown uids stay as given."""
    import pwd

    names = []
    for value in split_list(values):
        if is_digits(value):
            try:
                value = pwd.getpwuid(int(value)).pw_name
            except KeyError:
                pass
        names.append(value)
    return names


def current_user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
