"""The tasks of job steps on this node: started as the job's user inside the
job's cgroup, their output streamed back (or written to files), their exits
reported, and all of them killed when the caller goes away.

Where the job's batch script runs here, tasks join its cgroup (the job's limits
hold for the script and its steps together, and a cancel or the end of the job
kills them with it). Elsewhere the step gets a `steps_<job>` cgroup holding the
job's resources on this node, shared by the job's concurrent steps here and
removed after the last. Each task runs in a session of its own, so whatever a
task leaves behind is killed with its process group when it exits. How each task
starts and ends (its program, files, stdin, prolog and epilog) is `tasks.py`; with srun
--pty, task 0 runs on a pseudo-terminal of its own (`ptys.py`), and srun's stdin reaches
the tasks that read it through one connection per node (`taskinput.py`).

Each order is fenced by the job's run and the node's epoch before any task starts
(`fencing.RunFence.admit_step`): on the batch node only the run held there takes
tasks, elsewhere no run earlier than the latest seen; any other is refused (StaleRun).
"""

import logging
import os
import queue
import signal
import threading
import time
from typing import Callable, Iterator

from jem.agent import propagation
from jem.agent.cgroups import JobCgroup
from jem.agent.procusage import TreeUsage, tree_usage
from jem.agent.confined import LaunchError, credentials_for
from jem.agent.environment import task_environment
from jem.agent.fencing import StepAdmission
from jem.agent.ptys import wants_pty
from jem.agent.running import RunningJobs
from jem.agent.taskinput import StdinFanout, has_stdin_relay
from jem.agent.tasks import StepLaunch, Task, start_on_pty, start_task
from jem.model import multiprog
from jem.model.errors import StaleRun
from jem.model.step import STDIN_FROM_SRUN, STEP_KILL_WAIT_S, TaskExit, TaskOrder, TaskOutput

log = logging.getLogger(__name__)

POLL_S = 0.2               # how often a waiting stream checks that its caller is still there
DRAIN_S = 2.0              # how long a released steps cgroup's processes get to go
BATCH_WAIT_S = 5.0         # how long a step waits for its job's batch launch on the batch node


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
        self._running: dict[int, list[Task]] = {}   # job id -> its step tasks running here
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
        tasks: list[Task] = []
        fanout = None
        try:
            tasks, failed, fanout = self._start_all(order, cgroup, events)
            with self._lock:
                self._running.setdefault(order.job_id, []).extend(tasks)
            yield from failed
            yield from self._follow(tasks, events, is_active)
        finally:
            if fanout is not None:
                fanout.close()
            with self._lock:
                left = [t for t in self._running.get(order.job_id, ()) if t not in tasks]
                if left:
                    self._running[order.job_id] = left
                else:
                    self._running.pop(order.job_id, None)
            if shared and cgroup is not None:
                self._shared.release(order.job_id)

    def _start_all(self, order: TaskOrder, cgroup: JobCgroup | None,
                   events: queue.Queue) -> tuple[list[Task], list[TaskExit], StdinFanout | None]:
        """Start the order's tasks (`tasks.py`); the started ones, the exits of those that could
        not start, and the relay of srun's stdin to them (started once they all are)."""
        spec = order.spec
        try:
            credentials = credentials_for(order.uid, order.gid, order.user, node_name=self._node_name)
            programs = multiprog.check(spec.multi_prog, order.n_tasks, name=spec.argv[0]) if spec.multi_prog else ()
        except (LaunchError, multiprog.MultiProgError) as exc:
            return [], [TaskExit(t, self._node_name, exit_code=1, launch_error=str(exc)) for t in order.task_ids], None
        fanout = StdinFanout(spec.environment, name=f"step-{order.job_id}.{order.step_id}") \
            if has_stdin_relay(spec.environment) and any(spec.stdin_of(t) == STDIN_FROM_SRUN for t in order.task_ids) \
            else None
        launch = StepLaunch(order, self._node_name, credentials, cgroup, events, self._jobs.spawn_lock,
                            propagation.propagated(spec.environment), fanout, programs)
        tasks, failed = [], []
        for local_id, task_id in enumerate(order.task_ids):
            env = task_environment(order, node_name=self._node_name, local_id=local_id, task_id=task_id)
            is_pty = task_id == 0 and wants_pty(spec.environment)   # srun --pty: task 0 on a terminal of its own
            started = start_on_pty(launch, task_id, env) if is_pty else start_task(launch, task_id, env)
            (failed if isinstance(started, TaskExit) else tasks).append(started)
        if fanout is not None:
            fanout.start()
        return tasks, failed, fanout

    def _follow(self, tasks: list[Task], events: queue.Queue,
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


def _kill(tasks: list[Task]) -> None:
    """SIGTERM every task's session (or its epilog's) now, SIGKILL what is left after STEP_KILL_WAIT_S."""
    def signal_all(signum: int) -> None:
        for task in tasks:
            for process in (task.process, task.epilog):
                if process is not None and process.returncode is None:
                    try:
                        os.killpg(process.pid, signum)
                    except (ProcessLookupError, PermissionError):
                        pass

    signal_all(signal.SIGCONT)
    signal_all(signal.SIGTERM)
    timer = threading.Timer(STEP_KILL_WAIT_S, signal_all, args=(signal.SIGKILL,))
    timer.daemon = True
    timer.start()
