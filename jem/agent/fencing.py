"""Fencing of a job's runs on this node: which launch and step order the agent admits,
and which orders reach which run.

A run is named by the job's restart count (the controller's run number); each
launch and step order also carries the node epoch of the registration it was sent
under (`epoch.py`). The agent admits each run of a job once, refuses a launch of an
earlier run than it has admitted or one sent under an earlier epoch, and keeps a
kill that overtook its launch (the two RPCs race) for that launch, which then
runs nothing. Killing the earlier run a later one replaces is the caller's
(`running.py`): this class only decides.

A step order (srun) names the run it was decided for. On the job's batch node it
must be the run held there: its tasks join that run's cgroup, so an order for run R
that arrives after the job was requeued and started again as run R+1 never starts
tasks in R+1 (nor, once R ended, anywhere). On the job's other nodes the agent
holds at most the job's shared steps cgroup and knows the job's runs only from
step orders: it refuses one for an earlier run than the latest it has seen. Both
refusals, and an order under an earlier epoch, raise StaleRun.

Not thread-safe: the caller holds its lock around every call.
"""

import collections
import enum

from jem.model.errors import StaleRun

REMEMBERED_JOBS = 100_000   # job ids whose latest run is kept, to refuse stale launches and step orders
ANY_RUN = -1                # a kill that names no run: whichever run comes


class Admission(enum.Enum):
    """What becomes of a launch."""

    START = "start"                 # start it (after ending an earlier run held here, if any)
    REPEAT = "repeat"               # this run was admitted before: acknowledge, run nothing
    STALE = "stale"                 # an earlier run, or sent under an earlier epoch: refuse
    KILLED_EARLY = "killed early"   # a kill for it came first: report it killed, run nothing


class StepAdmission(enum.Enum):
    """Where a step order admitted by `RunFence.admit_step` runs its tasks."""

    JOIN = "join"     # in the job's batch run held here (its cgroup)
    SHARE = "share"   # in the job's shared steps cgroup: the batch script runs elsewhere
    WAIT = "wait"     # on the batch node, the run's launch is still to come or under way: ask again


class RunFence:
    def __init__(self):
        self._latest: collections.OrderedDict[int, int] = collections.OrderedDict()  # job id -> latest run admitted
        # job id -> the latest run step orders named, where the job's batch script runs elsewhere
        self._step_runs: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._killed_early: dict[int, int] = {}   # job id -> the run a kill named (ANY_RUN: none)
        self._starting: dict[int, int] = {}       # job id -> the run being started
        self.epoch = 0                            # of the latest registration

    def is_stale_epoch(self, epoch: int) -> bool:
        """Whether an order sent under `epoch` (0: unknown, not checked) predates the latest registration."""
        return bool(epoch) and epoch < self.epoch

    def admit(self, job_id: int, run: int, *, epoch: int) -> Admission:
        """Decide on a launch of `run` sent under `epoch` (0: unknown, not checked)."""
        if self.is_stale_epoch(epoch):
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

    def admit_step(self, job_id: int, run: int | None, *, epoch: int, held: int | None,
                   is_batch_node: bool) -> StepAdmission:
        """Decide on a step order for `run` of the job (None: an older controller's, no run
        checked) sent under `epoch` (0: unknown, not checked), where `held` is the run of the
        job's batch script running here (None: none) and `is_batch_node` says whether the
        order names this node as the job's first. Raises StaleRun for an order of a run over
        here, or under an earlier epoch (see the module docstring).

        On the batch node, an order for run 2 while run 1 is held, or while nothing of the
        job was admitted yet, waits (WAIT) for run 2's launch; once run 2 ended here (it was
        admitted, and is neither held nor starting), the order is stale."""
        if self.is_stale_epoch(epoch):
            raise StaleRun(f"order for job {job_id} sent under node epoch {epoch}; the node registered since "
                           f"(epoch {self.epoch})")
        if run is None:
            if held is not None:
                return StepAdmission.JOIN
            return StepAdmission.WAIT if is_batch_node else StepAdmission.SHARE
        latest = self._latest.get(job_id, ANY_RUN)
        if is_batch_node:
            if held == run:
                return StepAdmission.JOIN
            if latest < run or self._starting.get(job_id) == run:
                return StepAdmission.WAIT
            raise StaleRun(f"order for run {run} of job {job_id}; the node holds "
                           f"{'no run' if held is None else f'run {held}'} of it")
        seen = max(latest, self._step_runs.get(job_id, ANY_RUN))
        if seen > run:
            raise StaleRun(f"order for run {run} of job {job_id}; the node has seen run {seen} of it")
        _remember(self._step_runs, job_id, run)
        return StepAdmission.SHARE

    def note(self, job_id: int, run: int) -> None:
        """`run` of the job is (or was) here: no earlier one may start (ANY_RUN: a run unknown)."""
        _remember(self._latest, job_id, run)

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


def _remember(runs: collections.OrderedDict[int, int], job_id: int, run: int) -> None:
    """Record `run` as the job's latest in `runs`, which keeps the REMEMBERED_JOBS most recent jobs."""
    runs[job_id] = run
    runs.move_to_end(job_id)
    if len(runs) > REMEMBERED_JOBS:
        runs.popitem(last=False)
