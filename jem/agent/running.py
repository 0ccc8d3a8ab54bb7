"""The batch jobs running on this node: launch as the user, confine, watch, signal,
time-limit, report their ends; and the fencing of each job's runs.

Each job's batch script runs under the agent's keeper (`keeper.py`), a small
process that is its parent, outlives the agent and records how the script ended
in the job's spool directory (`runrecord.py`), as Slurm's slurmstepd outlives
slurmd. The script runs in a new session as the submitting user (when the agent
is root), inside its own cgroup when the node has them, from its first
instruction on. Signals and kills go to every process of the cgroup (frozen
while signalled); without cgroups, to the process group and the script's
descendants.

A waiter thread per job waits until the keeper has recorded the job's end (its
`done` pipe closes), reads the status, kills whatever the job left in its
cgroup, reads usage and OOM kills from the cgroup, removes it and hands the
report to the reporter. A restarted agent finds the runs its predecessor started
(`recovery.py`): it watches those that go on (the script's pidfd, then the
status its keeper writes), and reports those that ended meanwhile.

Fencing (`fencing.py`): each run of a job is its restart count (the
controller's run number), and each launch carries the node epoch of the
registration it was sent under (`epoch.py`). A run is started once; a launch of
an earlier run than the agent holds, or sent under an earlier epoch, is refused
(not run, not reported: the controller finds it missing); a later run of a job
the agent holds first kills the earlier one and waits until it has ended; an
order (signal, kill) for a run the agent does not hold reaches nothing, and a
step order for one is refused (`admit_step`).

Suspension (`suspension.py`): a run may be frozen and thawed (scontrol suspend,
PreemptMode SUSPEND); its time limit's timer stops meanwhile and restarts with
the deadline moved by the time it was suspended. A kill thaws it first, and a
kill the controller gives a cause for writes Slurm's `*** JOB N ON node
CANCELLED AT ... ***` line into the job's stderr first (`joblog.py`), as does
the time limit. A preemptor runs on slots of the job it suspended: a run that
ends frees only the slots no other run holds.

Time limit: a run's limit may change while it runs or is suspended (scontrol
update TimeLimit=, `set_time_limit`): the new one is recorded in the spool
(`runrecord.write_limit`) and the timer set again for start + new limit + the
time suspended; a deadline passed already kills the run at once, with the time
limit's stderr line.

CPUs and GPUs: the controller gives each job concrete CPU and GPU indices on
the node (lowest free first); the agent maps CPU indices onto the machine's CPUs
(round robin when a node declares more CPUs than it has) for the cpuset, and
GPU indices onto device files. A launch without indices (an older controller)
gets the lowest free slots the agent knows of.

The script waits in the node's spool (`spool.py`), which is checked to be writable
only by the agent and is handled by directory descriptors without following any
link. What root reads back from it lives where the job's user cannot write.
"""

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from jem.agent import propagation, runrecord, suspension
from jem.agent.cgroups import Cgroups, CgroupLimits, JobCgroup, kill_each
from jem.agent.procusage import TreeUsage, tree_usage
from jem.agent.confined import Credentials, LaunchError, StartFiles, credentials_for, start_line
from jem.agent.environment import job_environment
from jem.agent.epoch import next_epoch
from jem.agent.fencing import ANY_RUN, Admission, RunFence, StepAdmission
from jem.agent.joblog import KillReason, kill_line, write_to_job_stderr
from jem.agent.keepers import Keepers, StartOrder
from jem.agent.processes import DRAIN_TIMEOUT_S, drain_cgroup, leads_session_of, signal_tree, wait_readable
from jem.agent.recovery import Fate, LeftRun, find_left_runs
from jem.agent.runrecord import EndStatus, RunRecord, SuspendRecord
from jem.agent.spool import Spool
from jem.model.execution import JobEnd, JobReport, Launch, SignalScope
from jem.model.filenames import DEFAULT_ARRAY_STDOUT, DEFAULT_STDOUT, PatternValues, expand_pattern
from jem.model.job import JobUsage
from jem.model.resources import Resources

log = logging.getLogger(__name__)

STATUS_WAIT_S = (0.001, 0.1)   # first and longest wait for a keeper's status after the script's exit
EARLIER_RUN_TIMEOUT_S = DRAIN_TIMEOUT_S + 5.0   # wait for an earlier run to end before the next starts
Run = tuple[int, int]       # (job id, restart count)


@dataclass
class RunningJob:
    """One run of a batch job here: its record, its script's pid (process group and
    session), and what tells its end: the keeper's `done` pipe (a job this agent
    started), or else the script's pidfd and then the keeper's status (a job taken over)."""

    run: RunRecord
    job_pid: int
    cgroup: JobCgroup | None
    done_fd: int | None = None        # end of file once the keeper has recorded the end
    job_pidfd: int | None = None      # readable once the script has exited
    keeper_pidfd: int | None = None   # readable once the keeper has exited
    end_cause: JobEnd | None = None
    timers: list[threading.Timer] = field(default_factory=list)
    limit_timer: threading.Timer | None = None      # the time limit's: stopped while suspended
    suspend: SuspendRecord = field(default_factory=SuspendRecord)   # (suspension.py)

    @property
    def job_id(self) -> int:
        return self.run.job_id

    def signal_all(self, signum: int) -> int:
        """Signal every process of the job (none once its cgroup is gone: a kill's SIGKILL timer
        may fire just after the job ended and its cgroup was removed)."""
        if self.cgroup is not None:
            try:
                return self.cgroup.signal_all(signum)
            except FileNotFoundError:
                return 0
        return signal_tree(self.job_pid, signum)


class RunningJobs:
    def __init__(self, *, node_name: str, spool_dir: str, report: Callable[[JobReport], None],
                 n_cpus: int = 1, n_gpus: int = 0, gpu_devices: tuple[str, ...] = (), cgroups: Cgroups | None = None,
                 clock=time.time):
        self._node_name = node_name
        self._cgroups = cgroups
        self._machine_cpus = sorted(os.sched_getaffinity(0))
        self._free_cpu_slots = set(range(n_cpus))
        self._free_gpu_slots = set(range(n_gpus))
        # GPU slot i is device file gpu_devices[i]; jobs may not open the others' files.
        self._gpu_devices = gpu_devices if len(gpu_devices) >= n_gpus else ()
        # Checked from / down and held open; raises UnsafeSpool (an OSError) where a user could write.
        self._spool = Spool(spool_dir)
        self._keepers = Keepers(self._spool.path)
        self._report = report
        self._clock = clock
        self._lock = threading.Lock()
        self._unremoved: list[JobCgroup] = []   # job cgroups a late process held when they were removed
        self._ended = threading.Condition(self._lock)   # a job left `_jobs`
        self._jobs: dict[int, RunningJob] = {}
        self._fence = RunFence()   # under _lock
        self._is_closed = False
        self._is_root = os.geteuid() == 0
        # Writing a script and forking must not overlap: a child forked by another
        # thread (a step task's) holds the script's write descriptor until it execs, and
        # exec of the script then fails with ETXTBSY ("Text file busy").
        self._spawn_lock = threading.Lock()
        self._suspend_lock = threading.Lock()   # one suspend, resume or kill's thaw at a time
        self._early_reasons: dict[int, KillReason] = {}   # job id -> why a kill kept for its launch came

    def cgroup_usages(self) -> list:
        """What each running job's cgroup has used so far (CgroupUsage), for the metrics: the cgroups
        copied under the lock, read after it; a job that ended meanwhile is left out."""
        with self._lock:
            cgroups = [job.cgroup for job in self._jobs.values() if job.cgroup is not None]
        usages = []
        for cgroup in cgroups:
            try:
                usages.append(cgroup.usage())
            except OSError:
                pass
        return usages

    def running_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._jobs)

    def held_runs(self) -> list[Run]:
        """The runs running here or being started."""
        with self._lock:
            return self._held_runs()

    def _held_runs(self) -> list[Run]:
        runs = {job_id: job.run.restart_count for job_id, job in self._jobs.items()}
        runs.update(self._fence.starting())
        return sorted(runs.items())

    def begin_registration(self) -> tuple[int, list[Run]]:
        """Move to a new node epoch and list the runs held, in one step: a launch admitted
        before is in the list, one sent under an earlier epoch after it is refused."""
        epoch = next_epoch(self._spool)
        with self._lock:
            self._fence.epoch = epoch
            return epoch, self._held_runs()

    def refuse(self, launch: Launch, why: str) -> None:
        """Run nothing for `launch` and report it failed to launch, saying `why` (the controller
        ends the job FAILED with that detail; the node stays up)."""
        log.warning("launch refused job_id=%d why=%s", launch.job_id, why)
        now = self._clock()
        self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.LAUNCH_FAILED, exit_code=1, start_time=now,
                               end_time=now, detail=why, restart_count=launch.restart_count))

    def launch(self, launch: Launch, *, epoch: int = 0) -> bool:
        """Start `launch` unless this agent has started this run before; refuse it (False)
        when it is older than what the agent holds (see the module docstring). `epoch`:
        the node epoch it was sent under (0: unknown, an older controller)."""
        job_id, run = launch.job_id, launch.restart_count
        with self._lock:
            if self._is_closed:
                self._report(JobReport(job_id, has_ended=True, end=JobEnd.NODE_SHUTDOWN,
                                       detail="the node's agent is shutting down", restart_count=run))
                return True
            latest, node_epoch = self._fence.latest(job_id), self._fence.epoch
            admission = self._fence.admit(job_id, run, epoch=epoch)
            earlier = self._jobs.get(job_id)
        if admission is Admission.STALE:
            log.warning("launch refused job_id=%d run=%d epoch=%d why=stale: the node holds run %s at epoch %d",
                        job_id, run, epoch, latest, node_epoch)
            return False
        if admission is Admission.REPEAT:
            return True
        killed_early = admission is Admission.KILLED_EARLY
        if earlier is not None and not killed_early and not self._end_earlier_run(earlier, run):
            self._fail_launch(launch, "an earlier run of the job did not end", self._clock())
            return True
        with self._lock:
            cpu_slots = _claim(self._free_cpu_slots, launch.cpu_ids, launch.alloc.cpus)
            gpu_slots = _claim(self._free_gpu_slots, launch.gpu_ids, launch.alloc.gpus)
        t_start = self._clock()
        if killed_early:
            with self._lock:
                self._early_reasons.pop(job_id, None)
            self._release(cpu_slots, gpu_slots, owner=job_id)
            self._report(JobReport(job_id, has_ended=True, end=JobEnd.KILLED, start_time=t_start,
                                   end_time=t_start, detail="killed before it started", restart_count=run))
            return True
        record = RunRecord(job_id, run, t_start, launch.time_limit_s, launch.kill_wait_s, cpu_slots, gpu_slots)
        cgroup = None
        try:
            cgroup = self._make_cgroup(launch, cpu_slots, gpu_slots)
            with self._spawn_lock:
                job = self._spawn(launch, record, cgroup)
        except Exception as exc:   # whatever the job's own request makes fail ends the job, never the node
            if not isinstance(exc, LaunchError):
                log.exception("launch failed unexpectedly job_id=%d", job_id)
                exc = LaunchError(f"cannot start job: {exc}")
            log.warning("launch failed job_id=%d reason=%s", job_id, exc)
            self._spool.remove_job(job_id)
            if cgroup is not None:
                drain_cgroup(cgroup, exclude=None)
                self._remove_cgroup(cgroup)
            self._release(cpu_slots, gpu_slots, owner=job_id)
            self._fail_launch(launch, str(exc), t_start)
            return True
        with self._lock:
            self._jobs[job_id] = job
            self._fence.end_start(job_id)
            killed_while_launching = self._fence.take_early_kill(job_id, run)
        if killed_while_launching:
            with self._lock:
                reason = self._early_reasons.pop(job_id, None)
            self.kill(job, JobEnd.KILLED, kill_wait_s=launch.kill_wait_s, reason=reason)
        self._watch(job)
        log.debug("job started job_id=%d run=%d pid=%d", job_id, run, job.job_pid)
        return True

    def _fail_launch(self, launch: Launch, why: str, t_start: float) -> None:
        with self._lock:
            self._fence.end_start(launch.job_id)
            self._fence.forget_kill(launch.job_id)
            self._early_reasons.pop(launch.job_id, None)
        self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.LAUNCH_FAILED, exit_code=1,
                               start_time=t_start, end_time=self._clock(), detail=why,
                               restart_count=launch.restart_count))

    def _end_earlier_run(self, earlier: RunningJob, run: int) -> bool:
        """Kill the earlier run `earlier` of a job whose run `run` arrived, and wait until it
        has ended (reported, cgroup and spool gone). False if it would not end."""
        log.warning("killing an earlier run job_id=%d run=%d newer_run=%d", earlier.job_id,
                    earlier.run.restart_count, run)
        self._set_cause(earlier, JobEnd.KILLED)
        with self._suspend_lock:
            suspension.thaw(earlier, self._spool, now=self._clock())
        earlier.signal_all(signal.SIGCONT)
        earlier.signal_all(signal.SIGKILL)
        with self._ended:
            return self._ended.wait_for(lambda: self._jobs.get(earlier.job_id) is not earlier,
                                        timeout=EARLIER_RUN_TIMEOUT_S)

    def signal(self, job_id: int, signum: int, *, kill_wait_s: int, scope: SignalScope = SignalScope.FULL,
               restart_count: int | None = None, reason: KillReason = KillReason.CANCEL) -> int | None:
        """Send `signum` to the batch script's processes `scope` names (0: kill the job, for
        `reason`); its steps' tasks are StepTasks' (STEPS signals nothing here). `restart_count`:
        the run the order is for (None: whichever runs). None if that run does not run here."""
        with self._lock:
            job, earlier, is_kept = self._target(job_id, signum, restart_count)
        if earlier is not None:
            self.kill(earlier, JobEnd.KILLED, kill_wait_s=kill_wait_s)
            return 0
        if job is None:
            if is_kept:   # (for the launch it waits for: its line says why too)
                with self._lock:
                    self._early_reasons[job_id] = reason
            return 0 if is_kept else None
        if signum == 0:
            return self.kill(job, JobEnd.KILLED, kill_wait_s=kill_wait_s, reason=reason)
        if scope is SignalScope.BATCH:
            return kill_each([job.job_pid], signum)
        if scope is SignalScope.STEPS:
            return 0
        return job.signal_all(signum)

    def _target(self, job_id: int, signum: int,
                run: int | None) -> tuple[RunningJob | None, RunningJob | None, bool]:
        """(the job an order for `run` reaches, an earlier run it ends instead, whether it is
        a kill kept for a launch still to come or under way). Lock held."""
        job = self._jobs.get(job_id)
        if job is not None and run is not None and run != job.run.restart_count:
            if run < job.run.restart_count or signum != 0:
                return None, None, False   # an order for a run this agent does not hold
            self._fence.keep_kill_of_later_run(job_id, run)   # the earlier one here is stale
            return None, job, False
        if job is not None or signum != 0:
            return job, None, False
        return None, None, self._fence.keep_kill(job_id, run)

    def kill(self, job: RunningJob, cause: JobEnd, *, kill_wait_s: int, reason: KillReason | None = None) -> int:
        """SIGCONT+SIGTERM the whole job now, SIGKILL after `kill_wait_s` (Slurm's KillWait). A
        suspended job is thawed first (frozen, it would neither handle SIGTERM nor, in v1, die).
        With a `reason`, the first kill writes Slurm's `*** JOB N ON node CANCELLED AT ... ***`
        line into the job's stderr (`joblog.py`)."""
        is_first = job.end_cause is None
        self._set_cause(job, cause)
        if is_first and reason is not None:
            write_to_job_stderr(job.job_pid, kill_line(job.job_id, self._node_name, self._clock(), reason),
                                not_into=self._spool.start_errors_file(job.job_id))
        with self._suspend_lock:
            suspension.thaw(job, self._spool, now=self._clock())
        job.signal_all(signal.SIGCONT)
        n = job.signal_all(signal.SIGTERM)
        self._start_timer(job, kill_wait_s, lambda j: j.signal_all(signal.SIGKILL))
        return n

    def _set_cause(self, job: RunningJob, cause: JobEnd) -> None:
        """Why the agent ends the job (the first reason wins), kept in the spool for a later agent."""
        if job.end_cause is not None:
            return
        job.end_cause = cause
        try:
            runrecord.write_cause(self._spool, job.job_id, cause)
        except OSError as exc:
            log.warning("kill cause not recorded job_id=%d error=%s", job.job_id, exc)

    def suspend(self, job_id: int, *, restart_count: int | None, resume: bool) -> float | None:
        """Suspend (or resume) the run of the job held here (`suspension.py`); `restart_count`:
        the run the order is for (None: whichever runs). The seconds the run has been suspended
        in all, or None if that run does not run here. A job being killed is never frozen again."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (restart_count is not None and restart_count != job.run.restart_count):
            return None
        now = self._clock()
        with self._suspend_lock:
            if resume:
                if suspension.thaw(job, self._spool, now=now) and job.end_cause is None:
                    self._arm_time_limit(job)
            elif job.end_cause is None and suspension.freeze(job, self._spool, now=now):
                if job.limit_timer is not None:
                    job.limit_timer.cancel()
                    job.limit_timer = None
            return job.suspend.suspended_s(now)

    def usage_so_far(self, job_id: int, *, restart_count: int | None) -> TreeUsage | None:
        """What the batch script of the run held here (its process tree: not the step tasks that
        share its cgroup) has used so far (sstat's "batch" step); None if that run does not run here."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (restart_count is not None and restart_count != job.run.restart_count):
            return None
        return tree_usage(job.job_pid)

    def set_time_limit(self, job_id: int, *, restart_count: int | None, time_limit_s: int | None) -> bool | None:
        """Give the run of the job held here a new time limit (None: none), counted from its start
        as before: recorded in its spool (a later agent keeps it), and its timer set again unless it
        is suspended (a resume sets it) or being killed. `restart_count`: the run the order is for
        (None: whichever runs). Whether the new deadline has passed already (the timer then kills
        it at once, as its time limit), or None if that run does not run here."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (restart_count is not None and restart_count != job.run.restart_count):
            return None
        with self._suspend_lock:   # (a suspend or resume re-arms from the run's limit: one at a time)
            job.run = replace(job.run, time_limit_s=time_limit_s)
            try:
                runrecord.write_limit(self._spool, job_id, job.run.restart_count, time_limit_s)
            except OSError as exc:   # (the job goes on: only an agent restarted meanwhile would lose it)
                log.warning("time limit not recorded job_id=%d error=%s", job_id, exc)
            log.info("time limit changed job_id=%d run=%d time_limit_s=%s", job_id, job.run.restart_count,
                     time_limit_s)
            if job.end_cause is not None or job.suspend.since is not None:
                return False
            if job.limit_timer is not None:
                job.limit_timer.cancel()
                job.limit_timer = None
            self._arm_time_limit(job)
            deadline = suspension.deadline(job)
            return deadline is not None and deadline <= self._clock()

    def shut_down(self, *, kill_wait_s: int) -> None:
        """Refuse new launches, let launches under way finish, then kill every job
        (reported as ended by the node's shutdown)."""
        with self._lock:
            self._is_closed = True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if not self._fence.starting():
                    break
            time.sleep(0.01)
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.kill(job, JobEnd.NODE_SHUTDOWN, kill_wait_s=kill_wait_s)

    def wait_all(self, timeout_s: float) -> bool:
        with self._ended:
            return self._ended.wait_for(lambda: not self._jobs, timeout=timeout_s)

    def close(self) -> None:
        """Let the keeper go: it takes no more jobs, and keeps those running until they end."""
        self._keepers.close()
        self.retry_cgroups()

    def retry_cgroups(self) -> int:
        """Kill what is left in the job cgroups that could not be removed, and remove them again
        (the agent calls this with each heartbeat); returns how many are still there."""
        with self._lock:
            pending, self._unremoved = self._unremoved, []
        for cgroup in pending:
            drain_cgroup(cgroup, exclude=None)
            self._remove_cgroup(cgroup)
        with self._lock:
            return len(self._unremoved)

    def _remove_cgroup(self, cgroup: JobCgroup) -> None:
        """Remove a drained job cgroup. One that a process still holds (a step's task that was
        joining it as the job ended) is kept, and removed again by `retry_cgroups`."""
        if not cgroup.remove():
            with self._lock:
                self._unremoved.append(cgroup)

    # ------------------------------------------------------------ after a restart

    def recover(self) -> list[LeftRun]:
        """At agent start: take over the runs a predecessor left (see `recovery.py`): watch
        those that go on, report those that ended, kill and report those lost. Returns them."""
        if self._cgroups is not None:
            for cgroup in self._cgroups.existing_jobs("steps").values():   # their streams broke with the agent
                drain_cgroup(cgroup, exclude=None)
                self._remove_cgroup(cgroup)
        left = find_left_runs(self._spool, self._cgroups)
        for found in left:
            run = found.run
            with self._lock:
                self._fence.note(found.job_id, run.restart_count if run is not None else ANY_RUN)
            if run is None:
                self._report_lost_cgroup(found)
                continue
            keeper = found.keeper
            job = RunningJob(run, keeper.job_pid if keeper else 0, found.cgroup, job_pidfd=found.job_pidfd,
                             keeper_pidfd=found.keeper_pidfd,
                             end_cause=runrecord.read_cause(self._spool, found.job_id))
            suspension.restore(job, self._spool)
            with self._lock:
                _claim(self._free_cpu_slots, run.cpu_slots, 0)
                _claim(self._free_gpu_slots, run.gpu_slots, 0)
                self._jobs[found.job_id] = job
            log.warning("job left by a previous agent job_id=%d run=%d fate=%s", found.job_id, run.restart_count,
                        found.fate.value)
            if found.fate is Fate.GOES_ON:
                self._watch(job)
            else:
                self._finish(job, found.status)
        return left

    def _report_lost_cgroup(self, found: LeftRun) -> None:
        """A job cgroup without a run record: nothing says which run it was; kill what is in it."""
        drain_cgroup(found.cgroup, exclude=None)
        self._remove_cgroup(found.cgroup)
        self._spool.remove_job(found.job_id)
        now = self._clock()
        log.warning("killed job left by a previous agent job_id=%d", found.job_id)
        self._report(JobReport(found.job_id, has_ended=True, end=JobEnd.NODE_SHUTDOWN, start_time=now, end_time=now,
                               detail="the node's agent restarted; the job was killed"))

    # ------------------------------------------------------------ internals

    def _watch(self, job: RunningJob) -> None:
        """Enforce the run's time limit (counted from its start, less the time it was suspended)
        and wait for its end."""
        if job.suspend.since is None:
            self._arm_time_limit(job)
        threading.Thread(target=self._wait, args=(job,), name=f"job-{job.job_id}", daemon=True).start()

    def _arm_time_limit(self, job: RunningJob) -> None:
        """(Re)start the timer that kills the run at its deadline (`suspension.deadline`)."""
        deadline = suspension.deadline(job)
        if deadline is None:
            return
        if job.limit_timer is not None:
            job.limit_timer.cancel()
        self._start_timer(job, max(0.0, deadline - self._clock()), self._on_time_limit)
        job.limit_timer = job.timers[-1]

    def _start_timer(self, job: RunningJob, delay_s: float, action: Callable[[RunningJob], object]) -> None:
        timer = threading.Timer(delay_s, action, args=(job,))
        timer.daemon = True
        job.timers.append(timer)
        timer.start()

    def _on_time_limit(self, job: RunningJob) -> None:
        log.info("time limit reached job_id=%d", job.job_id)
        self.kill(job, JobEnd.TIME_LIMIT, kill_wait_s=job.run.kill_wait_s, reason=KillReason.TIME_LIMIT)

    def _release(self, cpu_slots: tuple[int, ...], gpu_slots: tuple[int, ...], *, owner: int) -> None:
        """Free the slots of the job `owner`'s run that ended, but those another job's run holds
        too (a preemptor runs on the slots of the job it suspended, which holds them still)."""
        with self._lock:
            others = [j.run for j in self._jobs.values() if j.job_id != owner]
            self._free_cpu_slots.update(set(cpu_slots).difference(*(r.cpu_slots for r in others)))
            self._free_gpu_slots.update(set(gpu_slots).difference(*(r.gpu_slots for r in others)))

    def _make_cgroup(self, launch: Launch, cpu_slots: tuple[int, ...], gpu_slots: tuple[int, ...]) -> JobCgroup | None:
        if self._cgroups is None:
            return None
        try:
            return self._cgroups.create(launch.job_id, self._limits(launch.alloc, cpu_slots, gpu_slots))
        except OSError as exc:
            raise LaunchError(f"cannot create the job's cgroup: {exc}") from None

    def _limits(self, alloc: Resources, cpu_slots: tuple[int, ...], gpu_slots: tuple[int, ...]) -> CgroupLimits:
        cpu_ids = tuple(sorted({self._machine_cpus[s % len(self._machine_cpus)] for s in cpu_slots})) or None
        mem = alloc.mem_mib * 1024 * 1024 if alloc.mem_mib > 0 else None
        denied = tuple(d for i, d in enumerate(self._gpu_devices) if i not in gpu_slots)
        return CgroupLimits(cpu_ids=cpu_ids, mem_bytes=mem, denied_devices=denied)

    # ------------------------------------------------------------ for job steps

    @property
    def cgroups(self) -> Cgroups | None:
        """The node's job cgroups (None: the node has none)."""
        return self._cgroups

    @property
    def spawn_lock(self) -> threading.Lock:
        """Held around every start of a user's program on this node (see __init__)."""
        return self._spawn_lock

    def admit_step(self, job_id: int, run: int | None, *, epoch: int,
                   is_batch_node: bool) -> tuple[StepAdmission, JobCgroup | None]:
        """Fence a step order for `run` of the job sent under `epoch` (`RunFence.admit_step`:
        raises StaleRun) against the run held here; with JOIN, also that run's cgroup (None
        without cgroups), read under the same lock, so the tasks join the run they were for."""
        with self._lock:
            job = self._jobs.get(job_id)
            admission = self._fence.admit_step(job_id, run, epoch=epoch, is_batch_node=is_batch_node,
                                               held=job.run.restart_count if job is not None else None)
        return admission, job.cgroup if admission is StepAdmission.JOIN else None

    def step_cgroup(self, job_id: int, alloc: Resources, cpu_slots: tuple[int, ...],
                    gpu_slots: tuple[int, ...]) -> JobCgroup | None:
        """A cgroup (`steps_<id>`) holding the job's resources on this node, for step
        tasks where its batch script does not run; None without cgroups."""
        if self._cgroups is None:
            return None
        try:
            return self._cgroups.create(job_id, self._limits(alloc, cpu_slots, gpu_slots), kind="steps")
        except OSError as exc:
            raise LaunchError(f"cannot create the step's cgroup: {exc}") from None

    # ------------------------------------------------------------ start and end

    def _spawn(self, launch: Launch, record: RunRecord, cgroup: JobCgroup | None) -> RunningJob:
        """Write the script and start it under the keeper (which records the run)."""
        spec = launch.spec
        credentials = credentials_for(launch.uid, launch.gid, launch.user, node_name=self._node_name)
        if not os.path.isdir(spec.working_dir):
            raise LaunchError(f"working directory {spec.working_dir} does not exist on {self._node_name}")
        try:
            script_path = self._spool.write_script(launch.job_id, launch.spec.script,
                                                   owner=(launch.uid, launch.gid) if self._is_root else None)
        except OSError as exc:
            raise LaunchError(f"cannot write the job's script in {self._spool.job_dir(launch.job_id)}: "
                              f"{exc.strerror or exc}") from None
        order = self._order(launch, record, cgroup, credentials, script_path)
        # What the start-up shell itself says (a file it cannot open) goes to a file root made in the
        # spool's root-only private dir: the shell (the user) gets the descriptor, never a path, so
        # nothing the job does can change what root reads back as the job's start error.
        try:
            start_errors = self._spool.open_start_errors(launch.job_id)
        except OSError as exc:
            raise LaunchError(f"cannot create the job's start-up log in the spool: {exc.strerror or exc}") from None
        try:
            job_dir = self._spool.open_job_dir(launch.job_id)
            try:
                started = self._keepers.start(order, job_dir_fd=job_dir, out_fd=start_errors)
            finally:
                os.close(job_dir)
        except OSError as exc:
            raise LaunchError(f"cannot open the job's spool directory: {exc.strerror or exc}") from None
        finally:
            os.close(start_errors)
        return RunningJob(record, started.job_pid, cgroup, done_fd=started.done_fd)

    def _order(self, launch: Launch, record: RunRecord, cgroup: JobCgroup | None, credentials: Credentials,
               script_path: str) -> StartOrder:
        """What the keeper is to start for `launch`: the start-up shell as the user, its environment."""
        spec = launch.spec
        values = PatternValues(launch.job_id, spec.name, launch.user, self._node_name,
                               array_job_id=launch.array_job_id or None, array_task_id=launch.array_task_id)
        default_stdout = DEFAULT_ARRAY_STDOUT if launch.array_job_id else DEFAULT_STDOUT
        stdout_path = os.path.join(spec.working_dir, expand_pattern(spec.stdout_pattern or default_stdout, values))
        stderr_path = (os.path.join(spec.working_dir, expand_pattern(spec.stderr_pattern, values))
                       if spec.stderr_pattern else stdout_path)
        env = job_environment(launch, node_name=self._node_name, user_entry=credentials.entry)
        if launch.alloc.gpus:
            env["CUDA_VISIBLE_DEVICES"] = env["GPU_DEVICE_ORDINAL"] = ",".join(map(str, record.gpu_slots))
        # out/err: the keeper gives the start-up shell the start-errors file as stdout and stderr.
        files = StartFiles(spec.stdin_path, stdout_path, stderr_path, None, None,
                           open_mode=spec.open_mode or "truncate")
        command = [script_path, *spec.script_args]
        cgroup_procs = cgroup.procs_files() if cgroup is not None else []
        carried = propagation.propagated(spec.environment)   # sbatch's umask and soft limits
        run_as = credentials.run_as
        if not run_as:   # the agent's own user: the keeper spawns the shell, which waits to be confined
            return StartOrder(start_line(command, working_dir=spec.working_dir, files=files,
                                         waits_for_go=bool(cgroup_procs), propagated=carried),
                              env, cgroup_procs, record.as_dict())
        # Another user: the keeper's forked child joins the cgroup and changes user itself before
        # it execs the shell. The keeper is small, so its fork costs less than an exec of setpriv
        # and the "go" that the shell would then wait for (one exec and a round trip per job).
        return StartOrder(start_line(command, working_dir=spec.working_dir, files=files, waits_for_go=False,
                                     propagated=carried),
                          env, cgroup_procs, record.as_dict(),
                          become=(run_as["user"], run_as["group"], list(run_as["extra_groups"])))

    def _wait(self, job: RunningJob) -> None:
        """Wait until the job's keeper has recorded its end (or died without), then finish the job."""
        if job.done_fd is not None:
            wait_readable(job.done_fd, None)
            status = runrecord.read_status(self._spool, job.job_id)
        else:
            if job.job_pidfd is not None:
                wait_readable(job.job_pidfd, None)
            status = self._await_status(job)
        for fd in (job.done_fd, job.job_pidfd, job.keeper_pidfd):
            if fd is not None:
                os.close(fd)
        job.done_fd = job.job_pidfd = job.keeper_pidfd = None
        self._finish(job, status)

    def _await_status(self, job: RunningJob) -> EndStatus | None:
        """The status a keeper writes right after the script of a job taken over has exited;
        None once the keeper is gone without writing it."""
        wait_s = STATUS_WAIT_S[0]
        while True:
            status = runrecord.read_status(self._spool, job.job_id)
            if status is not None or job.keeper_pidfd is None:
                return status
            if wait_readable(job.keeper_pidfd, wait_s):   # the keeper exited: what it wrote is there
                return runrecord.read_status(self._spool, job.job_id)
            wait_s = min(wait_s * 2, STATUS_WAIT_S[1])

    def _finish(self, job: RunningJob, status: EndStatus | None) -> None:
        """Kill what the job left, read its usage, clean up and report its end: as `status`
        says, or, without one (its keeper died without a word), as lost with the node."""
        for timer in job.timers:
            timer.cancel()
        if status is None and job.cgroup is None and leads_session_of(job.job_pid, self._spool.job_dir(job.job_id)):
            signal_tree(job.job_pid, signal.SIGKILL)   # a job whose keeper is gone: no one else would kill it
        leftovers = drain_cgroup(job.cgroup, exclude=None) if job.cgroup is not None else 0
        t_end = status.end_time if status is not None else self._clock()
        usage = (JobUsage(cpu_user_us=status.user_us, cpu_system_us=status.system_us, max_rss_kib=status.max_rss_kib)
                 if status is not None else JobUsage())
        end = job.end_cause or JobEnd.EXITED
        detail = ""
        if status is None:
            end, detail = JobEnd.NODE_SHUTDOWN, "the job's keeper ended without recording the job's end; it was killed"
        if job.cgroup is not None:
            measured = job.cgroup.usage()
            usage = JobUsage(cpu_user_us=measured.cpu_user_us, cpu_system_us=measured.cpu_system_us,
                             max_rss_kib=measured.peak_bytes // 1024 if measured.peak_bytes else usage.max_rss_kib)
            if job.end_cause is None and status is not None and job.cgroup.is_oom_killed():
                end = JobEnd.OUT_OF_MEMORY
            self._remove_cgroup(job.cgroup)
        detail = detail or self._spool.read_start_errors(job.job_id)
        self._spool.remove_job(job.job_id)
        # (before the report: the next launch may follow it)
        self._release(job.run.cpu_slots, job.run.gpu_slots, owner=job.job_id)
        exit_code = status.exit_code if status is not None else 0
        exit_signal = status.exit_signal if status is not None else 0
        log.debug("job ended job_id=%d run=%d end=%s exit_code=%d signal=%d leftovers=%d", job.job_id,
                  job.run.restart_count, end.value, exit_code, exit_signal, leftovers)
        self._report(JobReport(job.job_id, has_ended=True, end=end, exit_code=exit_code, exit_signal=exit_signal,
                               start_time=job.run.start_time, end_time=t_end, usage=usage, detail=detail,
                               restart_count=job.run.restart_count))
        # Only now is the job gone: whoever waits for no running jobs finds its report queued.
        with self._ended:
            if self._jobs.get(job.job_id) is job:
                del self._jobs[job.job_id]
            self._ended.notify_all()


def _claim(free: set[int], given: tuple[int, ...], n: int) -> tuple[int, ...]:
    """The slots the controller gave (`given`), or else the `n` lowest free ones
    (fewer if fewer are free); either way no longer free."""
    chosen = tuple(given) if given else tuple(sorted(free)[:n])
    free.difference_update(chosen)
    return chosen
