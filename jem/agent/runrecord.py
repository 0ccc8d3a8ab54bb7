"""The records of one run of a batch job on this node, kept in the job's spool
directory so that the run outlives the agent: what was launched and who keeps it
(`run`, written by the job's keeper once the script started, from what the agent
ordered), how it ended (`status`, written by the keeper when the script exited;
`keeper.py`), why the agent killed it (`cause`), how long it was suspended
(`suspend`: its time limit's clock stops meanwhile) and its time limit as last
changed (`limit`: scontrol update TimeLimit= of a running job, AgentService.SetTimeLimit;
`run` keeps the limit it was launched with). Times are epoch seconds, CPU times
microseconds.
"""

import dataclasses
import os
from dataclasses import dataclass

from jem.agent.keeper import RUN_FILE, STATUS_FILE
from jem.agent.spool import Spool
from jem.model.execution import JobEnd

CAUSE_FILE = "cause"
SUSPEND_FILE = "suspend"
LIMIT_FILE = "limit"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What the agent launched: enough for a later agent to watch the run and report on it."""

    job_id: int
    restart_count: int              # which run of the job (the controller's fencing token)
    start_time: float
    time_limit_s: int | None
    kill_wait_s: int
    cpu_slots: tuple[int, ...]
    gpu_slots: tuple[int, ...]

    def as_dict(self) -> dict:
        """The agent's part of the `run` record, as the keeper writes it."""
        return {"job_id": self.job_id, "restart_count": self.restart_count, "start_time": self.start_time,
                "time_limit_s": self.time_limit_s, "kill_wait_s": self.kill_wait_s,
                "cpu_slots": list(self.cpu_slots), "gpu_slots": list(self.gpu_slots)}


@dataclass(frozen=True, slots=True)
class KeeperRecord:
    """Who keeps the run: the keeper's pid with its start time (clock ticks since boot), which
    tells it apart from a later process of the same pid, and the script's pid."""

    keeper_pid: int
    keeper_start: int | None
    job_pid: int


@dataclass(frozen=True, slots=True)
class EndStatus:
    """How the batch script ended, as its keeper reaped it."""

    wait_status: int
    user_us: int
    system_us: int
    max_rss_kib: int
    end_time: float

    @property
    def exit_code(self) -> int:
        return os.WEXITSTATUS(self.wait_status) if os.WIFEXITED(self.wait_status) else 0

    @property
    def exit_signal(self) -> int:
        return os.WTERMSIG(self.wait_status) if os.WIFSIGNALED(self.wait_status) else 0


def read_run(spool: Spool, job_id: int) -> tuple[RunRecord, KeeperRecord] | None:
    """The job's `run` record, with its time limit as last changed (`limit`) where it was; None
    when there is none (nothing was started) or it is damaged."""
    data = spool.read_job_record(job_id, RUN_FILE)
    if data is None or data.get("job_id") != job_id:
        return None
    try:
        run = RunRecord(job_id, int(data["restart_count"]), float(data["start_time"]),
                        None if data["time_limit_s"] is None else int(data["time_limit_s"]),
                        int(data["kill_wait_s"]), tuple(map(int, data["cpu_slots"])),
                        tuple(map(int, data["gpu_slots"])))
        keeper = KeeperRecord(int(data["keeper_pid"]), data["keeper_start"], int(data["job_pid"]))
    except (KeyError, TypeError, ValueError):
        return None
    changed = _read_limit(spool, job_id)
    if changed is not None and changed[0] == run.restart_count:
        run = dataclasses.replace(run, time_limit_s=changed[1])
    return run, keeper


def read_status(spool: Spool, job_id: int) -> EndStatus | None:
    data = spool.read_job_record(job_id, STATUS_FILE)
    try:
        return None if data is None else EndStatus(int(data["wait_status"]), int(data["user_us"]),
                                                   int(data["system_us"]), int(data["max_rss_kib"]),
                                                   float(data["end_time"]))
    except (KeyError, TypeError, ValueError):
        return None


def write_cause(spool: Spool, job_id: int, cause: JobEnd) -> None:
    spool.write_job_record(job_id, CAUSE_FILE, {"cause": cause.value})


def read_cause(spool: Spool, job_id: int) -> JobEnd | None:
    data = spool.read_job_record(job_id, CAUSE_FILE)
    try:
        return None if data is None else JobEnd(data["cause"])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class SuspendRecord:
    """How long the run has been suspended: `total_s` seconds in suspensions that ended, and,
    while it is suspended, since when (`since`; None while it runs). Its deadline is its start
    plus its time limit plus all of that."""

    total_s: float = 0.0
    since: float | None = None

    def suspended_s(self, now: float) -> float:
        """Seconds suspended in all, counting the suspension going on up to `now`."""
        return self.total_s + (max(0.0, now - self.since) if self.since is not None else 0.0)


def write_suspend(spool: Spool, job_id: int, record: SuspendRecord) -> None:
    spool.write_job_record(job_id, SUSPEND_FILE, {"total_s": record.total_s, "since": record.since})


def read_suspend(spool: Spool, job_id: int) -> SuspendRecord:
    """The run's suspend record; a run never suspended (or a damaged record) has none: zero."""
    data = spool.read_job_record(job_id, SUSPEND_FILE)
    try:
        return SuspendRecord() if data is None else SuspendRecord(
            float(data["total_s"]), None if data["since"] is None else float(data["since"]))
    except (KeyError, TypeError, ValueError):
        return SuspendRecord()


def write_limit(spool: Spool, job_id: int, restart_count: int, time_limit_s: int | None) -> None:
    """Record run `restart_count`'s time limit as changed (None: no limit); `read_run` returns it."""
    spool.write_job_record(job_id, LIMIT_FILE, {"restart_count": restart_count, "time_limit_s": time_limit_s})


def _read_limit(spool: Spool, job_id: int) -> tuple[int, int | None] | None:
    """(run, time limit) of the job's `limit` record; None without one (or a damaged one)."""
    data = spool.read_job_record(job_id, LIMIT_FILE)
    try:
        return None if data is None else (int(data["restart_count"]),
                                          None if data["time_limit_s"] is None else int(data["time_limit_s"]))
    except (KeyError, TypeError, ValueError):
        return None
