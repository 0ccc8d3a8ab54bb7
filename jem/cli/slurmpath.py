"""`jem slurm-path`: make (or refresh) a directory of Slurm-named commands and print it; stop the command servers.

The directory (DIR/slurm-bin under the state dir) holds one small executable per
command (sbatch, squeue, scancel, sinfo, scontrol, sacct, srun, ...), each a stub for this
interpreter's `jem_slurm.<command>`: run by the compiled launcher (`jem_slurm/jem-launch`),
or else under `python -I -S` importing only `jem_slurm.launcher`, it hands the call to the
user's resident command server (`jem_slurm.forkserver`) or runs it in-process when there
is none (see docs/slurm-compat.md). It holds a `jem` too, the same kind of stub
(`jem.cli.main.launch`): as quick as the others, where the installed `jem`
(a Python script) first pays for the interpreter's start and its site. Nothing
is put on PATH: the user asks for it with `export PATH="$(jem slurm-path):$PATH"`,
so a real Slurm is never shadowed by accident. `--install DIR` writes the
Slurm-named commands alone (`jem` is installed already).
"""

import argparse
import os
import sys

from jem.model import defaults
from jem.model.errors import JemError
import jem_slurm.launcher as launcher

COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol", "sacct", "srun", "salloc", "sacctmgr", "sprio",
            "sshare", "seff", "sdiag", "sreport", "sstat", "sattach", "sbcast", "strigger", "scrontab")
MAX_SHEBANG = 120  # older kernels cut #! lines at 127 bytes


def wrapper_text(command: str, python: str) -> str:
    """An executable that hands `command` to the server for `python`'s installation (`jem`:
    `jem.cli.main.launch`, which knows which of its commands the server runs).

    Its interpreter is the compiled launcher (`jem_slurm/jem-launch`, from `launch.c`) where it was
    built: it reads the `#:` lines and hands the call over in about a millisecond, and runs the rest
    of the file, under `python -I -S`, whenever the Python launcher is needed (no server yet, and the
    other cases its source names). Without it (a checkout nobody built, a path a `#!` line cannot
    hold) the file's first line runs that Python directly, with no shell when it can.
    """
    parents = [os.path.dirname(os.path.dirname(os.path.abspath(launcher.__file__)))]
    key = launcher.server_key(python)
    header = [f"#:command {command}", f"#:key {key}", f"#:python {python}"]
    if command == "jem":
        from jem.cli.main import SERVED_COMMANDS

        parents.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        call = f"from jem.cli.main import launch\nlaunch({key!r})\n"
        header.append(f"#:served {' '.join(sorted(SERVED_COMMANDS))}")
    else:
        call = f"from jem_slurm.launcher import launch\nlaunch({command!r}, {key!r})\n"
    body = f"import sys\nsys.path[:0] = {list(dict.fromkeys(parents))!r}\n{call}"
    compiled = compiled_launcher()
    if compiled is not None and "\n" not in python:
        return f"#!{compiled}\n" + "".join(f"{line}\n" for line in header) + body
    if len(python) + 5 <= MAX_SHEBANG and " " not in python:
        return f"#!{python} -IS\n{body}"
    return f"#!/bin/sh\nexec '{python}' -IS -c \"{body.replace(chr(10), '; ')}\" \"$@\"\n"


def compiled_launcher() -> str | None:
    """The built `jem_slurm/jem-launch` when a `#!` line can name it, else None."""
    path = os.path.join(os.path.dirname(os.path.abspath(launcher.__file__)), "jem-launch")
    if len(path) + 2 > MAX_SHEBANG or " " in path or "\t" in path or not os.access(path, os.X_OK):
        return None
    return path


def ensure_commands(directory: str, python: str, commands: tuple[str, ...] = COMMANDS) -> None:
    """Write every wrapper of `commands` whose text differs from what is there (a new interpreter, a first run)."""
    os.makedirs(directory, exist_ok=True)
    for command in commands:
        path = os.path.join(directory, command)
        text = wrapper_text(command, python)
        try:
            with open(path) as f:
                if f.read() == text and os.access(path, os.X_OK):
                    continue
        except OSError:
            pass
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)


class ForeignCommand(JemError):
    reason = "ForeignCommand"
    message = "will not replace a command that JEM did not write"


def install_commands(directory: str, python: str, *, replace_foreign: bool = False) -> list[str]:
    """Write the wrappers into a directory on every user's PATH (/usr/local/bin), 0755.
    A missing directory is made 0755 as well, whatever the umask; an existing one keeps
    its mode. A file of that name that is not a JEM wrapper (a real Slurm's sbatch) is
    left alone unless `replace_foreign`. Returns the paths written."""
    try:
        os.mkdir(directory, 0o755)
        os.chmod(directory, 0o755)   # exactly, whatever the admin's umask: every user runs these
    except FileExistsError:
        pass
    for command in COMMANDS:
        path = os.path.join(directory, command)
        try:
            with open(path, errors="replace") as f:
                is_ours = "from jem_slurm.launcher import launch" in f.read(4096)
        except FileNotFoundError:
            continue
        if not is_ours and not replace_foreign:
            raise ForeignCommand(f"{path} exists (a real Slurm?); use --force to replace it")
    ensure_commands(directory, python)
    return [os.path.join(directory, c) for c in COMMANDS]


def stop_servers() -> int:
    """SIGTERM every command server of this user (those in the runtime directory); returns how many."""
    import signal

    directory = launcher.runtime_dir()
    if directory is None:
        return 0
    n_stopped = 0
    for name in sorted(os.listdir(directory)):
        pid = launcher.server_pid(os.path.join(directory, name)) if name.endswith(".lock") else 0
        if pid > 0:
            os.kill(pid, signal.SIGTERM)
            n_stopped += 1
    return n_stopped


def add_parsers(sub) -> None:
    p = sub.add_parser("slurm-path", help="print a directory of Slurm-compatible commands (sbatch, squeue, ...) "
                       "to put on PATH")
    p.add_argument("--state-dir", default=None, help="where the directory is made (default $JEM_STATE_DIR or ~/.jem)")
    p.add_argument("--install", metavar="DIR", default=None,
                   help="write the commands into DIR for every user (e.g. /usr/local/bin), as an admin does once")
    p.add_argument("--force", action="store_true", help="with --install: replace commands JEM did not write")
    p.add_argument("--stop-server", action="store_true",
                   help="stop this user's resident command servers (running commands finish) and print nothing")
    p.set_defaults(run=run_slurm_path)


def run_slurm_path(args: argparse.Namespace) -> int:
    if args.stop_server:
        stop_servers()
        return 0
    if args.install:
        for path in install_commands(args.install, sys.executable, replace_foreign=args.force):
            print(f"installed {path}")
        return 0
    directory = os.path.join(os.path.abspath(args.state_dir or defaults.state_dir()), "slurm-bin")
    ensure_commands(directory, sys.executable, (*COMMANDS, "jem"))
    print(directory)
    return 0
