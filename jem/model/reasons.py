"""Why a job is in its state: Slurm's reason names, as squeue's REASON column shows them."""

import enum


class JobReason(enum.Enum):
    """A job's reason; the value is the name Slurm prints."""

    __hash__ = object.__hash__  # as JobState's (see there): members are singletons compared by identity

    NONE = "None"
    PRIORITY = "Priority"
    RESOURCES = "Resources"
    DEPENDENCY = "Dependency"
    JOB_HELD_USER = "JobHeldUser"
    JOB_HELD_ADMIN = "JobHeldAdmin"
    BEGIN_TIME = "BeginTime"
    PARTITION_DOWN = "PartitionDown"
    NODE_DOWN = "NodeDown"
    PARTITION_TIME_LIMIT = "PartitionTimeLimit"
    DEPENDENCY_NEVER_SATISFIED = "DependencyNeverSatisfied"
    LAUNCH_FAILED = "LaunchFailed"
    NON_ZERO_EXIT_CODE = "NonZeroExitCode"
    TIME_LIMIT = "TimeLimit"
    NODE_FAIL = "NodeFail"
    BEGIN_TIME_REQUEUE = "BeginTimeRequeue"
    RAISED_SIGNAL = "RaisedSignal"
    PARTITION_NODE_LIMIT = "PartitionNodeLimit"
    OUT_OF_MEMORY = "OutOfMemory"
    JOB_ARRAY_TASK_LIMIT = "JobArrayTaskLimit"
    ASSOC_MAX_JOBS_LIMIT = "AssocMaxJobsLimit"
    LAUNCH_FAILED_REQUEUE_HELD = "launch failed requeued held"


# Who holds a pending job (Job.held_by), and the reason it shows. Every hold but the
# owner's own is released by an operator only.
HOLD_REASONS = {"user": JobReason.JOB_HELD_USER, "admin": JobReason.JOB_HELD_ADMIN,
                "requeue_limit": JobReason.LAUNCH_FAILED_REQUEUE_HELD}
