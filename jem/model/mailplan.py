"""Which mails a committed job event calls for, decided as slurmctld 22.05 decides them.

- BEGIN when a job starts; for an array without ARRAY_TASKS, one summary when its first task
  starts (node_scheduler.c's _first_array_task: it alone runs and none has ended).
- At a job's end (job_completion_logger): FAIL for FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY
  and PREEMPTED; END for COMPLETED and CANCELLED (so END alone is silent about a failure).
  For an array without ARRAY_TASKS, nothing until its last task ends, then one summary:
  REQUEUE if a task was requeued, then FAIL if a task exited non-zero, else END.
- REQUEUE when a job goes back to the queue (with its last run's time).
- TIME_LIMIT_50/80/90 and TIME_LIMIT once each while the job runs, when that share of its
  time limit has passed (time suspended does not count); those still owed when the job times
  out go out just before its end mail, 100 first, as Slurm's time check sends them.
- INVALID_DEPEND when the job is cancelled because its dependency can never be met.

`MailPlan` keeps what that takes between events (thread-safe): the runs of jobs that asked
for mail, and each array's tally. It is memory only: a controller restarted forgets the runs
(their time-limit mails are not sent) and the tallies of arrays then partly ended.
"""

import threading
from dataclasses import dataclass, field

from jem.model.mail import TIME_LIMIT_SHARES, MailType
from jem.model.mailmessage import ArraySummary, mail_status
from jem.model.notice import JobNotice
from jem.model.reasons import JobReason
from jem.model.states import JobEvent, JobState

FAIL_STATES = frozenset({JobState.FAILED, JobState.TIMEOUT, JobState.NODE_FAIL, JobState.OUT_OF_MEMORY,
                         JobState.PREEMPTED, JobState.BOOT_FAIL, JobState.DEADLINE})
END_STATES = frozenset({JobState.COMPLETED, JobState.CANCELLED})
SIGKILL_STATUS = 9   # what an array task that ended otherwise than COMPLETED with status 0 counts as


@dataclass(frozen=True, slots=True)
class PlannedMail:
    """A mail to send: of `kind`, about `notice`'s job, or (is_summary) its whole array."""

    notice: JobNotice
    kind: MailType
    is_summary: bool = False
    summary: ArraySummary | None = None     # a summary's outcome (END, FAIL)
    started: float | None = None            # the run told of, when the notice no longer holds it
    ended: float | None = None
    now: float = 0.0                        # when it was decided (time-limit mails' run time)


@dataclass(slots=True)
class _Run:
    """A running job that asked for mail: its start, time suspended, and time-limit mails owed."""

    notice: JobNotice
    start: float
    time_limit_s: int | None
    owed: list[tuple[MailType, int]]          # (kind, percent) not yet sent, 100 first
    suspended_since: float | None = None
    suspended_s: float = 0.0

    def elapsed(self, now: float) -> float:
        stopped = self.suspended_s + (now - self.suspended_since if self.suspended_since is not None else 0.0)
        return now - self.start - stopped

    def due(self, now: float) -> list[tuple[MailType, int]]:
        if self.time_limit_s is None or self.suspended_since is not None:
            return []
        elapsed = self.elapsed(now)
        return [(kind, percent) for kind, percent in self.owed if elapsed * 100 >= self.time_limit_s * percent]


@dataclass(slots=True)
class _ArrayTally:
    """An array's tasks so far (Slurm's array_recs counts and exit codes)."""

    size: int
    record: JobNotice | None = None          # the array's own record, as last committed
    ended: dict[int, int] = field(default_factory=dict)   # record id -> tasks it ended for
    n_running: int = 0
    n_completed: int = 0                     # ends and requeues (Slurm's tot_comp_tasks)
    min_status: int = 0
    max_status: int = 0
    has_ended: bool = False
    has_requeued: bool = False


class MailPlan:
    def __init__(self):
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}
        self._arrays: dict[int, _ArrayTally] = {}

    def plan(self, notice: JobNotice) -> list[PlannedMail]:
        """The mails `notice` calls for, in the order Slurm sends them."""
        if not notice.mail_types:
            return []
        with self._lock:
            tally = self._tally(notice)
            if notice.event is JobEvent.START:
                return self._started(notice, tally)
            if notice.event is JobEvent.REQUEUE:
                return self._requeued(notice, tally)
            if notice.event in (JobEvent.SUSPEND, JobEvent.RESUME, JobEvent.UPDATE):
                self._changed(notice)
                return []
            if notice.state.is_terminal:
                return self._ended(notice, tally)
            return []

    def due(self, now: float) -> list[PlannedMail]:
        """The time-limit mails due by `now` (each once)."""
        mails = []
        with self._lock:
            for run in self._runs.values():
                for kind, percent in run.due(now):
                    run.owed.remove((kind, percent))
                    mails.append(self._mail(run.notice, kind, tally=self._tally(run.notice), now=now))
        return mails

    def has_runs(self) -> bool:
        with self._lock:
            return any(run.owed for run in self._runs.values())

    def _tally(self, notice: JobNotice) -> _ArrayTally | None:
        """The array's tally, when its mails are summaries (an array without ARRAY_TASKS). Lock held."""
        if not notice.array_job_id or MailType.ARRAY_TASKS in notice.mail_types:
            return None
        tally = self._arrays.get(notice.array_job_id)
        if tally is None:
            tally = self._arrays[notice.array_job_id] = _ArrayTally(notice.array_size)
        if notice.job_id == notice.array_job_id:
            tally.record = notice
        return tally

    def _mail(self, notice: JobNotice, kind: MailType, *, tally: _ArrayTally | None, **run) -> PlannedMail:
        if tally is None:
            return PlannedMail(notice, kind, **run)
        return PlannedMail(tally.record or notice, kind, is_summary=True, now=run.get("now", 0.0))

    def _started(self, notice: JobNotice, tally: _ArrayTally | None) -> list[PlannedMail]:
        owed = [(kind, percent) for kind, percent in TIME_LIMIT_SHARES if kind in notice.mail_types]
        self._runs[notice.job_id] = _Run(notice, notice.start_time or notice.time, notice.time_limit_s, owed)
        if tally is not None:
            tally.n_running += 1
            if tally.n_running != 1 or tally.n_completed:
                return []
        return [self._mail(notice, MailType.BEGIN, tally=tally)] if MailType.BEGIN in notice.mail_types else []

    def _changed(self, notice: JobNotice) -> None:
        run = self._runs.get(notice.job_id)
        if run is None:
            return
        run.notice, run.time_limit_s = notice, notice.time_limit_s
        if notice.event is JobEvent.SUSPEND and run.suspended_since is None:
            run.suspended_since = notice.time
        elif notice.event is JobEvent.RESUME and run.suspended_since is not None:
            run.suspended_s += notice.time - run.suspended_since
            run.suspended_since = None

    def _requeued(self, notice: JobNotice, tally: _ArrayTally | None) -> list[PlannedMail]:
        run = self._runs.pop(notice.job_id, None)
        if tally is not None:
            tally.has_requeued = True
            tally.n_running -= run is not None
            tally.n_completed += 1
            tally.ended.pop(notice.job_id, None)
            return []
        if MailType.REQUEUE not in notice.mail_types:
            return []
        return [PlannedMail(notice, MailType.REQUEUE, started=run.start if run else None,
                            ended=notice.time if run else None)]

    def _ended(self, notice: JobNotice, tally: _ArrayTally | None) -> list[PlannedMail]:
        run = self._runs.pop(notice.job_id, None)
        types = notice.mail_types
        mails = []
        if notice.event is JobEvent.TIMEOUT and run is not None:
            mails += [self._mail(notice, kind, tally=tally, now=notice.time) for kind, _ in run.owed]
        if (notice.event is JobEvent.CANCEL and notice.reason is JobReason.DEPENDENCY_NEVER_SATISFIED
                and MailType.INVALID_DEPEND in types):
            mails.append(self._mail(notice, MailType.INVALID_DEPEND, tally=tally))
        if tally is None:
            if MailType.FAIL in types and notice.state in FAIL_STATES:
                mails.append(PlannedMail(notice, MailType.FAIL))
            if MailType.END in types and notice.state in END_STATES:
                mails.append(PlannedMail(notice, MailType.END))
            return mails
        return mails + self._array_ended(notice, tally, has_run=run is not None or notice.start_time is not None)

    def _array_ended(self, notice: JobNotice, tally: _ArrayTally, *, has_run: bool) -> list[PlannedMail]:
        status = mail_status(notice)
        if status == 0 and notice.state is not JobState.COMPLETED:
            status = SIGKILL_STATUS
        if tally.has_ended:
            tally.min_status, tally.max_status = min(tally.min_status, status), max(tally.max_status, status)
        else:
            tally.min_status = tally.max_status = status
            tally.has_ended = True
        tally.n_running -= has_run and tally.n_running > 0
        tally.n_completed += 1
        tally.ended[notice.job_id] = notice.n_array_tasks
        if sum(tally.ended.values()) < tally.size:
            return []
        del self._arrays[notice.array_job_id]
        record = tally.record or notice
        summary = ArraySummary(tally.min_status, tally.max_status, tally.has_requeued, record.state)
        types, mails = notice.mail_types, []
        if tally.has_requeued and MailType.REQUEUE in types:
            mails.append(PlannedMail(record, MailType.REQUEUE, is_summary=True, summary=summary))
        has_failed = tally.max_status & 0x7F == 0 and tally.max_status >> 8 != 0
        if has_failed and MailType.FAIL in types:
            mails.append(PlannedMail(record, MailType.FAIL, is_summary=True, summary=summary))
        elif MailType.END in types:
            mails.append(PlannedMail(record, MailType.END, is_summary=True, summary=summary))
        return mails
