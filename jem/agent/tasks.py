"""One task of a step on this node, from its start to its reported end: its program (srun's
argv, or its rank's line of a --multi-prog configuration), files (streamed output pipes or
per-task files), stdin (/dev/null, a per-task file, srun's stdin through `taskinput`, or a
pty for srun --pty's task 0), its start as the job's user in the step's cgroup
(`confined.start_confined`, which also applies what the submitter propagated and runs
--task-prolog), and after it exits, srun's --task-epilog, then its exit.

The epilog runs as the user in the task's cgroup and environment with its stdout discarded
and its stderr joining the task's, as slurmstepd runs it; a failure adds Slurm's
`TaskEpilog failed status=N` line (N a wait status) and never changes the task's exit code.
"""

import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field

from jem.agent.cgroups import JobCgroup
from jem.agent.confined import INHERITED_STDIN, Credentials, LaunchError, StartFiles, start_confined
from jem.agent.propagation import Propagated
from jem.agent.ptys import TaskPty
from jem.agent.taskinput import StdinFanout
from jem.model import multiprog
from jem.model.filenames import PatternValues, expand_pattern
from jem.model.job import JobUsage
from jem.model.step import STDIN_FROM_SRUN, TaskExit, TaskOrder, TaskOutput

READ_CHUNK = 65536
DRAIN_S = 2.0              # how long output of an exited task's leftovers is still read

# A --multi-prog task without a program ends as slurmstepd ends it.
NO_PROGRAM_ARGV = ("/bin/sh", "-c", "echo \"slurmstepd-${SLURMD_NODENAME-}: error: No executable program specified "
                   "for this task\" >&2; exit 2")
# srun --task-epilog ($1): Slurm's words when it cannot run (not an absolute path, or not an
# executable file), and when it fails (status: the wait status, as slurmstepd prints it).
_EPILOG = ("h=\"slurmstepd-${SLURMD_NODENAME-}: error:\"; case $1 in /*) ;; *) set -- \"\" \"$1\";; esac; "
           "if [ ! -f \"$1\" ] || [ ! -x \"$1\" ]; then echo \"$h Could not run user task_epilog [${2-$1}]: "
           "access denied\" >&2; echo \"$h TaskEpilog failed status=-1\" >&2; exit 0; fi; "
           "\"$1\" </dev/null >/dev/null; r=$?; "
           "[ \"$r\" -eq 0 ] || echo \"$h TaskEpilog failed status=$((r > 128 ? r - 128 : r * 256))\" >&2")


@dataclass
class Task:
    """A started task: its process, the threads reading its output, its epilog while it runs."""

    task_id: int
    process: subprocess.Popen
    readers: list[threading.Thread] = field(default_factory=list)
    step_id: int = 0
    epilog: subprocess.Popen | None = None


@dataclass
class StepLaunch:
    """What every task of one order starts with on this node."""

    order: TaskOrder
    node_name: str
    credentials: Credentials
    cgroup: JobCgroup | None
    events: queue.Queue             # TaskOutput and TaskExit, for the step's stream
    spawn_lock: threading.Lock      # held while a program starts (see confined.start_confined)
    propagated: Propagated
    fanout: StdinFanout | None      # srun's stdin, when it relays it
    programs: tuple[multiprog.Record, ...] = ()   # --multi-prog's records, checked

    @property
    def name(self) -> str:
        return f"step-{self.order.job_id}.{self.order.step_id}"

    def argv(self, task_id: int) -> list[str]:
        spec = self.order.spec
        if not spec.multi_prog:
            return list(spec.argv)
        return list(multiprog.task_argv(self.programs, task_id, spec.argv[1:]) or NO_PROGRAM_ARGV)

    def pattern_values(self, task_id: int) -> PatternValues:
        order = self.order
        return PatternValues(order.job_id, order.job_name, order.user, self.node_name,
                             node_index=order.step_nodes.index(self.node_name), task_id=task_id,
                             step=str(order.step_id), array_job_id=order.array_job_id or None,
                             array_task_id=order.array_task_id)

    def path(self, pattern: str, task_id: int) -> str:
        """A file pattern of the step expanded for `task_id`, under the working directory ("" for "")."""
        if not pattern:
            return ""
        return os.path.join(self.order.spec.working_dir, expand_pattern(pattern, self.pattern_values(task_id)))


def start_task(launch: StepLaunch, task_id: int, env: dict[str, str]) -> Task | TaskExit:
    """Start one task (see the module doc); a TaskExit with its launch error when it cannot start."""
    spec = launch.order.spec
    out_r, out_w = os.pipe() if spec.is_streamed else (None, None)
    err_r, err_w = os.pipe() if spec.is_stderr_streamed else (None, None)
    reads_srun = spec.stdin_of(task_id) == STDIN_FROM_SRUN and launch.fanout is not None
    stdin_pipe = os.pipe() if reads_srun else None
    files = _files(launch, task_id, out_w, err_w, has_stdin_pipe=stdin_pipe is not None)
    try:
        with launch.spawn_lock:
            process = start_confined(launch.argv(task_id), credentials=launch.credentials,
                                     working_dir=spec.working_dir, files=files, env=env, cgroup=launch.cgroup,
                                     propagated=launch.propagated, prolog=spec.task_prolog, stdin_pipe=stdin_pipe)
    except LaunchError as exc:
        for fd in (out_r, err_r, stdin_pipe[1] if stdin_pipe else None):
            if fd is not None:
                os.close(fd)
        return TaskExit(task_id, launch.node_name, exit_code=1, launch_error=str(exc))
    finally:
        for fd in (out_w, err_w):
            if fd is not None:
                os.close(fd)
    if stdin_pipe is not None:
        launch.fanout.add(stdin_pipe[1])
    task = Task(task_id, process, step_id=launch.order.step_id)
    for stream, fd in ((1, out_r), (2, err_r)):
        if fd is not None:
            name = f"{launch.name}-t{task_id}-{stream}"
            task.readers.append(_read_in_thread(fd, task_id, stream, launch.events, name))
    threading.Thread(target=wait_task, args=(launch, task, env), daemon=True).start()
    return task


def start_on_pty(launch: StepLaunch, task_id: int, env: dict[str, str]) -> Task | TaskExit:
    """Start a task with a pty as its stdin, stdout, stderr and controlling terminal
    (`ptys.TaskPty`): its output comes back as stdout, srun's keystrokes go in."""
    order = launch.order
    try:
        pty = TaskPty(uid=order.uid, gid=order.gid, environment=order.spec.environment)
    except OSError as exc:
        return TaskExit(task_id, launch.node_name, exit_code=1, launch_error=f"cannot open a pty: {exc}")
    files = StartFiles(pty.slave_path, "", "", pty.slave, pty.slave)
    try:
        with launch.spawn_lock:
            process = start_confined(launch.argv(task_id), credentials=launch.credentials,
                                     working_dir=order.spec.working_dir, files=files, env=env, cgroup=launch.cgroup,
                                     propagated=launch.propagated, prolog=order.spec.task_prolog)
    except LaunchError as exc:
        os.close(pty.master)
        return TaskExit(task_id, launch.node_name, exit_code=1, launch_error=str(exc))
    finally:
        pty.close_slave()
    task = Task(task_id, process, step_id=order.step_id)
    task.readers.append(pty.start(task_id, launch.events, f"{launch.name}-t{task_id}"))
    threading.Thread(target=wait_task, args=(launch, task, env), daemon=True).start()
    return task


def _files(launch: StepLaunch, task_id: int, out_w: int | None, err_w: int | None, *,
           has_stdin_pipe: bool) -> StartFiles:
    """The task's files: pipes where output is streamed, else the expanded patterns (without
    --error, stderr goes where stdout goes, as in Slurm); stdin as `StepSpec.stdin_of` says
    (srun's stdin without a relay to bring it: /dev/null)."""
    spec = launch.order.spec
    stdout_path, stderr_path = _output_paths(launch, task_id)
    source = spec.stdin_of(task_id)
    stdin_path = INHERITED_STDIN if has_stdin_pipe else os.devnull if source in (STDIN_FROM_SRUN, os.devnull) \
        else launch.path(source, task_id)
    return StartFiles(stdin_path, stdout_path, stderr_path, subprocess.DEVNULL if out_w is None else out_w,
                      subprocess.DEVNULL if err_w is None else err_w, open_mode=spec.open_mode or "truncate")


def _output_paths(launch: StepLaunch, task_id: int) -> tuple[str, str]:
    """The task's stdout and stderr files ("" for a stream that comes back)."""
    spec = launch.order.spec
    stdout_path = "" if spec.is_streamed else launch.path(spec.stdout_pattern, task_id)
    stderr_path = "" if spec.is_stderr_streamed else launch.path(spec.stderr_pattern, task_id) or stdout_path
    return stdout_path, stderr_path


def wait_task(launch: StepLaunch, task: Task, env: dict[str, str]) -> None:
    """Wait for the task to exit, kill what it left in its session, run its epilog, report its exit."""
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
    if launch.order.spec.task_epilog:
        _run_epilog(launch, task, env)
    usage = JobUsage(cpu_user_us=int(rusage.ru_utime * 1e6), cpu_system_us=int(rusage.ru_stime * 1e6),
                     max_rss_kib=rusage.ru_maxrss)
    launch.events.put(TaskExit(task.task_id, launch.node_name,
                               exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0,
                               exit_signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, usage=usage))


def _run_epilog(launch: StepLaunch, task: Task, env: dict[str, str]) -> None:
    """Run --task-epilog for `task` (see the module doc) and wait for it; its stderr goes where
    the task's went (appended to a per-task file)."""
    spec = launch.order.spec
    err_r, err_w = os.pipe() if spec.is_stderr_streamed else (None, None)
    _, stderr_path = _output_paths(launch, task.task_id)
    files = StartFiles("", "", stderr_path, subprocess.DEVNULL, err_w if err_w is not None else subprocess.DEVNULL,
                       open_mode="append")
    try:
        with launch.spawn_lock:
            task.epilog = start_confined(["/bin/sh", "-c", _EPILOG, "jem-task-epilog", spec.task_epilog],
                                         credentials=launch.credentials, working_dir=spec.working_dir, files=files,
                                         env=env, cgroup=launch.cgroup)
    except LaunchError as exc:
        if err_r is not None:
            os.close(err_r)
        launch.events.put(TaskOutput(task.task_id, 2, f"epilog: {exc}\n".encode()))
        return
    finally:
        if err_w is not None:
            os.close(err_w)
    if err_r is not None:
        read_stream(err_r, task.task_id, 2, launch.events)
    task.epilog.wait()


def _read_in_thread(fd: int, task_id: int, stream: int, events: queue.Queue, name: str) -> threading.Thread:
    reader = threading.Thread(target=read_stream, args=(fd, task_id, stream, events), daemon=True, name=name)
    reader.start()
    return reader


def read_stream(fd: int, task_id: int, stream: int, events: queue.Queue) -> None:
    """Pass what `fd` gives on as the task's output until its end, then close it."""
    try:
        while data := os.read(fd, READ_CHUNK):
            events.put(TaskOutput(task_id, stream, data))
    finally:
        os.close(fd)
