"""The in-process run of a command: the launcher's fallback when no command server answers.

When the launcher took the key (no server held it), it starts the server
first, on the lock and listening socket the launcher made, so that the calls
queued there are served; then it runs the command here exactly as a plain
`python -c 'from jem_slurm.<command> import main'` (or `jem`'s run) would.
"""

import importlib
import os
import sys

from jem_slurm import launcher


def run(command: str, server: tuple[str, str, int, int] | None) -> int:
    """Run `command` (`launcher.entry_point`); with `server` (a `launcher.NewServer`'s fields), first start
    that server."""
    if server is not None:
        spawn_server(launcher.NewServer(*server))
    module, function = launcher.entry_point(command)
    return getattr(importlib.import_module(module), function)()


def spawn_server(new: launcher.NewServer) -> None:
    """Start `jem_slurm.forkserver` on `new`'s lock and socket, detached (double fork, new session, stdio to
    /dev/null and a log), then close them here: the server holds them from now on, and the command run
    here neither (it might outlive the server, and would keep the key from the next one).

    The server holds none of our other descriptors: a caller reading our
    stdout to its end (a shell's `$(squeue)`, subprocess.run) must see EOF
    when we exit, not when the server does.
    """
    try:
        pid = os.fork()
        if pid == 0:
            _become_server(new)
        os.waitpid(pid, 0)
    finally:
        new.close()


def _become_server(new: launcher.NewServer) -> None:
    """In the forked child: fork again in a new session and exec the server on the key (never returns)."""
    try:
        os.setsid()
        if os.fork() == 0:
            os.chdir("/")
            null_fd = os.open(os.devnull, os.O_RDWR)
            log_fd = os.open(os.path.join(new.directory, f"{new.key}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                             0o600)
            for target, fd in ((0, null_fd), (1, log_fd), (2, log_fd)):
                os.dup2(fd, target)
            _close_all_but(new.lock_fd, new.listen_fd)   # (both above 2: the launcher runs here only with 0-2 open)
            os.execv(sys.executable, [sys.executable, "-P", "-m", "jem_slurm.forkserver", new.directory, new.key,
                                      str(new.lock_fd), str(new.listen_fd)])
    finally:
        os._exit(0)


def _close_all_but(*kept: int) -> None:
    """Close every descriptor above 2 but `kept`, and let those pass exec."""
    start = 3
    for fd in sorted(kept):
        os.closerange(start, fd)
        os.set_inheritable(fd, True)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))
