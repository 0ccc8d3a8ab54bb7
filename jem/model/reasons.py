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
    NODE_FAIL = "NodeFail"                  # (what records written before JEM named it NodeDown, as Slurm does, hold)
    BEGIN_TIME_REQUEUE = "BeginTimeRequeue"
    RAISED_SIGNAL = "RaisedSignal"
    PARTITION_NODE_LIMIT = "PartitionNodeLimit"
    OUT_OF_MEMORY = "OutOfMemory"
    JOB_ARRAY_TASK_LIMIT = "JobArrayTaskLimit"
    ASSOC_MAX_JOBS_LIMIT = "AssocMaxJobsLimit"
    LAUNCH_FAILED_REQUEUE_HELD = "launch failed requeued held"
    REQ_NODE_NOT_AVAIL = "ReqNodeNotAvail"
    RESERVATION = "Reservation"                  # its reservation has not begun
    RESERVATION_DELETED = "ReservationDeleted"   # the reservation it names is gone
    ACCOUNT_NOT_ALLOWED = "AccountNotAllowed"
    QOS_NOT_ALLOWED = "QOSNotAllowed"
    # Association and QOS limits (jem.scheduler.limits; `limit_reason` picks one).
    ASSOC_GRP_CPU_LIMIT = "AssocGrpCpuLimit"
    ASSOC_GRP_MEM_LIMIT = "AssocGrpMemLimit"
    ASSOC_GRP_NODE_LIMIT = "AssocGrpNodeLimit"
    ASSOC_GRP_ENERGY = "AssocGrpEnergy"
    ASSOC_GRP_BILLING = "AssocGrpBilling"
    ASSOC_GRP_GRES = "AssocGrpGRES"
    ASSOC_GRP_CPU_RUN_MINUTES_LIMIT = "AssocGrpCPURunMinutesLimit"
    ASSOC_GRP_MEM_RUN_MINUTES = "AssocGrpMemRunMinutes"
    ASSOC_GRP_NODE_RUN_MINUTES = "AssocGrpNodeRunMinutes"
    ASSOC_GRP_ENERGY_RUN_MINUTES = "AssocGrpEnergyRunMinutes"
    ASSOC_GRP_BILLING_RUN_MINUTES = "AssocGrpBillingRunMinutes"
    ASSOC_GRP_GRES_RUN_MINUTES = "AssocGrpGRESRunMinutes"
    ASSOC_GRP_JOBS_LIMIT = "AssocGrpJobsLimit"
    ASSOC_GRP_SUBMIT_JOBS_LIMIT = "AssocGrpSubmitJobsLimit"
    ASSOC_MAX_CPU_PER_JOB_LIMIT = "AssocMaxCpuPerJobLimit"
    ASSOC_MAX_MEM_PER_JOB = "AssocMaxMemPerJob"
    ASSOC_MAX_NODE_PER_JOB_LIMIT = "AssocMaxNodePerJobLimit"
    ASSOC_MAX_ENERGY_PER_JOB = "AssocMaxEnergyPerJob"
    ASSOC_MAX_BILLING_PER_JOB = "AssocMaxBillingPerJob"
    ASSOC_MAX_GRES_PER_JOB = "AssocMaxGRESPerJob"
    ASSOC_MAX_SUBMIT_JOB_LIMIT = "AssocMaxSubmitJobLimit"
    ASSOC_MAX_WALL_DURATION_PER_JOB_LIMIT = "AssocMaxWallDurationPerJobLimit"
    QOS_GRP_CPU_LIMIT = "QOSGrpCpuLimit"
    QOS_GRP_MEM_LIMIT = "QOSGrpMemLimit"
    QOS_GRP_NODE_LIMIT = "QOSGrpNodeLimit"
    QOS_GRP_ENERGY = "QOSGrpEnergy"
    QOS_GRP_BILLING = "QOSGrpBilling"
    QOS_GRP_GRES = "QOSGrpGRES"
    QOS_GRP_CPU_RUN_MINUTES_LIMIT = "QOSGrpCPURunMinutesLimit"
    QOS_GRP_MEMORY_RUN_MINUTES = "QOSGrpMemoryRunMinutes"
    QOS_GRP_NODE_RUN_MINUTES = "QOSGrpNodeRunMinutes"
    QOS_GRP_ENERGY_RUN_MINUTES = "QOSGrpEnergyRunMinutes"
    QOS_GRP_BILLING_RUN_MINUTES = "QOSGrpBillingRunMinutes"
    QOS_GRP_GRES_RUN_MINUTES = "QOSGrpGRESRunMinutes"
    QOS_GRP_JOBS_LIMIT = "QOSGrpJobsLimit"
    QOS_GRP_SUBMIT_JOBS_LIMIT = "QOSGrpSubmitJobsLimit"
    QOS_MAX_CPU_PER_JOB_LIMIT = "QOSMaxCpuPerJobLimit"
    QOS_MAX_MEMORY_PER_JOB = "QOSMaxMemoryPerJob"
    QOS_MAX_NODE_PER_JOB_LIMIT = "QOSMaxNodePerJobLimit"
    QOS_MAX_ENERGY_PER_JOB = "QOSMaxEnergyPerJob"
    QOS_MAX_BILLING_PER_JOB = "QOSMaxBillingPerJob"
    QOS_MAX_GRES_PER_JOB = "QOSMaxGRESPerJob"
    QOS_MAX_CPU_PER_USER_LIMIT = "QOSMaxCpuPerUserLimit"
    QOS_MAX_MEMORY_PER_USER = "QOSMaxMemoryPerUser"
    QOS_MAX_NODE_PER_USER_LIMIT = "QOSMaxNodePerUserLimit"
    QOS_MAX_ENERGY_PER_USER = "QOSMaxEnergyPerUser"
    QOS_MAX_BILLING_PER_USER = "QOSMaxBillingPerUser"
    QOS_MAX_GRES_PER_USER = "QOSMaxGRESPerUser"
    QOS_MAX_JOBS_PER_USER_LIMIT = "QOSMaxJobsPerUserLimit"
    QOS_MAX_SUBMIT_JOB_PER_USER_LIMIT = "QOSMaxSubmitJobPerUserLimit"
    QOS_MAX_WALL_DURATION_PER_JOB_LIMIT = "QOSMaxWallDurationPerJobLimit"


# Who holds a pending job (Job.held_by), and the reason it shows. Every hold but the
# owner's own is released by an operator only.
HOLD_REASONS = {"user": JobReason.JOB_HELD_USER, "admin": JobReason.JOB_HELD_ADMIN,
                "requeue_limit": JobReason.LAUNCH_FAILED_REQUEUE_HELD}


# Slurm's word for each TRES in a limit's reason, per kind of limit: (Assoc's, QOS's).
_TRES_WORDS = {
    "grp_tres": {"cpu": ("CpuLimit", "CpuLimit"), "mem": ("MemLimit", "MemLimit"), "node": ("NodeLimit", "NodeLimit"),
                 "energy": ("Energy", "Energy"), "billing": ("Billing", "Billing"), "gres": ("GRES", "GRES")},
    "grp_tres_run_mins": {"cpu": ("CPURunMinutesLimit", "CPURunMinutesLimit"), "mem": ("MemRunMinutes", "MemoryRunMinutes"),
                          "node": ("NodeRunMinutes", "NodeRunMinutes"), "energy": ("EnergyRunMinutes", "EnergyRunMinutes"),
                          "billing": ("BillingRunMinutes", "BillingRunMinutes"), "gres": ("GRESRunMinutes", "GRESRunMinutes")},
    "max_tres_per_job": {"cpu": ("CpuPerJobLimit", "CpuPerJobLimit"), "mem": ("MemPerJob", "MemoryPerJob"),
                         "node": ("NodePerJobLimit", "NodePerJobLimit"), "energy": ("EnergyPerJob", "EnergyPerJob"),
                         "billing": ("BillingPerJob", "BillingPerJob"), "gres": ("GRESPerJob", "GRESPerJob")},
    "max_tres_per_user": {"cpu": ("", "CpuPerUserLimit"), "mem": ("", "MemoryPerUser"), "node": ("", "NodePerUserLimit"),
                          "energy": ("", "EnergyPerUser"), "billing": ("", "BillingPerUser"), "gres": ("", "GRESPerUser")},
}
_COUNT_WORDS = {"grp_jobs": ("AssocGrpJobsLimit", "QOSGrpJobsLimit"),
                "grp_submit_jobs": ("AssocGrpSubmitJobsLimit", "QOSGrpSubmitJobsLimit"),
                "max_jobs": ("AssocMaxJobsLimit", "QOSMaxJobsPerUserLimit"),
                "max_submit_jobs": ("AssocMaxSubmitJobLimit", "QOSMaxSubmitJobPerUserLimit"),
                "max_wall_s": ("AssocMaxWallDurationPerJobLimit", "QOSMaxWallDurationPerJobLimit")}


def limit_reason(*, is_qos: bool, field: str, tres: str = "") -> JobReason:
    """The reason Slurm gives a job held by an association's (or a QOS's) limit `field` (a
    jem.model.associations.Limits field) on `tres`: AssocGrpCpuLimit, QOSMaxGRESPerUser, ...

    >>> limit_reason(is_qos=True, field="max_tres_per_user", tres="gres/gpu").value
    'QOSMaxGRESPerUser'
    """
    if field in _COUNT_WORDS:
        return JobReason(_COUNT_WORDS[field][is_qos])
    kind = "gres" if tres.startswith("gres/") else tres
    prefix = "QOS" if is_qos else "Assoc"
    middle = {"grp_tres": "Grp", "grp_tres_run_mins": "Grp", "max_tres_per_job": "Max", "max_tres_per_user": "Max"}[field]
    return JobReason(prefix + middle + _TRES_WORDS[field][kind][is_qos])
