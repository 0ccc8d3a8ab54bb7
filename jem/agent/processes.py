"""A job's processes on this node, seen from outside: signal its process tree, kill
everything left in its cgroup, wait for a pidfd or pipe to turn readable, and tell
whether a pid still leads the job's session.
"""

import logging
import os
import select
import signal
import time

import psutil

from jem.agent.cgroups import JobCgroup

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 10.0      # wait for a killed job's last process to go


def wait_readable(fd: int, timeout_s: float | None) -> bool:
    """Wait until `fd` is readable (a pidfd: its process exited; a pipe: its writer closed it)."""
    waiter = select.poll()
    waiter.register(fd, select.POLLIN)
    return bool(waiter.poll(None if timeout_s is None else timeout_s * 1000))


def drain_cgroup(cgroup: JobCgroup, *, exclude: int | None) -> int:
    """SIGKILL every process of `cgroup` (but the zombie `exclude`) until none is left. A
    suspended cgroup is thawed first: in v1 a frozen process does not die until it thaws."""
    if cgroup.is_suspended:
        cgroup.resume()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    killed = 0
    while time.monotonic() < deadline:
        alive = [p for p in cgroup.pids() if p != exclude]
        if not alive:
            return killed
        killed += cgroup.signal_all(signal.SIGKILL)
        time.sleep(0.01)
    log.warning("job processes survive SIGKILL cgroup=%s", cgroup.path)
    return killed


def _signal_group(pgid: int, signum: int) -> int:
    try:
        os.killpg(pgid, signum)
        return 1
    except (ProcessLookupError, PermissionError):
        return 0


def signal_tree(pid: int, signum: int) -> int:
    """Signal the job's process group and every descendant of its script, including
    ones that left the group. Returns how many processes were signalled."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    count = _signal_group(pid, signum)
    for process in descendants:
        try:
            if os.getpgid(process.pid) != pid:
                process.send_signal(signum)
                count += 1
        except (psutil.Error, ProcessLookupError):
            pass
    return count


def leads_session_of(pid: int, job_dir: str) -> bool:
    """Whether `pid` still leads a session that runs a script from `job_dir` (a job's spool
    directory). Without a keeper to vouch for a job's pid, and without a cgroup, nothing
    else tells the job from a later process given the same pid."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        return os.getsid(pid) == pid and os.fsencode(job_dir) in cmdline
    except OSError:
        return False
