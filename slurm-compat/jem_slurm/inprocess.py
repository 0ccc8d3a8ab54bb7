"""The in-process run of a command: the launcher's fallback when no command server answers.

It starts a server in the background first (when the launcher names a runtime
directory and key), so that the next call finds one, then runs the command
here exactly as a plain `python -c 'from jem_slurm.<command> import main'`
would.
"""

import importlib
import os
import sys

from jem_slurm import launcher


def run(command: str, server: tuple[str, str] | None) -> int:
    """Run `jem_slurm.<command>.main()`; with `server` = (runtime dir, key), first start that server."""
    if server is not None:
        spawn_server(*server)
    return importlib.import_module(f"jem_slurm.{command}").main()


def spawn_server(directory: str, key: str) -> None:
    """Start `jem_slurm.forkserver` for `key`, detached (double fork, new session, stdio to /dev/null and a log).

    The server holds none of our descriptors: a caller reading our stdout
    to its end (a shell's `$(squeue)`, subprocess.run) must see EOF when
    we exit, not when the server does.
    """
    if launcher.server_pid(os.path.join(directory, f"{key}.lock")):
        return  # a server is up or still importing (calls in a quick loop would each start one)
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            os.chdir("/")
            null_fd = os.open(os.devnull, os.O_RDWR)
            log_fd = os.open(os.path.join(directory, f"{key}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(null_fd, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.execv(sys.executable, [sys.executable, "-P", "-m", "jem_slurm.forkserver", directory, key])
    finally:
        os._exit(0)

