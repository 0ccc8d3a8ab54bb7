"""The jobs running on this node: launch as the user, confine, watch, signal,
time-limit, reap.

Each job's batch script runs in a new session as the submitting user (when the
agent is root), inside its own cgroup when the node has them: a one-line sh
that will exec the script first waits for a word on a pipe from the agent, which
sends it once the sh is in the job's cgroup. So the first instruction already
runs confined, every process it forks, double-forked daemons included, stays in
the cgroup, and if the agent dies in between, the pipe closes and the start is
abandoned (nothing is left waiting). Signals and kills go to every process of the cgroup (frozen while
signalled); without cgroups, to the process group and the script's descendants.

A waiter thread per job waits for the script to exit without reaping it, kills
whatever the job left behind, reads usage and OOM kills from the cgroup, reaps
with wait4, removes the cgroup and hands the report to the reporter. Launches
are idempotent: a job id seen before is never run again by this agent process.

CPUs and GPUs: the controller gives each job concrete CPU and GPU indices on
the node (lowest free first); the agent maps CPU indices onto the machine's CPUs
(round robin when a node declares more CPUs than it has) for the cpuset, and
GPU indices onto device files. A launch without indices (an older controller)
gets the lowest free slots the agent knows of.

The script waits in the node's spool (`spool.py`), which is checked to be writable
only by the agent and is handled by directory descriptors without following any
link. What root reads back from it lives where the job's user cannot write.
"""

import collections
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

from jem.agent.cgroups import Cgroups, CgroupLimits, JobCgroup, kill_each
from jem.agent.confined import LaunchError, StartFiles, credentials_for, start_confined
from jem.agent.environment import job_environment
from jem.agent.spool import Spool
from jem.model.execution import JobEnd, JobReport, Launch, SignalScope
from jem.model.filenames import DEFAULT_ARRAY_STDOUT, DEFAULT_STDOUT, PatternValues, expand_pattern
from jem.model.job import JobUsage
from jem.model.resources import Resources

log = logging.getLogger(__name__)

REMEMBERED_JOBS = 100_000   # ended job ids kept to refuse duplicate launches
DRAIN_TIMEOUT_S = 10.0      # wait for a killed job's last process to go
@dataclass
class RunningJob:
    launch: Launch
    process: subprocess.Popen
    start_time: float
    cgroup: JobCgroup | None
    cpu_slots: tuple[int, ...]
    gpu_slots: tuple[int, ...]
    end_cause: JobEnd | None = None
    timers: list[threading.Timer] = field(default_factory=list)

    def signal_all(self, signum: int) -> int:
        """Signal every process of the job."""
        if self.cgroup is not None:
            return self.cgroup.signal_all(signum)
        return _signal_tree(self.process.pid, signum)


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
        self._report = report
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[int, RunningJob] = {}
        # job id -> the latest run (restart count) launched here: each run starts once,
        # and a requeued job's next run starts even where an earlier one ran.
        self._seen: collections.OrderedDict[int, int] = collections.OrderedDict()
        # Kills that arrived before their launch (the two RPCs race): the launch is
        # then reported as killed without running anything.
        self._killed_early: set[int] = set()
        self._launching: set[int] = set()
        self._is_closed = False
        self._is_root = os.geteuid() == 0
        # Writing a script and forking must not overlap: a child forked by another
        # thread holds the script's write descriptor until it execs, and exec of the
        # script then fails with ETXTBSY ("Text file busy").
        self._spawn_lock = threading.Lock()

    def running_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._jobs)

    def refuse(self, launch: Launch, why: str) -> None:
        """Run nothing for `launch` and report it failed to launch, saying `why` (the controller
        ends the job FAILED with that detail; the node stays up)."""
        log.warning("launch refused job_id=%d why=%s", launch.job_id, why)
        now = self._clock()
        self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.LAUNCH_FAILED, exit_code=1, start_time=now,
                               end_time=now, detail=why, restart_count=launch.restart_count))

    def launch(self, launch: Launch) -> None:
        """Start `launch` unless this agent has started this run of the job before."""
        with self._lock:
            if self._is_closed:
                self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.NODE_SHUTDOWN,
                                       detail="the node's agent is shutting down",
                                       restart_count=launch.restart_count))
                return
            if self._seen.get(launch.job_id, -1) >= launch.restart_count:
                return
            self._seen[launch.job_id] = launch.restart_count
            self._seen.move_to_end(launch.job_id)
            if len(self._seen) > REMEMBERED_JOBS:
                self._seen.popitem(last=False)
            killed_early = launch.job_id in self._killed_early
            self._killed_early.discard(launch.job_id)
            if not killed_early:
                self._launching.add(launch.job_id)
            cpu_slots = _claim(self._free_cpu_slots, launch.cpu_ids, launch.alloc.cpus)
            gpu_slots = _claim(self._free_gpu_slots, launch.gpu_ids, launch.alloc.gpus)
        t_start = self._clock()
        if killed_early:
            self._release(cpu_slots, gpu_slots)
            self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.KILLED, start_time=t_start,
                                   end_time=t_start, detail="killed before it started",
                                   restart_count=launch.restart_count))
            return
        cgroup = None
        try:
            cgroup = self._make_cgroup(launch, cpu_slots, gpu_slots)
            with self._spawn_lock:
                process = self._spawn(launch, cgroup, gpu_slots)
        except Exception as exc:   # whatever the job's own request makes fail ends the job, never the node
            if not isinstance(exc, LaunchError):
                log.exception("launch failed unexpectedly job_id=%d", launch.job_id)
                exc = LaunchError(f"cannot start job: {exc}")
            log.warning("launch failed job_id=%d reason=%s", launch.job_id, exc)
            self._spool.remove_job(launch.job_id)
            if cgroup is not None:
                cgroup.remove()
            self._release(cpu_slots, gpu_slots)
            with self._lock:
                self._launching.discard(launch.job_id)
                self._killed_early.discard(launch.job_id)
            self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.LAUNCH_FAILED, exit_code=1,
                                   start_time=t_start, end_time=self._clock(), detail=str(exc),
                                   restart_count=launch.restart_count))
            return
        job = RunningJob(launch, process, t_start, cgroup, cpu_slots, gpu_slots)
        with self._lock:
            self._jobs[launch.job_id] = job
            self._launching.discard(launch.job_id)
            killed_while_launching = launch.job_id in self._killed_early
            self._killed_early.discard(launch.job_id)
        if killed_while_launching:
            self.kill(job, JobEnd.KILLED, kill_wait_s=launch.kill_wait_s)
        if launch.time_limit_s is not None:
            self._start_timer(job, launch.time_limit_s, self._on_time_limit)
        threading.Thread(target=self._wait, args=(job,), name=f"job-{launch.job_id}", daemon=True).start()
        log.debug("job started job_id=%d pid=%d", launch.job_id, process.pid)

    def signal(self, job_id: int, signum: int, *, kill_wait_s: int,
               scope: SignalScope = SignalScope.FULL) -> int | None:
        """Send `signum` to the batch script's processes `scope` names (0: kill the job); its
        steps' tasks are StepTasks' (STEPS signals nothing here). None if not running here."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None and signum == 0 and (job_id not in self._seen or job_id in self._launching):
                self._killed_early.add(job_id)   # the launch, still to come or under way, honours it
                return 0
        if job is None:
            return None
        if signum == 0:
            return self.kill(job, JobEnd.KILLED, kill_wait_s=kill_wait_s)
        if scope is SignalScope.BATCH:
            return kill_each([job.process.pid], signum)
        if scope is SignalScope.STEPS:
            return 0
        return job.signal_all(signum)

    def kill(self, job: RunningJob, cause: JobEnd, *, kill_wait_s: int) -> int:
        """SIGCONT+SIGTERM the whole job now, SIGKILL after `kill_wait_s` (Slurm's KillWait)."""
        if job.end_cause is None:
            job.end_cause = cause
        job.signal_all(signal.SIGCONT)
        n = job.signal_all(signal.SIGTERM)
        self._start_timer(job, kill_wait_s, lambda j: j.signal_all(signal.SIGKILL))
        return n

    def shut_down(self, *, kill_wait_s: int) -> None:
        """Refuse new launches, let launches under way finish, then kill every job
        (reported as ended by the node's shutdown)."""
        with self._lock:
            self._is_closed = True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if not self._launching:
                    break
            time.sleep(0.01)
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.kill(job, JobEnd.NODE_SHUTDOWN, kill_wait_s=kill_wait_s)

    def wait_all(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._jobs:
                    return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------ internals

    def _start_timer(self, job: RunningJob, delay_s: float, action: Callable[[RunningJob], object]) -> None:
        timer = threading.Timer(delay_s, action, args=(job,))
        timer.daemon = True
        job.timers.append(timer)
        timer.start()

    def _on_time_limit(self, job: RunningJob) -> None:
        log.info("time limit reached job_id=%d", job.launch.job_id)
        self.kill(job, JobEnd.TIME_LIMIT, kill_wait_s=job.launch.kill_wait_s)

    def _release(self, cpu_slots: tuple[int, ...], gpu_slots: tuple[int, ...]) -> None:
        with self._lock:
            self._free_cpu_slots.update(cpu_slots)
            self._free_gpu_slots.update(gpu_slots)

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
    def spawn_lock(self) -> threading.Lock:
        """Held around every start of a user's program on this node (see __init__)."""
        return self._spawn_lock

    def batch_cgroup(self, job_id: int) -> JobCgroup | None:
        """The cgroup of the job's batch script when it runs here (None otherwise or without cgroups)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job.cgroup if job is not None else None

    def runs(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._jobs

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

    def _spawn(self, launch: Launch, cgroup: JobCgroup | None, gpu_slots: tuple[int, ...]) -> subprocess.Popen:
        spec = launch.spec
        credentials = credentials_for(launch.uid, launch.gid, launch.user, node_name=self._node_name)
        if not os.path.isdir(spec.working_dir):
            raise LaunchError(f"working directory {spec.working_dir} does not exist on {self._node_name}")
        try:
            script_path = self._spool.write_script(launch.job_id, launch.spec.script,
                                                   owner=(launch.uid, launch.gid) if self._is_root else None)
        except OSError as exc:
            self._spool.remove_job(launch.job_id)
            raise LaunchError(f"cannot write the job's script in {self._spool.job_dir(launch.job_id)}: "
                              f"{exc.strerror or exc}") from None
        values = PatternValues(launch.job_id, spec.name, launch.user, self._node_name,
                               array_job_id=launch.array_job_id or None, array_task_id=launch.array_task_id)
        default_stdout = DEFAULT_ARRAY_STDOUT if launch.array_job_id else DEFAULT_STDOUT
        stdout_path = os.path.join(spec.working_dir, expand_pattern(spec.stdout_pattern or default_stdout, values))
        stderr_path = (os.path.join(spec.working_dir, expand_pattern(spec.stderr_pattern, values))
                       if spec.stderr_pattern else stdout_path)
        env = job_environment(launch, node_name=self._node_name, user_entry=credentials.entry)
        if launch.alloc.gpus:
            env["CUDA_VISIBLE_DEVICES"] = env["GPU_DEVICE_ORDINAL"] = ",".join(map(str, gpu_slots))
        # What the start-up shell itself says (a file it cannot open) goes to a file root made in the
        # spool's root-only private dir: the shell (the user) gets the descriptor, never a path, so
        # nothing the job does can change what root reads back as the job's start error.
        try:
            start_errors = self._spool.open_start_errors(launch.job_id)
        except OSError as exc:
            self._spool.remove_job(launch.job_id)
            raise LaunchError(f"cannot create the job's start-up log in the spool: {exc.strerror or exc}") from None
        try:
            files = StartFiles(spec.stdin_path, stdout_path, stderr_path, start_errors, start_errors,
                               open_mode=spec.open_mode or "truncate")
            return start_confined([script_path, *spec.script_args], credentials=credentials,
                                  working_dir=spec.working_dir, files=files, env=env, cgroup=cgroup)
        except LaunchError:
            self._spool.remove_job(launch.job_id)
            raise
        finally:
            os.close(start_errors)

    def _wait(self, job: RunningJob) -> None:
        pid = job.process.pid
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        # Whatever the script left behind dies with it. The zombie still holds the
        # process group id, so the group kill reaches only the job's processes.
        leftovers = _signal_group(pid, signal.SIGKILL)
        if job.cgroup is not None:
            leftovers += _drain_cgroup(job.cgroup, exclude=pid)
        _, status, rusage = os.wait4(pid, 0)
        job.process.returncode = os.waitstatus_to_exitcode(status)
        t_end = self._clock()
        for timer in job.timers:
            timer.cancel()
        usage = JobUsage(cpu_user_us=int(rusage.ru_utime * 1e6), cpu_system_us=int(rusage.ru_stime * 1e6),
                         max_rss_kib=rusage.ru_maxrss)
        end = job.end_cause or JobEnd.EXITED
        if job.cgroup is not None:
            measured = job.cgroup.usage()
            usage = JobUsage(cpu_user_us=measured.cpu_user_us, cpu_system_us=measured.cpu_system_us,
                             max_rss_kib=measured.peak_bytes // 1024 if measured.peak_bytes else usage.max_rss_kib)
            if job.end_cause is None and job.cgroup.is_oom_killed():
                end = JobEnd.OUT_OF_MEMORY
            job.cgroup.remove()
        detail = self._spool.read_start_errors(job.launch.job_id)
        self._spool.remove_job(job.launch.job_id)
        self._release(job.cpu_slots, job.gpu_slots)   # before the report: the next launch may follow it
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        exit_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        log.debug("job ended job_id=%d end=%s exit_code=%d signal=%d leftovers=%d", job.launch.job_id, end.value,
                  exit_code, exit_signal, leftovers)
        self._report(JobReport(job.launch.job_id, has_ended=True, end=end, exit_code=exit_code,
                               exit_signal=exit_signal, start_time=job.start_time, end_time=t_end, usage=usage,
                               detail=detail, restart_count=job.launch.restart_count))
        # Only now is the job gone: whoever waits for no running jobs finds its report queued.
        with self._lock:
            self._jobs.pop(job.launch.job_id, None)

    def kill_leftovers(self) -> list[int]:
        """At agent start: kill the processes of job cgroups a previous agent left (it
        died without its jobs), remove the cgroups and report those jobs ended by the
        node's failure. Returns their ids."""
        if self._cgroups is None:
            return []
        for cgroup in self._cgroups.existing_jobs("steps").values():   # step tasks of those jobs elsewhere
            _drain_cgroup(cgroup, exclude=None)
            cgroup.remove()
        found = self._cgroups.existing_jobs()
        for job_id, cgroup in found.items():
            with self._lock:
                self._seen.setdefault(job_id, -1)   # its run is unknown: block none
            _drain_cgroup(cgroup, exclude=None)
            cgroup.remove()
            now = self._clock()
            log.warning("killed job left by a previous agent job_id=%d", job_id)
            self._report(JobReport(job_id, has_ended=True, end=JobEnd.NODE_SHUTDOWN, start_time=now, end_time=now,
                                   detail="the node's agent restarted; the job was killed"))
        return sorted(found)


def _claim(free: set[int], given: tuple[int, ...], n: int) -> tuple[int, ...]:
    """The slots the controller gave (`given`), or else the `n` lowest free ones
    (fewer if fewer are free); either way no longer free."""
    chosen = tuple(given) if given else tuple(sorted(free)[:n])
    free.difference_update(chosen)
    return chosen


def _drain_cgroup(cgroup: JobCgroup, *, exclude: int | None) -> int:
    """SIGKILL every process of `cgroup` (but the zombie `exclude`) until none is left."""
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


def _signal_tree(pid: int, signum: int) -> int:
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
