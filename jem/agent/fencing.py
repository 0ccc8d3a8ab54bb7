"""Fencing of a job's runs on this node: which launch the agent admits, and which
orders reach which run.

A run is named by the job's restart count (the controller's run number); each
launch also carries the node epoch of the registration it was sent under
(`epoch.py`). The agent admits each run of a job once, refuses a launch of an
earlier run than it has admitted or one sent under an earlier epoch, and keeps a
kill that overtook its launch (the two RPCs race) for that launch, which then
runs nothing. Killing the earlier run a later one replaces is the caller's
(`running.py`): this class only decides.

Not thread-safe: the caller holds its lock around every call.
"""

import collections
import enum

REMEMBERED_JOBS = 100_000   # job ids whose latest run is kept, to refuse stale launches
ANY_RUN = -1                # a kill that names no run: whichever run comes


class Admission(enum.Enum):
    """What becomes of a launch."""

    START = "start"                 # start it (after ending an earlier run held here, if any)
    REPEAT = "repeat"               # this run was admitted before: acknowledge, run nothing
    STALE = "stale"                 # an earlier run, or sent under an earlier epoch: refuse
    KILLED_EARLY = "killed early"   # a kill for it came first: report it killed, run nothing


class RunFence:
    def __init__(self):
        self._latest: collections.OrderedDict[int, int] = collections.OrderedDict()  # job id -> latest run admitted
        self._killed_early: dict[int, int] = {}   # job id -> the run a kill named (ANY_RUN: none)
        self._starting: dict[int, int] = {}       # job id -> the run being started
        self.epoch = 0                            # of the latest registration

    def admit(self, job_id: int, run: int, *, epoch: int) -> Admission:
        """Decide on a launch of `run` sent under `epoch` (0: unknown, not checked)."""
        if epoch and epoch < self.epoch:
            return Admission.STALE
        latest = self._latest.get(job_id, ANY_RUN)
        if latest > run:
            return Admission.STALE
        if latest == run:
            return Admission.REPEAT
        self.note(job_id, run)
        if self.take_early_kill(job_id, run):
            return Admission.KILLED_EARLY
        self._starting[job_id] = run
        return Admission.START

    def note(self, job_id: int, run: int) -> None:
        """`run` of the job is (or was) here: no earlier one may start (ANY_RUN: a run unknown)."""
        self._latest[job_id] = run
        self._latest.move_to_end(job_id)
        if len(self._latest) > REMEMBERED_JOBS:
            self._latest.popitem(last=False)

    def latest(self, job_id: int) -> int | None:
        return self._latest.get(job_id)

    def starting(self) -> dict[int, int]:
        """Job id -> the run being started, for each start under way."""
        return dict(self._starting)

    def end_start(self, job_id: int) -> None:
        """The start of the job's run is over (started, or failed)."""
        self._starting.pop(job_id, None)

    def take_early_kill(self, job_id: int, run: int) -> bool:
        """Whether a kill that came before `run` started names it (or a later run: this one is
        stale then, or none). A kill of this run, of none or of an earlier one is used up; one
        of a later run stays for that run's launch."""
        killed = self._killed_early.get(job_id)
        if killed is None:
            return False
        if killed == ANY_RUN or killed <= run:
            del self._killed_early[job_id]
        return killed == ANY_RUN or killed >= run

    def keep_kill(self, job_id: int, run: int | None) -> bool:
        """A kill of `run` (None: whichever) of a job not running here: keep it for a launch still
        to come or under way, when it names that run or a later one. Whether it was kept."""
        starting = self._starting.get(job_id)
        latest = self._latest.get(job_id)
        if starting is not None:
            is_kept = run is None or run >= starting
        else:
            is_kept = latest is None or (run is not None and run > latest)
        if is_kept:
            self._killed_early[job_id] = ANY_RUN if run is None else run
        return is_kept

    def keep_kill_of_later_run(self, job_id: int, run: int) -> None:
        """A kill of a later run than the one running here (which the caller ends): keep it for
        that run's launch."""
        self._killed_early[job_id] = run

    def forget_kill(self, job_id: int) -> None:
        self._killed_early.pop(job_id, None)
