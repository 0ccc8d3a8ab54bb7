"""What passes between the controller and an agent about one job: the launch order
and the agent's reports on it. Times are epoch seconds; memory MiB/KiB as named."""

import enum
from dataclasses import dataclass, field

from jem.model.job import JobSpec, JobUsage
from jem.model.resources import Resources


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything an agent needs to run one batch job on its node."""

    job_id: int
    spec: JobSpec
    user: str
    uid: int
    gid: int
    nodes: tuple[str, ...]
    alloc: Resources
    n_tasks: int
    time_limit_s: int | None
    kill_wait_s: int
    submit_dir: str
    cluster_name: str
    cpu_ids: tuple[int, ...] = ()     # the CPU indices the controller gave the job on this node
    gpu_ids: tuple[int, ...] = ()     # the GPU indices on this node
    array_job_id: int = 0             # an array task's array id (SLURM_ARRAY_JOB_ID); 0 outside arrays
    array_task_id: int | None = None  # an array task's index (SLURM_ARRAY_TASK_ID)
    restart_count: int = 0            # which run of the job this is (requeues before it)
    user_signature: str = ""          # the submitter's signed job digest (jem.security.signatures); "" if none


class SignalScope(enum.Enum):
    """Which processes of a job a signal (not a kill) reaches, as scancel's options choose."""

    STEPS = "steps"   # every process but the batch shell, on every node of the job (scancel's default)
    BATCH = "batch"   # the batch shell alone (scancel -b, sbatch --signal=B:)
    FULL = "full"     # the batch shell, its children and every step (scancel -f)


class JobEnd(enum.Enum):
    """How a job's processes ended, as the agent saw it."""

    EXITED = "exited"
    TIME_LIMIT = "time_limit"
    KILLED = "killed"
    OUT_OF_MEMORY = "out_of_memory"
    LAUNCH_FAILED = "launch_failed"
    NODE_SHUTDOWN = "node_shutdown"


@dataclass(frozen=True, slots=True)
class JobReport:
    """A start notice (has_ended False) or an end report from an agent."""

    job_id: int
    has_ended: bool
    end: JobEnd | None = None
    exit_code: int = 0
    exit_signal: int = 0
    start_time: float | None = None
    end_time: float | None = None
    usage: JobUsage = field(default_factory=JobUsage)
    detail: str = ""
    restart_count: int | None = None   # the run it is about; None: unknown (applies to the live run)
