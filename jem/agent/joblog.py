"""Slurm's slurmstepd line in a killed job's stderr: `slurmstepd: error: *** JOB 123 ON n1
CANCELLED AT 2026-12-07T12:00:00 DUE TO PREEMPTION ***` (Slurm's `*** %s ON %s CANCELLED AT %s
***` and its DUE TO variants), so that a job's output says why it ended.

The line goes through the job's own stderr: descriptor 2 of its batch script, duplicated with
pidfd_getfd. That is the open file the job writes to, with the access the job opened it with
(as the user): root never opens a path a user chose, and a job whose descriptor 2 is not a
regular file it may write to (redirected to a pipe, closed, opened read-only) gets no line.
Times are local, in Slurm's default form (%Y-%m-%dT%H:%M:%S).
"""

import ctypes
import enum
import fcntl
import logging
import os
import stat
import time

log = logging.getLogger(__name__)

SYS_PIDFD_GETFD = 438   # the same number on every architecture (a syscall added after the unified table)
STDERR_FD = 2


class KillReason(enum.Enum):
    """Why the agent kills a job: the words after CANCELLED AT <time>."""

    CANCEL = ""                                  # scancel, or a controller that says nothing
    TIME_LIMIT = " DUE TO TIME LIMIT"
    PREEMPTION = " DUE TO PREEMPTION"
    NODE_FAILURE = " DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS"
    REQUEUE = " DUE TO JOB REQUEUE"


def kill_line(job_id: int, node_name: str, when: float, reason: KillReason) -> str:
    """>>> kill_line(7, "n1", 0.0, KillReason.PREEMPTION)  # (in UTC)
    'slurmstepd: error: *** JOB 7 ON n1 CANCELLED AT 1970-01-01T00:00:00 DUE TO PREEMPTION ***\\n'
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))
    return f"slurmstepd: error: *** JOB {job_id} ON {node_name} CANCELLED AT {stamp}{reason.value} ***\n"


def write_to_job_stderr(pid: int, line: str, *, not_into: tuple[int, int] | None = None) -> bool:
    """Append `line` to the stderr of process `pid` (the batch script) as described in the
    module docstring; False when it could not (no such process, not a file it writes, or the
    file `not_into` names by (device, inode): the agent's start-up log, which a job killed as it
    starts still holds as its stderr)."""
    fd = _stderr_of(pid)
    if fd is None:
        return False
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY \
                or (found.st_dev, found.st_ino) == not_into:
            return False
        os.write(fd, line.encode())
        return True
    except OSError as exc:
        log.debug("job stderr line not written pid=%d error=%s", pid, exc)
        return False
    finally:
        os.close(fd)


_libc = ctypes.CDLL(None, use_errno=True)


def _stderr_of(pid: int) -> int | None:
    """A descriptor of the same open file as `pid`'s descriptor 2, or None."""
    if pid <= 0:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, STDERR_FD, 0)
        if fd < 0:
            log.debug("pidfd_getfd failed pid=%d errno=%d", pid, ctypes.get_errno())
            return None
        return fd
    finally:
        os.close(pidfd)
