"""The tasks of job steps on this node: started as the job's user inside the
job's cgroup, their output streamed back (or written to files), their exits
reported, and all of them killed when the caller goes away.

Where the job's batch script runs here, tasks join its cgroup (the job's limits
hold for the script and its steps together, and a cancel or the end of the job
kills them with it). Elsewhere the step gets a `steps_<job>` cgroup holding the
job's resources on this node, shared by the job's concurrent steps here and
removed after the last. Each task runs in a session of its own, so whatever a
task leaves behind is killed with its process group when it exits. With srun
--pty, task 0 runs on a pseudo-terminal of its own (`ptys.py`).

Each order is fenced by the job's run and the node's epoch before any task starts
(`fencing.RunFence.admit_step`): on the batch node only the run held there takes
tasks, elsewhere no run earlier than the latest seen; any other is refused (StaleRun).
"""

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import hostlist

from jem.agent.cgroups import JobCgroup
from jem.agent.procusage import TreeUsage, tree_usage
from jem.agent.confined import LaunchError, StartFiles, credentials_for, start_confined
from jem.agent.environment import tasks_per_node_text
from jem.agent.fencing import StepAdmission
from jem.agent.ptys import TaskPty, wants_pty
from jem.agent.ptys import task_environment as without_pty_secret
from jem.agent.running import RunningJobs
from jem.model.errors import StaleRun
from jem.model.filenames import PatternValues, expand_pattern
from jem.model.job import JobUsage
from jem.model.step import TaskExit, TaskOrder, TaskOutput

log = logging.getLogger(__name__)

READ_CHUNK = 65536
POLL_S = 0.2               # how often a waiting stream checks that its caller is still there
KILL_WAIT_S = 2.0          # SIGTERM to SIGKILL for tasks of an abandoned step
DRAIN_S = 2.0              # how long output of an exited task's leftovers is still read
BATCH_WAIT_S = 5.0         # how long a step waits for its job's batch launch on the batch node


@dataclass
class _Task:
    task_id: int
    process: subprocess.Popen
    readers: list[threading.Thread] = field(default_factory=list)
    step_id: int = 0


class _SharedCgroups:
    """The `steps_<job>` cgroups of this node, counted by the steps using them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users: dict[int, tuple[JobCgroup, int]] = {}

    def acquire(self, job_id: int, make: Callable[[], JobCgroup | None]) -> JobCgroup | None:
        with self._lock:
            held = self._users.get(job_id)
            if held is None:
                cgroup = make()
                if cgroup is None:
                    return None
                held = (cgroup, 0)
            self._users[job_id] = (held[0], held[1] + 1)
            return held[0]

    def release(self, job_id: int) -> None:
        with self._lock:
            cgroup, count = self._users[job_id]
            if count > 1:
                self._users[job_id] = (cgroup, count - 1)
                return
            del self._users[job_id]
        if cgroup.is_suspended:   # (a frozen v1 process does not die until thawed)
            cgroup.resume()
        cgroup.signal_all(signal.SIGKILL)
        deadline = time.monotonic() + DRAIN_S
        while cgroup.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        cgroup.remove()

    def get(self, job_id: int) -> JobCgroup | None:
        with self._lock:
            held = self._users.get(job_id)
            return held[0] if held is not None else None


class StepTasks:
    """Runs the tasks of steps on this node (one `run` per step and node)."""

    def __init__(self, *, node_name: str, jobs: RunningJobs):
        self._node_name = node_name
        self._jobs = jobs
        self._shared = _SharedCgroups()
        self._running: dict[int, list[_Task]] = {}   # job id -> its step tasks running here
        self._lock = threading.Lock()

    def signal(self, job_id: int, signum: int) -> int | None:
        """Signal the job's step tasks on this node (scancel's default scope); None if there are none."""
        with self._lock:
            tasks = list(self._running.get(job_id, ()))
        if not tasks:
            return None
        count = 0
        for task in tasks:
            if task.process.returncode is None:
                try:
                    os.killpg(task.process.pid, signum)
                    count += 1
                except (ProcessLookupError, PermissionError):
                    pass
        return count

    def suspend(self, job_id: int, *, resume: bool) -> bool:
        """Freeze (or thaw) the job's step tasks here that run outside its batch script's cgroup:
        its shared `steps_<job>` cgroup, or, without cgroups, each task's session (SIGSTOP,
        SIGCONT). Tasks in the batch script's cgroup go with it (`RunningJobs.suspend`).
        Whether the job has step tasks here."""
        cgroup = self._shared.get(job_id)
        if cgroup is not None:
            if resume:
                cgroup.resume()
            else:
                cgroup.suspend()
            return True
        with self._lock:
            tasks = list(self._running.get(job_id, ()))
        if not tasks:
            return False
        if self._jobs.cgroups is None:
            for task in tasks:
                if task.process.returncode is None:
                    try:
                        os.killpg(task.process.pid, signal.SIGCONT if resume else signal.SIGSTOP)
                    except (ProcessLookupError, PermissionError):
                        pass
        return True

    def usage_so_far(self, job_id: int) -> list[tuple[int, int, TreeUsage]]:
        """(step id, task id, usage so far) of each of the job's step tasks running here: each
        task's process tree, for sstat."""
        with self._lock:
            tasks = list(self._running.get(job_id, ()))
        measured = [(t.step_id, t.task_id, tree_usage(t.process.pid)) for t in tasks]
        return [row for row in measured if row[2].pids]   # (a task that has ended has no tree)

    def run(self, order: TaskOrder, is_active: Callable[[], bool]) -> Iterator[TaskOutput | TaskExit]:
        """Fence the order (`_admit`: raises StaleRun here, before anything starts), then return
        the stream that starts its tasks and yields their output and exits until every task
        ended; when `is_active()` turns false, the stream kills them and stops."""
        admission, batch_cgroup = self._admit(order)
        return self._run(order, admission, batch_cgroup, is_active)

    def _admit(self, order: TaskOrder) -> tuple[StepAdmission, JobCgroup | None]:
        """Where the order's tasks run here (`RunningJobs.admit_step`). On the batch script's
        node, the launch of the order's run (sent when the job started, perhaps still on its
        way) gets a moment to arrive, so that the tasks join its cgroup; an order whose run has
        not come by then is refused. An older controller's order, naming no run, then runs in
        the job's shared steps cgroup, as before."""
        is_batch_node = order.job_nodes[:1] == (self._node_name,)
        deadline = time.monotonic() + BATCH_WAIT_S
        while True:
            admission, cgroup = self._jobs.admit_step(order.job_id, order.restart_count, epoch=order.node_epoch,
                                                      is_batch_node=is_batch_node)
            if admission is not StepAdmission.WAIT:
                return admission, cgroup
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        if order.restart_count is None:
            return StepAdmission.SHARE, None
        raise StaleRun(f"order for run {order.restart_count} of job {order.job_id}; that run did not start on "
                       f"this node within {BATCH_WAIT_S:g} s")

    def _run(self, order: TaskOrder, admission: StepAdmission, batch_cgroup: JobCgroup | None,
             is_active: Callable[[], bool]) -> Iterator[TaskOutput | TaskExit]:
        events: queue.Queue = queue.Queue()
        shared = admission is StepAdmission.SHARE
        try:
            cgroup = batch_cgroup if not shared else self._shared.acquire(
                order.job_id, lambda: self._jobs.step_cgroup(order.job_id, order.alloc, order.cpu_ids, order.gpu_ids))
        except LaunchError as exc:
            yield from (TaskExit(t, self._node_name, exit_code=1, launch_error=str(exc)) for t in order.task_ids)
            return
        tasks: list[_Task] = []
        try:
            tasks, failed = self._start_all(order, cgroup, events)
            with self._lock:
                self._running.setdefault(order.job_id, []).extend(tasks)
            yield from failed
            yield from self._follow(tasks, events, is_active)
        finally:
            with self._lock:
                left = [t for t in self._running.get(order.job_id, ()) if t not in tasks]
                if left:
                    self._running[order.job_id] = left
                else:
                    self._running.pop(order.job_id, None)
            if shared and cgroup is not None:
                self._shared.release(order.job_id)

    def _start_all(self, order: TaskOrder, cgroup: JobCgroup | None,
                   events: queue.Queue) -> tuple[list[_Task], list[TaskExit]]:
        tasks, failed = [], []
        try:
            credentials = credentials_for(order.uid, order.gid, order.user, node_name=self._node_name)
        except LaunchError as exc:
            return [], [TaskExit(t, self._node_name, exit_code=1, launch_error=str(exc)) for t in order.task_ids]
        for local_id, task_id in enumerate(order.task_ids):
            env = task_environment(order, node_name=self._node_name, local_id=local_id, task_id=task_id)
            if task_id == 0 and wants_pty(env):   # srun --pty: task 0 on a terminal of its own
                task = self._start_on_pty(order, task_id, env, credentials, cgroup, events)
                if isinstance(task, TaskExit):
                    failed.append(task)
                else:
                    tasks.append(task)
                continue
            env = without_pty_secret(env)
            out_r, out_w = os.pipe() if order.spec.is_streamed else (None, None)
            is_err_streamed = order.spec.is_streamed and not order.spec.stderr_pattern
            err_r, err_w = os.pipe() if is_err_streamed else (None, None)
            files = self._files(order, task_id, out_w, err_w)
            try:
                with self._jobs.spawn_lock:
                    process = start_confined(list(order.spec.argv), credentials=credentials,
                                             working_dir=order.spec.working_dir, files=files, env=env, cgroup=cgroup)
            except LaunchError as exc:
                failed.append(TaskExit(task_id, self._node_name, exit_code=1, launch_error=str(exc)))
                for fd in (out_r, err_r):
                    if fd is not None:
                        os.close(fd)
                continue
            finally:
                for fd in (out_w, err_w):
                    if fd is not None:
                        os.close(fd)
            task = _Task(task_id, process, step_id=order.step_id)
            for stream, fd in ((1, out_r), (2, err_r)):
                if fd is not None:
                    reader = threading.Thread(target=_read_stream, args=(fd, task_id, stream, events), daemon=True,
                                              name=f"step-{order.job_id}.{order.step_id}-t{task_id}-{stream}")
                    reader.start()
                    task.readers.append(reader)
            threading.Thread(target=self._wait, args=(task, events), daemon=True).start()
            tasks.append(task)
        return tasks, failed

    def _start_on_pty(self, order: TaskOrder, task_id: int, env: dict[str, str], credentials, cgroup,
                      events: queue.Queue) -> _Task | TaskExit:
        """Start a task with a pty as its stdin, stdout, stderr and controlling terminal
        (`ptys.TaskPty`): its output comes back as stdout, srun's keystrokes go in."""
        try:
            pty = TaskPty(uid=order.uid, gid=order.gid, environment=env)
        except OSError as exc:
            return TaskExit(task_id, self._node_name, exit_code=1, launch_error=f"cannot open a pty: {exc}")
        files = StartFiles(pty.slave_path, "", "", pty.slave, pty.slave)
        try:
            with self._jobs.spawn_lock:
                process = start_confined(list(order.spec.argv), credentials=credentials,
                                         working_dir=order.spec.working_dir, files=files,
                                         env=without_pty_secret(env), cgroup=cgroup)
        except LaunchError as exc:
            os.close(pty.master)
            return TaskExit(task_id, self._node_name, exit_code=1, launch_error=str(exc))
        finally:
            pty.close_slave()
        task = _Task(task_id, process, step_id=order.step_id)
        task.readers.append(pty.start(task_id, events, f"step-{order.job_id}.{order.step_id}-t{task_id}"))
        threading.Thread(target=self._wait, args=(task, events), daemon=True).start()
        return task

    def _files(self, order: TaskOrder, task_id: int, out_w: int | None, err_w: int | None) -> StartFiles:
        """The task's files: pipes where output is streamed, else the expanded
        patterns (without --error, stderr goes where stdout goes, as in Slurm)."""
        spec = order.spec
        values = PatternValues(order.job_id, order.job_name, order.user, self._node_name,
                               node_index=order.step_nodes.index(self._node_name), task_id=task_id,
                               step=str(order.step_id), array_job_id=order.array_job_id or None,
                               array_task_id=order.array_task_id)

        def path(pattern: str) -> str:
            return os.path.join(spec.working_dir, expand_pattern(pattern, values)) if pattern else ""

        stdout_path = path(spec.stdout_pattern)
        stderr_path = path(spec.stderr_pattern) or stdout_path
        return StartFiles("", stdout_path, stderr_path, subprocess.DEVNULL if out_w is None else out_w,
                          subprocess.DEVNULL if err_w is None else err_w)

    def _wait(self, task: _Task, events: queue.Queue) -> None:
        pid = task.process.pid
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        try:
            os.killpg(pid, signal.SIGKILL)   # what the task left in its session dies with it
        except (ProcessLookupError, PermissionError):
            pass
        _, status, rusage = os.wait4(pid, 0)
        task.process.returncode = os.waitstatus_to_exitcode(status)
        for reader in task.readers:
            reader.join(DRAIN_S)
        usage = JobUsage(cpu_user_us=int(rusage.ru_utime * 1e6), cpu_system_us=int(rusage.ru_stime * 1e6),
                         max_rss_kib=rusage.ru_maxrss)
        events.put(TaskExit(task.task_id, self._node_name,
                            exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0,
                            exit_signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, usage=usage))

    def _follow(self, tasks: list[_Task], events: queue.Queue,
                is_active: Callable[[], bool]) -> Iterator[TaskOutput | TaskExit]:
        left = len(tasks)
        try:
            while left:
                try:
                    event = events.get(timeout=POLL_S)
                except queue.Empty:
                    if not is_active():
                        break
                    continue
                if isinstance(event, TaskExit):
                    left -= 1
                yield event
        finally:
            if left:   # the caller went away (or closed this stream while a message was on its way)
                _kill(tasks)


def _read_stream(fd: int, task_id: int, stream: int, events: queue.Queue) -> None:
    try:
        while data := os.read(fd, READ_CHUNK):
            events.put(TaskOutput(task_id, stream, data))
    finally:
        os.close(fd)


def _kill(tasks: list[_Task]) -> None:
    """SIGTERM every task's session now, SIGKILL what is left after KILL_WAIT_S."""
    def signal_all(signum: int) -> None:
        for task in tasks:
            if task.process.returncode is None:
                try:
                    os.killpg(task.process.pid, signum)
                except (ProcessLookupError, PermissionError):
                    pass

    signal_all(signal.SIGCONT)
    signal_all(signal.SIGTERM)
    timer = threading.Timer(KILL_WAIT_S, signal_all, args=(signal.SIGKILL,))
    timer.daemon = True
    timer.start()


def task_environment(order: TaskOrder, *, node_name: str, local_id: int, task_id: int) -> dict[str, str]:
    """The environment of one task: the step's (the caller's) plus the variables srun
    sets for each task (man srun, OUTPUT ENVIRONMENT VARIABLES), each with a JEM_ twin."""
    env = dict(order.spec.environment)
    step_nodes = hostlist.collect_hostlist(list(order.step_nodes))
    node_index = order.step_nodes.index(node_name)
    per_node = tasks_per_node_text(order.n_tasks, len(order.step_nodes))   # the block layout of layout_tasks
    slurm = {
        "JOB_ID": str(order.job_id), "JOBID": str(order.job_id), "JOB_NAME": order.job_name,
        "JOB_NODELIST": hostlist.collect_hostlist(list(order.job_nodes)),
        "JOB_NUM_NODES": str(len(order.job_nodes)),
        "STEP_ID": str(order.step_id), "STEPID": str(order.step_id),
        "STEP_NODELIST": step_nodes, "STEP_NUM_NODES": str(len(order.step_nodes)),
        "STEP_NUM_TASKS": str(order.n_tasks), "STEP_TASKS_PER_NODE": per_node,
        "NODELIST": step_nodes, "NNODES": str(len(order.step_nodes)), "TASKS_PER_NODE": per_node,
        "NTASKS": str(order.n_tasks), "NPROCS": str(order.n_tasks),
        "PROCID": str(task_id), "LOCALID": str(local_id), "NODEID": str(node_index),
        "GTIDS": ",".join(map(str, order.task_ids)),
        "CPUS_PER_TASK": str(order.spec.cpus_per_task or int(env.get("SLURM_CPUS_PER_TASK", "1") or 1)),
    }
    for key, value in slurm.items():
        env["SLURM_" + key] = value
        env["JEM_" + key] = value
    env["SLURMD_NODENAME"] = env["JEM_NODENAME"] = node_name
    if order.gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = env["GPU_DEVICE_ORDINAL"] = ",".join(map(str, order.gpu_ids))
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env
