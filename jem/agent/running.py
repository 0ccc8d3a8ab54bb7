"""The jobs running on this node: launch as the user, watch, signal, time-limit, reap.

Each job's batch script runs in a new session (so its process group id is its
pid) as the submitting user when the agent is root. A waiter thread per job
waits for the script to exit without reaping it, kills what is left of its
process group while the group id is still reserved by the zombie, then reaps
it with wait4 for the exit status and resource usage, and hands the report
to the reporter. Launches are idempotent: a job id seen before is never run
again by this agent process.
"""

import collections
import logging
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psutil

from jem.agent.environment import job_environment
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.filenames import DEFAULT_STDOUT, PatternValues, expand_pattern
from jem.model.job import JobUsage

log = logging.getLogger(__name__)

REMEMBERED_JOBS = 100_000   # ended job ids kept to refuse duplicate launches


@dataclass
class RunningJob:
    launch: Launch
    process: subprocess.Popen
    start_time: float
    end_cause: JobEnd | None = None
    timers: list[threading.Timer] = field(default_factory=list)


class LaunchError(Exception):
    """The job could not be started; the message says why (reported as LAUNCH_FAILED)."""


class RunningJobs:
    def __init__(self, *, node_name: str, spool_dir: str, report: Callable[[JobReport], None], clock=time.time):
        self._node_name = node_name
        self._spool_dir = spool_dir
        self._report = report
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[int, RunningJob] = {}
        self._seen: collections.OrderedDict[int, None] = collections.OrderedDict()
        # Kills that arrived before their launch (the two RPCs race): the launch is
        # then reported as killed without running anything.
        self._killed_early: set[int] = set()
        self._is_root = os.geteuid() == 0
        # Writing a script and forking must not overlap: a child forked by another
        # thread holds the script's write descriptor until it execs, and exec of the
        # script then fails with ETXTBSY ("Text file busy").
        self._spawn_lock = threading.Lock()
        os.makedirs(spool_dir, mode=0o755, exist_ok=True)

    def running_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._jobs)

    def launch(self, launch: Launch) -> None:
        """Start `launch` unless this agent has seen the job before."""
        with self._lock:
            if launch.job_id in self._seen:
                return
            self._seen[launch.job_id] = None
            if len(self._seen) > REMEMBERED_JOBS:
                self._seen.popitem(last=False)
            killed_early = launch.job_id in self._killed_early
            self._killed_early.discard(launch.job_id)
        t_start = self._clock()
        if killed_early:
            self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.KILLED, start_time=t_start,
                                   end_time=t_start, detail="killed before it started"))
            return
        try:
            with self._spawn_lock:
                process = self._spawn(launch)
        except LaunchError as exc:
            log.warning("launch failed job_id=%d reason=%s", launch.job_id, exc)
            self._report(JobReport(launch.job_id, has_ended=True, end=JobEnd.LAUNCH_FAILED, exit_code=1,
                                   start_time=t_start, end_time=self._clock(), detail=str(exc)))
            return
        job = RunningJob(launch, process, t_start)
        with self._lock:
            self._jobs[launch.job_id] = job
        if launch.time_limit_s is not None:
            self._start_timer(job, launch.time_limit_s, self._on_time_limit)
        threading.Thread(target=self._wait, args=(job,), name=f"job-{launch.job_id}", daemon=True).start()
        log.debug("job started job_id=%d pid=%d", launch.job_id, process.pid)

    def signal(self, job_id: int, signum: int, *, kill_wait_s: int) -> int | None:
        """Send `signum` to every process of the job (0: kill it). None if not running here."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None and signum == 0 and job_id not in self._seen:
                self._killed_early.add(job_id)
                return 0
        if job is None:
            return None
        if signum == 0:
            return self.kill(job, JobEnd.KILLED, kill_wait_s=kill_wait_s)
        return _signal_tree(job.process.pid, signum)

    def kill(self, job: RunningJob, cause: JobEnd, *, kill_wait_s: int) -> int:
        """SIGCONT+SIGTERM the whole job now, SIGKILL after `kill_wait_s` (Slurm's KillWait)."""
        if job.end_cause is None:
            job.end_cause = cause
        _signal_tree(job.process.pid, signal.SIGCONT)
        n = _signal_tree(job.process.pid, signal.SIGTERM)
        self._start_timer(job, kill_wait_s, lambda j: _signal_tree(j.process.pid, signal.SIGKILL))
        return n

    def kill_all(self, cause: JobEnd, *, kill_wait_s: int) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.kill(job, cause, kill_wait_s=kill_wait_s)

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

    def _spawn(self, launch: Launch) -> subprocess.Popen:
        spec = launch.spec
        user_entry = _passwd(launch.uid)
        if self._is_root:
            if user_entry is None and launch.uid != 0:
                raise LaunchError(f"user {launch.user} (uid {launch.uid}) does not exist on node {self._node_name}")
            run_as = {"user": launch.uid, "group": launch.gid,
                      "extra_groups": os.getgrouplist(user_entry.pw_name, launch.gid) if user_entry else []}
        elif launch.uid != os.getuid():
            raise LaunchError(f"agent on {self._node_name} runs as uid {os.getuid()} and cannot run jobs of "
                              f"uid {launch.uid}")
        else:
            run_as = {}
        if not os.path.isdir(spec.working_dir):
            raise LaunchError(f"working directory {spec.working_dir} does not exist on {self._node_name}")
        script_path = self._write_script(launch)
        values = PatternValues(launch.job_id, spec.name, launch.user, self._node_name)
        stdout_path = os.path.join(spec.working_dir, expand_pattern(spec.stdout_pattern or DEFAULT_STDOUT, values))
        stderr_path = (os.path.join(spec.working_dir, expand_pattern(spec.stderr_pattern, values))
                       if spec.stderr_pattern else None)
        files = []
        try:
            stdout = self._open_output(stdout_path, launch)
            files.append(stdout)
            stderr = self._open_output(stderr_path, launch) if stderr_path and stderr_path != stdout_path else stdout
            files.append(stderr)
            stdin = open(spec.stdin_path or os.devnull, "rb")
            files.append(stdin)
            return subprocess.Popen(
                [script_path, *spec.script_args], cwd=spec.working_dir, stdin=stdin, stdout=stdout, stderr=stderr,
                env=job_environment(launch, node_name=self._node_name, user_entry=user_entry),
                start_new_session=True, close_fds=True, **run_as,
            )
        except OSError as exc:
            self._remove_spool(launch.job_id)
            raise LaunchError(f"cannot start job: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
        finally:
            for f in files:
                f.close()

    def _write_script(self, launch: Launch) -> str:
        job_dir = os.path.join(self._spool_dir, f"job{launch.job_id}")
        os.makedirs(job_dir, mode=0o700, exist_ok=True)
        path = os.path.join(job_dir, "script")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(launch.spec.script)
        if self._is_root:
            os.chown(job_dir, launch.uid, launch.gid)
            os.chown(path, launch.uid, launch.gid)
        return path

    def _open_output(self, path: str, launch: Launch):
        f = open(path, "wb")  # Slurm's default --open-mode=truncate
        if self._is_root:
            os.fchown(f.fileno(), launch.uid, launch.gid)
        return f

    def _remove_spool(self, job_id: int) -> None:
        shutil.rmtree(os.path.join(self._spool_dir, f"job{job_id}"), ignore_errors=True)

    def _wait(self, job: RunningJob) -> None:
        pid = job.process.pid
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        # The zombie still holds the process group id: nothing else can take it,
        # so this kills only what the job left behind.
        leftovers = _signal_group(pid, signal.SIGKILL)
        _, status, rusage = os.wait4(pid, 0)
        job.process.returncode = os.waitstatus_to_exitcode(status)
        t_end = self._clock()
        for timer in job.timers:
            timer.cancel()
        with self._lock:
            self._jobs.pop(job.launch.job_id, None)
        self._remove_spool(job.launch.job_id)
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        exit_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        usage = JobUsage(cpu_user_us=int(rusage.ru_utime * 1e6), cpu_system_us=int(rusage.ru_stime * 1e6),
                         max_rss_kib=rusage.ru_maxrss)
        log.debug("job ended job_id=%d exit_code=%d signal=%d leftovers=%d", job.launch.job_id, exit_code,
                  exit_signal, leftovers)
        self._report(JobReport(job.launch.job_id, has_ended=True, end=job.end_cause or JobEnd.EXITED,
                               exit_code=exit_code, exit_signal=exit_signal, start_time=job.start_time,
                               end_time=t_end, usage=usage))


def _passwd(uid: int) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        return None


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
