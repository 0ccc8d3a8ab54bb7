"""The agent's link to its job keeper (`keeper.py`): start a batch script under the
keeper, which outlives the agent and records how the script ended.

The keeper is started on the first job start (one exec of Python with the
standard library only), and again if it stops answering. Starts are one at a
time: each sends an order and waits for the answer: the script's pid and a
`done` pipe, which turns readable (end of file) once the keeper has written the
job's status, or has died without.
"""

import logging
import os
import select
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass

from jem.agent import keeper
from jem.agent.confined import LaunchError

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 30.0   # a keeper answers within milliseconds; past this it is deemed stuck


@dataclass(frozen=True, slots=True)
class StartOrder:
    """What the keeper starts: `argv` exec'd with `env` in a session of its own, moved into
    the cgroups whose `cgroup.procs` files are listed (`argv` then waits for "go" on its
    stdin), and the run's record. `become` (uid, gid, groups): the user a forked child
    changes to before it execs, where `argv` cannot change user itself (no setpriv);
    None: `argv` does."""

    argv: list[str]
    env: dict[str, str]
    cgroup_procs: list[str]
    record: dict                       # what the keeper records of the run (runrecord.py), with its own part
    become: tuple[int, int, list[int]] | None = None


@dataclass(frozen=True, slots=True)
class Started:
    """A job under its keeper: the script's pid (its process group and session) and its
    `done` pipe (the caller closes it)."""

    job_pid: int
    done_fd: int


class Keepers:
    """Starts jobs under this agent's keeper (see the module docstring)."""

    def __init__(self, spool_path: str):
        self._spool_path = spool_path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._keeper_pidfd: int | None = None

    def start(self, order: StartOrder, *, job_dir_fd: int, out_fd: int) -> Started:
        """Start `order` under the keeper, which records in `job_dir_fd` (the job's spool
        directory) and gives the start-up shell `out_fd` as stdout and stderr. Raises
        LaunchError with the reason when the job could not be started."""
        message = {"argv": order.argv, "env": order.env, "cgroup_procs": order.cgroup_procs, "record": order.record,
                   "become": None if order.become is None else
                   {"uid": order.become[0], "gid": order.become[1], "groups": order.become[2]}}
        with self._lock:
            sock = self._connected()
            try:
                keeper.send_message(sock, message, [job_dir_fd, out_fd])
            except OSError as exc:   # not sent, so nothing started: a new keeper may take it
                self._discard(f"the job keeper went away: {exc}")
                sock = self._connected()
                try:
                    keeper.send_message(sock, message, [job_dir_fd, out_fd])
                except OSError as exc:
                    self._discard(f"the job keeper went away: {exc}")
                    raise LaunchError(f"cannot start job: the job keeper went away ({exc})") from None
            try:
                answer, fds = keeper.receive_message(sock)
            except (OSError, EOFError, ValueError) as exc:
                answer, fds = None, []
                self._discard(f"no answer from the job keeper: {exc}")
            if answer is None:   # it may have started the job: the caller kills what is in its cgroup
                self._discard("the job keeper went away")
                raise LaunchError("cannot start job: the job keeper did not answer")
        if "error" in answer:
            for fd in fds:
                os.close(fd)
            raise LaunchError(answer["error"])
        return Started(job_pid=int(answer["job_pid"]), done_fd=fds[0])

    def close(self) -> None:
        """Let the keeper go: it takes no more orders and exits after its last job."""
        with self._lock:
            self._discard("")

    def _connected(self) -> socket.socket:
        """The link to a live keeper, started first if need be."""
        if self._sock is not None and self._keeper_pidfd is not None and _has_exited(self._keeper_pidfd):
            self._discard("the job keeper died")
        if self._sock is not None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # -I -S: the standard library alone. The first process forks the keeper and exits.
            launcher = subprocess.Popen([sys.executable, "-I", "-S", keeper.__file__, self._spool_path,
                                         str(os.getpid())], stdin=theirs, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, close_fds=True, cwd="/")
            launcher.wait()
            ours.settimeout(ANSWER_TIMEOUT_S)
            hello, fds = keeper.receive_message(ours)
        except (OSError, EOFError, ValueError) as exc:
            ours.close()
            raise LaunchError(f"cannot start the job keeper: {exc}") from None
        finally:
            theirs.close()
        if hello is None or len(fds) != 1:
            ours.close()
            raise LaunchError("cannot start the job keeper: it did not say hello")
        self._sock, self._keeper_pidfd = ours, fds[0]
        log.debug("job keeper started pid=%s", hello.get("keeper_pid"))
        return ours

    def _discard(self, why: str) -> None:
        if why:
            log.warning("leaving the job keeper: %s", why)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._keeper_pidfd is not None:
            os.close(self._keeper_pidfd)
            self._keeper_pidfd = None


def _has_exited(pidfd: int) -> bool:
    exited = select.poll()
    exited.register(pidfd, select.POLLIN)
    return bool(exited.poll(0))
