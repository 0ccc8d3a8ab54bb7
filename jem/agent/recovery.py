"""What a restarted agent finds of the batch jobs its predecessor started, and
what became of each run, from the spool's run records (`runrecord.py`) and the
node's job cgroups.

- A run with a `status` ENDED while no agent watched it: the new agent
  reports how (exit code, signal, usage), and the job never runs again.
- A run whose keeper still lives (its pid, with the start time recorded) GOES
  ON: the new agent watches it (the script's pidfd, then the status the
  keeper writes), enforces its time limit and reports its end.
- Any other run is LOST: its keeper is gone without a word (killed, or the
  machine rebooted), or its start was cut short. What is left of it is killed
  and it is reported ended by the node's failure (requeued where allowed):
  only once nothing of it runs, so the next run never overlaps it.
- A job cgroup with no run record (an agent from before run records, or a
  start cut short before its keeper wrote the record) is LOST the same way,
  run unknown.
"""

import enum
import logging
import os
from dataclasses import dataclass

from jem.agent.cgroups import Cgroups, JobCgroup
from jem.agent.keeper import process_start_ticks
from jem.agent.runrecord import EndStatus, KeeperRecord, RunRecord, read_run, read_status
from jem.agent.spool import Spool

log = logging.getLogger(__name__)


class Fate(enum.Enum):
    ENDED = "ended"
    GOES_ON = "goes on"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class LeftRun:
    """One job a predecessor left on this node."""

    job_id: int
    fate: Fate
    run: RunRecord | None             # None: a cgroup without a record
    cgroup: JobCgroup | None
    keeper: KeeperRecord | None = None
    keeper_pidfd: int | None = None   # GOES_ON: readable once the keeper has exited
    job_pidfd: int | None = None      # GOES_ON: readable once the script has exited (None: it has)
    status: EndStatus | None = None   # ENDED


def find_left_runs(spool: Spool, cgroups: Cgroups | None) -> list[LeftRun]:
    """Every job the spool or the job cgroups hold, with its fate (see the module docstring)."""
    found_cgroups = cgroups.existing_jobs() if cgroups is not None else {}
    left = []
    for job_id in sorted(set(spool.job_ids()) | set(found_cgroups)):
        cgroup = found_cgroups.get(job_id)
        found = read_run(spool, job_id)
        if found is None:
            if cgroup is not None:
                left.append(LeftRun(job_id, Fate.LOST, None, cgroup))
            else:
                spool.remove_job(job_id)   # a script written, nothing started
            continue
        run, keeper = found
        keeper_pidfd = open_live(keeper.keeper_pid, keeper.keeper_start)
        job_pidfd = open_child(keeper.job_pid, parent=keeper.keeper_pid) if keeper_pidfd is not None else None
        status = read_status(spool, job_id)   # after the keeper's check: a keeper writes it before it exits
        if status is not None or keeper_pidfd is None:
            for fd in (keeper_pidfd, job_pidfd):
                if fd is not None:
                    os.close(fd)
        if status is not None:
            left.append(LeftRun(job_id, Fate.ENDED, run, cgroup, keeper, status=status))
        elif keeper_pidfd is not None:
            left.append(LeftRun(job_id, Fate.GOES_ON, run, cgroup, keeper, keeper_pidfd=keeper_pidfd,
                                job_pidfd=job_pidfd))
        else:
            left.append(LeftRun(job_id, Fate.LOST, run, cgroup, keeper))
    return left


def open_live(pid: int, start_ticks: int | None) -> int | None:
    """A pidfd of the process `pid` that started at `start_ticks` if it still runs (or is a
    zombie), else None. The pidfd then holds on to that process whatever happens to its pid."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    if not is_same_process(pid, start_ticks):
        os.close(pidfd)
        return None
    return pidfd


def open_child(pid: int, *, parent: int) -> int | None:
    """A pidfd of `pid` if it is (still) a child of the live process `parent`, else None. A
    keeper's script is its child until the keeper reaps it, and a keeper whose agent is gone
    starts no other child: a child of it with that pid is that script."""
    if parent_pid(pid) != parent:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    if parent_pid(pid) != parent:   # reaped (and the pid taken) in between
        os.close(pidfd)
        return None
    return pidfd


def is_same_process(pid: int, start_ticks: int | None) -> bool:
    """Whether `pid` is still the process that started at `start_ticks`."""
    return start_ticks is not None and process_start_ticks(pid) == start_ticks


def parent_pid(pid: int) -> int | None:
    """The parent of process `pid` (a zombie's too), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2:].split()[1])
