"""A batch job: what was asked for (`JobSpec`) and what became of it (`Job`).

Times are epoch seconds (float); durations are whole seconds with None for
UNLIMITED; memory is MiB. A `JobSpec` is immutable once submitted; a `Job`
is the controller's record, changed only through the state machine in
`jem.model.states` and committed to the store before anyone acts on it.
"""

import itertools
import math
from dataclasses import dataclass, field

from jem.model.arrays import accepted_array, format_ranges
from jem.model.errors import InvalidJobSpec, ParameterTooLong
from jem.model.features import parse_constraint
from jem.model.gres import check_gpu_type, typed_constraint
from jem.model.limits import DEFAULT_LIMITS, InputLimits, check_args, check_environment, check_text
from jem.model.mail import check_mail_user, mail_types_of
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.retry import check_policy
from jem.model.states import JobEvent, JobState

MAX_NAME_LEN = DEFAULT_LIMITS.max_name_len
NICE_LIMIT = 2147483645                   # |--nice| at most (Slurm's NICE_OFFSET - 3)


# The script of a job made as an allocation (salloc's, or one for a step srun or `jem run` runs
# outside a job): no batch script of its user's (Slurm's BatchFlag=0), it only holds the nodes
# until the allocation ends. A public constant, so that every viewer may be shown it (`Job.is_allocation`).
ALLOCATION_SCRIPT = "#!/bin/sh\n# Holds the allocation of a step run outside a job.\nwhile :; do sleep 3600; done\n"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a user asks for when submitting a batch job (sbatch's options)."""

    script: str
    name: str = ""
    account: str = ""
    partition: str = ""
    n_nodes: int = 0                 # 0: as few as the tasks need
    n_tasks: int = 0                 # 0: one per node
    cpus_per_task: int = 1
    n_tasks_per_node: int = 0        # 0: unset
    mem_per_node_mib: int | None = None
    mem_per_cpu_mib: int | None = None
    gpus_per_node: int = 0
    time_limit_s: int | None = None  # None: the partition's default
    time_limit_unlimited: bool = False
    script_args: tuple[str, ...] = ()
    working_dir: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    stdout_pattern: str = ""
    stderr_pattern: str = ""
    stdin_path: str = ""
    hold: bool = False
    begin_time: float | None = None
    nice: int = 0
    requeue: bool | None = None      # None: the cluster's default (requeue on node failure)
    array: str = ""                  # --array index specification ("0-15:4%2"); see jem.model.arrays
    dependency: str = ""             # --dependency text; see jem.model.dependency
    open_mode: str = ""              # --open-mode: "append" or "truncate" ("": truncate)
    warn_signal: int = 0             # --signal: send this signal warn_time_s before the time limit (0: none)
    warn_time_s: int = 0
    warn_batch_only: bool = False    # --signal=B:...: only the batch shell (else every process but it)
    # Scheduling constraints (sbatch -C, --exclusive, -q, --gres beyond GPUs).
    constraint: str = ""             # required node features: "a", "a&b" or "a|b" (jem.model.features)
    exclusive: bool = False          # the job takes whole nodes
    qos: str = ""                    # "": the default QOS, "normal"
    gres_per_node: tuple[tuple[str, int], ...] = ()   # further countable resources (name, count) per node
    reservation: str = ""            # the advance reservation to run in (--reservation); "": none
    gpu_type: str = ""               # the type its GPUs must have (--gres=gpu:a100:2); "": any GPU
    overcommit: bool = False         # -O: allocated as one task per node; its tasks share the CPUs
    mail_type: str = ""              # --mail-type, canonical (jem.model.mail.mail_type_text); "": no mail
    mail_user: str = ""              # --mail-user; "": the submitting user (jem.model.mail.mail_recipient)
    # A retry policy (jem.model.retry): runs again after a failed run, and after how long.
    retries: int = 0                 # --retries: runs at most this many more times after failed ones (0: none)
    retry_delay_s: int = 0           # --retry-delay: the first retry's backoff, doubled for each later one
    retry_on: tuple[JobState, ...] = ()   # --retry-on: the end states retried; (): all of retry.RETRYABLE_STATES
    cron_schedule: str = ""          # a scrontab entry's job: its schedule as the controller parsed it (model.cron)

    def validate(self, limits: InputLimits = DEFAULT_LIMITS) -> None:
        """Raise InvalidJobSpec naming the first field that is malformed, or ParameterTooLong
        naming one over the cluster's `limits` (checked first: nothing else reads a huge value)."""
        self.check_sizes(limits)
        checks = (
            ("script", bool(self.script.strip()), "the batch script is empty"),
            ("script", self.script.startswith("#!"),
             'this does not look like a batch script: the first line must start with #! followed by the interpreter'),
            ("n_nodes", self.n_nodes >= 0, "must not be negative"),
            ("n_tasks", self.n_tasks >= 0, "must not be negative"),
            ("cpus_per_task", self.cpus_per_task >= 1, "must be at least 1"),
            ("n_tasks_per_node", self.n_tasks_per_node >= 0, "must not be negative"),
            ("mem_per_node_mib", self.mem_per_node_mib is None or self.mem_per_node_mib >= 0, "must not be negative"),
            ("mem_per_cpu_mib", self.mem_per_cpu_mib is None or self.mem_per_cpu_mib >= 0, "must not be negative"),
            ("mem", self.mem_per_node_mib is None or self.mem_per_cpu_mib is None,
             "--mem and --mem-per-cpu are mutually exclusive"),
            ("gpus_per_node", self.gpus_per_node >= 0, "must not be negative"),
            ("time_limit_s", self.time_limit_s is None or self.time_limit_s > 0, "must be positive"),
            ("nice", -NICE_LIMIT <= self.nice <= NICE_LIMIT, "out of range"),
            ("working_dir", not self.working_dir or self.working_dir.startswith("/"), "must be an absolute path"),
            ("open_mode", self.open_mode in ("", "append", "truncate"), "must be append or truncate"),
            ("warn_signal", 0 <= self.warn_signal < 65, "not a signal number"),
            ("warn_time_s", 0 <= self.warn_time_s <= 65535, "must be 0..65535 seconds"),
            ("gres_per_node", all(count >= 0 for _, count in self.gres_per_node), "counts must not be negative"),
            ("gpu_type", not self.gpu_type or self.gpus_per_node > 0, "a GPU type needs a GPU count"),
        )
        for name, is_ok, why in checks:
            if not is_ok:
                raise InvalidJobSpec(f"{name}: {why}")
        if self.gpu_type:
            try:
                check_gpu_type(self.gpu_type)
            except ValueError as exc:
                raise InvalidJobSpec(f"gpu_type: {exc}") from None
        parse_constraint(typed_constraint(self.constraint, self.gpu_type))
        check_policy(retries=self.retries, retry_delay_s=self.retry_delay_s, retry_on=self.retry_on,
                     requeue=self.requeue)
        for name, check in (("mail_type", mail_types_of), ("mail_user", check_mail_user)):
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise InvalidJobSpec(f"{name}: {exc}") from None

    def check_sizes(self, limits: InputLimits) -> None:
        """Every string within its bound and free of NUL bytes (jem.model.limits)."""
        check_text("script", self.script, limits.max_script_size, unit="bytes")
        check_args("script_args", self.script_args, limits)
        check_environment("environment", self.environment, limits)
        for name in ("working_dir", "stdout_pattern", "stderr_pattern", "stdin_path"):
            check_text(name, getattr(self, name), limits.max_path_len)
        for name in ("name", "account", "partition", "qos", "constraint", "reservation", "gpu_type", "mail_type",
                     "mail_user"):
            check_text(name, getattr(self, name), limits.max_name_len)
        check_text("dependency", self.dependency, limits.max_arg_size)   # its job count: submission.py
        check_text("array", self.array, limits.max_array_text)
        check_text("cron_schedule", self.cron_schedule, limits.max_name_len)
        if len(self.gres_per_node) > limits.max_args:
            raise ParameterTooLong(f"gres_per_node: {len(self.gres_per_node)} entries, more than the cluster's "
                                   f"limit of {limits.max_args}")
        for gres, _ in self.gres_per_node:
            check_text("gres_per_node", gres, limits.max_name_len)


@dataclass(frozen=True, slots=True)
class JobShape:
    """How a job's request spreads over nodes, after defaults.

    Every node of the job gets the same `per_node` request.
    """

    n_nodes: int
    n_tasks: int
    per_node: Resources


def shape_job(spec: JobSpec, *, largest_node_cpus: int, default_mem_per_cpu_mib: int) -> JobShape:
    """Resolve node count, task count and the per-node request of `spec`.

    Follows sbatch: without -N a job takes as few nodes as its CPUs need on the
    partition's largest node; with fewer tasks than nodes, the node count drops
    to the task count; memory is --mem per node, or --mem-per-cpu (or the
    partition default) times the CPUs on the node.

    Worked example: -n 10 -c 2 on 8-CPU nodes needs 20 CPUs, so 3 nodes, with
    ceil(10 / 3) = 4 tasks and 8 CPUs per node. With -O (overcommit) the request is
    sized as one task per node, as sbatch's: -O -n 10 -c 2 is one node of 2 CPUs
    that its 10 tasks share, and --ntasks-per-node is ignored.
    """
    cpt = spec.cpus_per_task
    n_nodes = spec.n_nodes
    n_tasks = spec.n_tasks
    if spec.overcommit:
        n_tasks = n_tasks or max(n_nodes, 1)
        n_nodes = max(1, min(n_nodes or 1, n_tasks))
        return JobShape(n_nodes=n_nodes, n_tasks=n_tasks,
                        per_node=Resources(cpt, _node_mem_mib(spec, cpt, default_mem_per_cpu_mib), spec.gpus_per_node))
    if n_tasks == 0:
        n_tasks = max(n_nodes, 1) * (spec.n_tasks_per_node or 1)
    if n_nodes == 0:
        if spec.n_tasks_per_node:
            n_nodes = math.ceil(n_tasks / spec.n_tasks_per_node)
        else:
            per_node_tasks = max(largest_node_cpus // cpt, 1)
            n_nodes = math.ceil(n_tasks / per_node_tasks)
    n_nodes = max(1, min(n_nodes, n_tasks))
    tasks_per_node = math.ceil(n_tasks / n_nodes)
    if spec.n_tasks_per_node:
        # --ntasks-per-node is a maximum when -n is given too (sbatch(1)).
        if tasks_per_node > spec.n_tasks_per_node:
            raise InvalidJobSpec(f"ntasks: {n_tasks} tasks do not fit on {n_nodes} node(s) with at most "
                                 f"{spec.n_tasks_per_node} task(s) per node")
    cpus = tasks_per_node * cpt
    return JobShape(n_nodes=n_nodes, n_tasks=n_tasks,
                    per_node=Resources(cpus, _node_mem_mib(spec, cpus, default_mem_per_cpu_mib), spec.gpus_per_node))


def _node_mem_mib(spec: JobSpec, cpus: int, default_mem_per_cpu_mib: int) -> int:
    """--mem per node, else --mem-per-cpu (or the partition's default) times the node's CPUs."""
    if spec.mem_per_node_mib is not None:
        return spec.mem_per_node_mib
    return cpus * (spec.mem_per_cpu_mib if spec.mem_per_cpu_mib is not None else default_mem_per_cpu_mib)


@dataclass(frozen=True, slots=True)
class JobUsage:
    """What a job consumed, as its agent measured it."""

    cpu_user_us: int = 0
    cpu_system_us: int = 0
    max_rss_kib: int = 0


_next_stamp = itertools.count(1).__next__   # (a C call: atomic under the GIL)
_set_slot = object.__setattr__


class ChangeStamped:
    """An object that knows when it last changed: `change_stamp`, from a counter shared by every
    such object, rises whenever one of its fields is set.

    What it is for: the controller's listings keep each job's serialized bytes and reuse them
    while its stamp is the one they were made at (jem.controller.jobwire), instead of comparing
    every field of 100,000 jobs on each listing. That holds because every field of a `Job`
    holds an immutable value (tests/unit/test_jobwire.py checks it): a job changes only by
    having a field set. A field set to the value it had counts as a change too (comparing
    first would cost every set, and construction most of all): code that rewrites many jobs
    with what they mostly hold already, as each scheduling cycle does, compares first.
    """

    __slots__ = ("change_stamp",)

    def __setattr__(self, name: str, value) -> None:
        _set_slot(self, name, value)
        _set_slot(self, "change_stamp", _next_stamp())


@dataclass(slots=True)
class Job(ChangeStamped):
    """The controller's record of one job."""

    job_id: int
    spec: JobSpec
    user: str
    uid: int
    gid: int
    submit_time: float
    shape: JobShape
    time_limit_s: int | None                 # resolved: None means no limit
    state: JobState = JobState.PENDING
    reason: JobReason = JobReason.NONE
    reason_detail: str = ""
    priority: int = 0
    held_by: str = ""                        # "", or who holds it: a key of reasons.HOLD_REASONS
    start_time: float | None = None
    end_time: float | None = None
    nodes: tuple[str, ...] = ()
    cpu_ids: tuple[tuple[int, ...], ...] = ()   # per node (in `nodes` order): the CPU indices held there
    gpu_ids: tuple[tuple[int, ...], ...] = ()   # per node: the GPU indices held there
    exit_code: int = 0
    exit_signal: int = 0
    restart_count: int = 0
    retries_done: int = 0                    # retries its retry policy made so far (each also a restart)
    failure_requeues: int = 0                # requeues after its node failed: past a few, the job is held
    kill_cause: JobEvent | None = None       # the end event owed once a killed job's processes are gone
    kill_time: float | None = None           # when the kill was sent (resent if the job outlives it)
    usage: JobUsage = field(default_factory=JobUsage)
    planned_start: float | None = None       # not persisted: the scheduler's planned start
    planned_start_is_estimate: bool = False  # not persisted: planned_start is an estimate, not a reservation
    planned_nodes: tuple[str, ...] = ()      # not persisted: the nodes of the planned start (SchedNodeList)
    planned_start_is_forecast: bool = False  # not persisted: the estimate is a forecast (pooled, coarser)
    array_task_id: int | None = None         # this job's index in its array; None outside arrays and
                                             # for an array's record while it still stands for several tasks
    array_parent_id: int = 0                 # a split-off task: the id of the array's own record
    array_pending: tuple[int, ...] = ()      # the array's own record: indices not yet split off as tasks
    dependency: str = ""                     # what of spec.dependency is not met yet ("" once met)
    user_signature: str = ""                 # the submitter's signed job digest, kept across requeues; "" if none
    time_limit_cut: bool = False             # time_limit_s was cut to a reservation's end (this run only) ...
    uncut_time_limit_s: int | None = None    # ... from this, which a requeue gives back

    @property
    def array_job_id(self) -> int:
        """The array's id (SLURM_ARRAY_JOB_ID, %A) for a task or an array's record; 0 outside arrays."""
        if self.array_parent_id:
            return self.array_parent_id
        return self.job_id if self.spec.array else 0

    @property
    def label(self) -> str:
        """The id as Slurm prints it: `12`, a task `12_3`, or an array's unsplit tasks `12_[4-9%2]`."""
        if self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        if self.array_pending:
            throttle = accepted_array(self.spec.array).max_running
            return f"{self.job_id}_[{format_ranges(self.array_pending)}{f'%{throttle}' if throttle else ''}]"
        return str(self.job_id)

    @property
    def list_order(self) -> tuple[int, int]:
        """Where the job goes in listings: by id, an array's records together in task order
        (its unsplit tasks last)."""
        if not self.array_job_id:
            return (self.job_id, -1)
        return (self.array_job_id, self.array_task_id if self.array_task_id is not None else 1 << 62)

    @property
    def is_pending(self) -> bool:
        return self.state is JobState.PENDING

    @property
    def is_allocation(self) -> bool:
        """Made as an allocation (salloc, srun outside a job), not a batch job: no batch step."""
        return self.spec.script == ALLOCATION_SCRIPT

    @property
    def is_live(self) -> bool:
        """True while the job holds nodes (running, suspended or completing)."""
        return self.state in (JobState.RUNNING, JobState.SUSPENDED, JobState.COMPLETING)
