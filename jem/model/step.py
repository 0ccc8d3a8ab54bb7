"""A job step: tasks started inside a running job's allocation (srun), its
request (`StepSpec`), how its tasks are laid out on the job's nodes, and its
record (`Step`). Times are epoch seconds.

A step may use at most what its job holds: nodes from the job's node list, in
order, and per node no more task CPUs than the job has there. Tasks are laid out
in blocks as Slurm's default distribution does: the first nodes get one more
task when the count does not divide evenly.
"""

import os
import signal
from dataclasses import dataclass, field

from jem.model.errors import InvalidArgument, StepTooLarge
from jem.model.job import JobUsage
from jem.model.limits import InputLimits, check_args, check_environment, check_text
from jem.model.resources import Resources
from jem.model.states import JobState


MAX_TASKS_PER_NODE = 512   # tasks of one step per node with -O (Slurm's build-time MAX_TASKS_PER_NODE)
STDIN_FROM_SRUN = "-"      # a task whose stdin is srun's (StepSpec.stdin_of)
STREAMED = "-"             # a stdout or stderr pattern: the stream comes back to the caller
STEP_KILL_WAIT_S = 2       # SIGTERM to SIGKILL for the tasks of a step whose caller went away


@dataclass(frozen=True, slots=True)
class StepSpec:
    """What a step asks for; zeros mean "as the allocation has"."""

    argv: tuple[str, ...]
    n_tasks: int = 0
    n_nodes: int = 0
    cpus_per_task: int = 0
    n_tasks_per_node: int = 0
    name: str = ""
    stdout_pattern: str = ""
    stderr_pattern: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    ends_job: bool = False
    overcommit: bool = False        # srun -O: tasks may share CPUs (at most MAX_TASKS_PER_NODE per node)
    multi_prog: str = ""            # srun --multi-prog: the configuration's text (jem.model.multiprog)
    task_prolog: str = ""           # srun --task-prolog: absolute path run before each task
    task_epilog: str = ""           # srun --task-epilog: absolute path run after each task
    input: str = ""                 # srun -i: "" or "all", "none", a task id, or a per-task file pattern
    open_mode: str = ""             # srun --open-mode for per-task files: "append" or "truncate" ("": truncate)

    def check_sizes(self, limits: InputLimits) -> None:
        """Every string within its bound and free of NUL bytes (jem.model.limits), and the
        open mode one of Slurm's."""
        check_args("argv", self.argv, limits)
        check_environment("environment", self.environment, limits)
        for name in ("working_dir", "stdout_pattern", "stderr_pattern", "task_prolog", "task_epilog", "input"):
            check_text(name, getattr(self, name), limits.max_path_len)
        check_text("name", self.name, limits.max_name_len)
        check_text("multi_prog", self.multi_prog, limits.max_script_size, unit="bytes")
        if self.open_mode not in ("", "append", "truncate"):
            raise InvalidArgument("open_mode: must be append or truncate")

    def stdin_of(self, task_id: int) -> str:
        """Where task `task_id` reads its stdin (see `input`): STDIN_FROM_SRUN, os.devnull, or
        a file pattern to expand on the task's node."""
        mode = self.input
        if mode in ("", "all"):
            return STDIN_FROM_SRUN
        if mode == "none":
            return os.devnull
        if mode.isascii() and mode.isdigit():
            return STDIN_FROM_SRUN if int(mode) == task_id else os.devnull
        return mode

    @property
    def step_name(self) -> str:
        """The name sacct shows: -J, else the program's base name."""
        return self.name or (os.path.basename(self.argv[0]) if self.argv else "")

    @property
    def is_streamed(self) -> bool:
        """Whether stdout comes back to the caller (no --output pattern, or STREAMED)."""
        return self.stdout_pattern in ("", STREAMED)

    @property
    def is_stderr_streamed(self) -> bool:
        """Whether stderr comes back to the caller: STREAMED, or no pattern and stdout does."""
        return self.stderr_pattern == STREAMED or (not self.stderr_pattern and self.is_streamed)


@dataclass(frozen=True, slots=True)
class TaskLayout:
    """Where a step's tasks run: its nodes and, per node, the global task ids."""

    nodes: tuple[str, ...]
    task_ids: tuple[tuple[int, ...], ...]
    cpus_per_task: int

    @property
    def n_tasks(self) -> int:
        return sum(len(ids) for ids in self.task_ids)


def layout_tasks(spec: StepSpec, *, job_nodes: tuple[str, ...], job_cpus_per_node: int,
                 job_cpus_per_task: int) -> TaskLayout:
    """Place the step's tasks on the job's nodes (block distribution).

    Worked example: -n 5 on a job of 2 nodes with 4 CPUs each gives n1 tasks
    0-2 and n2 tasks 3-4; -n 9 does not fit (9 CPUs > 8) and raises StepTooLarge,
    unless the step overcommits (-O: n1 tasks 0-4, n2 tasks 5-8).
    """
    if not spec.argv:
        raise InvalidArgument("argv: no program to run")
    cpt = spec.cpus_per_task or job_cpus_per_task
    if spec.n_nodes > len(job_nodes):
        raise StepTooLarge(f"{spec.n_nodes} nodes requested, the job has {len(job_nodes)}")
    if job_cpus_per_node < cpt:
        raise StepTooLarge(f"{cpt} CPUs per task, the job has {job_cpus_per_node} per node")
    per_node_max = MAX_TASKS_PER_NODE if spec.overcommit else job_cpus_per_node // cpt
    if spec.n_tasks_per_node:
        per_node_max = min(per_node_max, spec.n_tasks_per_node)
    # Like srun inside an allocation: every node of the job unless -N says
    # otherwise, but never more nodes than tasks.
    n_nodes = spec.n_nodes or len(job_nodes)
    n_tasks = spec.n_tasks or n_nodes * (spec.n_tasks_per_node or 1)
    if n_tasks < n_nodes:
        n_nodes = n_tasks
    if n_tasks > n_nodes * per_node_max:
        raise StepTooLarge(f"{n_tasks} tasks of {cpt} CPUs do not fit on {n_nodes} node(s) of the job")
    base, extra = divmod(n_tasks, n_nodes)
    ids, first = [], 0
    for i in range(n_nodes):
        count = base + (1 if i < extra else 0)
        ids.append(tuple(range(first, first + count)))
        first += count
    return TaskLayout(tuple(job_nodes[:n_nodes]), tuple(ids), cpt)


def node_index_of_task(task_id: int, *, n_tasks: int, n_nodes: int) -> int:
    """The index of the step node that runs `task_id` under `layout_tasks`'s blocks.

    >>> [node_index_of_task(t, n_tasks=5, n_nodes=2) for t in range(5)]
    [0, 0, 0, 1, 1]
    """
    base, extra = divmod(n_tasks, n_nodes)
    big = extra * (base + 1)   # the tasks of the first `extra` nodes, which get one more
    return task_id // (base + 1) if task_id < big else extra + (task_id - big) // base


@dataclass(frozen=True, slots=True)
class TaskExit:
    """How one task ended (launch_error set when it never started)."""

    task_id: int
    node: str
    exit_code: int = 0
    exit_signal: int = 0
    usage: JobUsage = field(default_factory=JobUsage)
    launch_error: str = ""


@dataclass(frozen=True, slots=True)
class TaskOutput:
    """A chunk of one task's stdout (stream 1) or stderr (stream 2)."""

    task_id: int
    stream: int
    data: bytes


@dataclass(slots=True)
class Step:
    """A step's record: RUNNING until every task ended, then COMPLETED, FAILED or CANCELLED."""

    job_id: int
    step_id: int
    name: str
    nodes: tuple[str, ...]
    n_tasks: int
    n_cpus: int
    start_time: float
    end_time: float | None = None
    state: JobState = JobState.RUNNING
    exit_code: int = 0
    exit_signal: int = 0
    usage: JobUsage = field(default_factory=JobUsage)
    ends_job: bool = False          # the job was made for this step (srun outside a job)

    def finish(self, exits: list[TaskExit], *, now: float, was_cancelled: bool) -> None:
        """Fold the tasks' exits into the step's end: the highest exit code, the
        first signal, summed CPU time and the largest peak memory."""
        self.end_time = now
        self.exit_code = max((e.exit_code for e in exits), default=0)
        self.exit_signal = next((e.exit_signal for e in exits if e.exit_signal), 0)
        self.usage = JobUsage(cpu_user_us=sum(e.usage.cpu_user_us for e in exits),
                              cpu_system_us=sum(e.usage.cpu_system_us for e in exits),
                              max_rss_kib=max((e.usage.max_rss_kib for e in exits), default=0))
        # Like Slurm, a task killed by SIGKILL counts as the step being killed.
        if was_cancelled or any(e.exit_signal == signal.SIGKILL for e in exits):
            self.state = JobState.CANCELLED
        elif self.exit_code or self.exit_signal or len(exits) < self.n_tasks:
            self.state = JobState.FAILED
        else:
            self.state = JobState.COMPLETED


@dataclass(frozen=True, slots=True)
class TaskOrder:
    """What the controller asks one agent to run for a step: the tasks on its node."""

    job_id: int
    step_id: int
    spec: StepSpec
    user: str
    uid: int
    gid: int
    task_ids: tuple[int, ...]           # global ids, in local id order
    step_nodes: tuple[str, ...]
    job_nodes: tuple[str, ...]
    n_tasks: int                        # of the whole step
    alloc: Resources                    # the job's resources on this node
    cpu_ids: tuple[int, ...] = ()
    gpu_ids: tuple[int, ...] = ()
    job_name: str = ""
    array_job_id: int = 0               # the job's array (%A), 0 outside arrays
    array_task_id: int | None = None    # the job's index in it (%a)
    user_signature: str = ""            # the caller's signed step digest (jem.security.signatures); "" if none
    # Fencing (jem.agent.fencing): the job's run when the controller decided on the step, and the
    # node's epoch then; the agent refuses an order for a run it no longer holds, or under an
    # earlier epoch. None and 0: unknown (an older controller), not checked.
    restart_count: int | None = None
    node_epoch: int = 0
