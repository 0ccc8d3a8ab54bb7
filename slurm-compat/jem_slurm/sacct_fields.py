"""sacct's fields: name, default width, and the value for a job's allocation row and its step rows.

Every field of Slurm 22.05's sacct, in --helpformat's order. A job that started
has, as Slurm shows them, the allocation (`123`), its batch step (`123.batch`),
which carries the job's usage (CPU time and peak memory), and a row per srun
step (`123.0`, `123.1`, ...) with the step's own tasks, CPUs, nodes, state, exit
code and usage. JEM does not model `123.extern`. Durations print as sacct prints
them: [D-]HH:MM:SS, and CPU times as MM:SS.mmm under an hour. Exit codes are
wait statuses (code << 8, or the signal), printed `code:signal`.
"""

from dataclasses import dataclass

import hostlist

from jem.model.states import JobState
from jem.model.units import format_mem_mib

from jem_slurm import jobview


def hms(seconds: int | None) -> str:
    """sacct's [D-]HH:MM:SS; UNLIMITED for None.

    >>> hms(59), hms(90061)
    ('00:00:59', '1-01:01:01')
    """
    if seconds is None:
        return "UNLIMITED"
    days, rest = divmod(max(0, int(seconds)), 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def cpu_time(us: int) -> str:
    """sacct's TotalCPU/UserCPU/SystemCPU form.

    >>> cpu_time(1000), cpu_time(61_500_000), cpu_time(3_600_000_000)
    ('00:00.001', '01:01.500', '01:00:00')
    """
    seconds, micros = divmod(max(0, int(us)), 1_000_000)
    if seconds >= 3600:
        return hms(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}.{micros // 1000:03d}"


def kib(value: int) -> str:
    """Memory in KiB as sacct prints it without --noconvert: the largest unit that divides it exactly.

    >>> kib(1240), kib(2048), kib(0)
    ('1240K', '2M', '0')
    """
    if not value:
        return "0"
    units = "KMGTP"
    index = 0
    while value % 1024 == 0 and index < len(units) - 1:
        value //= 1024
        index += 1
    return f"{value}{units[index]}"


@dataclass(frozen=True, slots=True)
class Row:
    """One printed row: a job's allocation (step ""), its batch step ("batch"), or
    one of its steps run by srun ("0", "1", ...; `record` is then the step). An
    allocation row holds the job's srun `steps` too (its DerivedExitCode). A row of an
    earlier run of a requeued job (`is_requeued`: sacct_records) has that run as its job."""

    job: object
    step: str
    now: float
    record: object = None
    steps: tuple = ()
    is_requeued: bool = False

    @property
    def is_step(self) -> bool:
        return bool(self.step)

    @property
    def is_batch(self) -> bool:
        return self.step == "batch"


# The end states slurmctld records before the batch script's status arrives (it ends the job
# itself, then kills it): the job's own ExitCode stays 0:0, and its batch step shows CANCELLED
# with the signal that killed it (Slurm 22.05: a cancelled job `0:0`, its batch `CANCELLED 0:15`).
_ENDED_BY_CONTROLLER = frozenset({JobState.CANCELLED, JobState.TIMEOUT, JobState.PREEMPTED, JobState.DEADLINE})


def _state(row: Row) -> str:
    job = row.job
    if row.record is not None:
        return row.record.state.value
    if row.is_requeued and not row.is_step:
        return JobState.REQUEUED.value
    if row.is_batch:
        killed = job.state in _ENDED_BY_CONTROLLER or (job.state is JobState.FAILED and job.exit_signal
                                                        and not job.exit_code)
        return "CANCELLED" if killed else job.state.value
    if job.state is JobState.CANCELLED:
        return f"CANCELLED by {job.uid}"
    return job.state.value


def _start(row: Row) -> float | None:
    job = row.job
    if row.record is not None:
        return row.record.start_time
    if job.start_time is None and job.state.is_terminal:
        return job.end_time  # ended before it started (cancelled while pending)
    return job.start_time


def _end(row: Row) -> float | None:
    return row.record.end_time if row.record is not None else row.job.end_time


def _elapsed(row: Row) -> int:
    return jobview.elapsed_s(row.record if row.record is not None else row.job, row.now)


def _alloc_cpus(row: Row) -> int:
    job = row.job
    if row.record is not None:
        return row.record.n_cpus
    if job.start_time is None and not job.state.is_terminal:
        return 0
    return job.shape.per_node.cpus if row.is_step else jobview.total_cpus(job)


def _node_list(row: Row) -> str:
    job = row.job
    if row.record is not None:
        return hostlist.collect_hostlist(list(row.record.nodes))
    if not job.nodes:
        return "None assigned"
    return job.nodes[0] if row.is_step else jobview.node_list(job)


def _usage(row: Row):
    return row.record.usage if row.record is not None else row.job.usage


def _usage_us(row: Row, which: str) -> int:
    usage = _usage(row)
    return {"user": usage.cpu_user_us, "system": usage.cpu_system_us,
            "total": usage.cpu_user_us + usage.cpu_system_us}[which]


def exit_status(row: Row) -> int:
    """The row's ExitCode as a wait status: a step's own; the batch script's; the job's as
    slurmctld records it: 0 for a batch job it ended itself (see _ENDED_BY_CONTROLLER), what srun
    reported for a job srun made (allocation rows hold the job's steps: `rows_for`)."""
    if row.record is not None:
        return jobview.wait_status(row.record.exit_code, row.record.exit_signal)
    if not row.is_step and row.job.state in _ENDED_BY_CONTROLLER and not row.job.is_allocation:
        return 0
    return jobview.batch_status(row.job)


def _n_nodes(row: Row) -> int:
    if row.record is not None:
        return len(row.record.nodes)
    return 1 if row.is_step else row.job.shape.n_nodes


def _n_tasks(row: Row) -> str:
    if row.record is not None:
        return str(row.record.n_tasks)
    return "1" if row.is_step else ""   # the batch step is one task


def _has_ended(row: Row) -> bool:
    return row.record.end_time is not None if row.record is not None else row.job.state.is_terminal


def _max_rss(row: Row) -> str:
    if not row.is_step or not _has_ended(row):
        return ""
    return kib(_usage(row).max_rss_kib)


def _ave_cpu(row: Row) -> str:
    """A step's CPU time per task (JEM sums its tasks' times, so the average is exact)."""
    if not row.is_step or not _has_ended(row):
        return ""
    return hms(_usage_us(row, "total") // 1_000_000 // max(1, int(_n_tasks(row))))


def _reserved_s(row: Row) -> int | None:
    """How long the job waited once eligible (Slurm's Reserved); None for a step or a job not started."""
    job = row.job
    if row.is_step or job.start_time is None:
        return None
    return max(0, int(job.start_time - (job.spec.begin_time or job.submit_time)))


def _tres_text(items: list[str], gres: "list[str] | tuple[()]") -> str:
    """sacct's TRES list: `name=value` items sorted as text, as sacct sorts them
    (`cpu=2,gres/gpu:a100=2,gres/gpu=2,mem=1G,node=1`: `:` sorts before `=`)."""
    return ",".join(sorted([*items, *gres]))


def _reason(row: Row) -> str:
    """Slurm's accounting keeps the reason a job last waited for before it started ("None" for
    one that started at once): JEM keeps the reason of a job that never started, else "None"."""
    return "None" if row.job.start_time is not None else jobview.reason_name(row.job)


def _job_only(fn):
    return lambda row: "" if row.is_step else fn(row)


def _empty(row: Row) -> str:
    return ""


def _same(text: str):
    return lambda row: text


# Slurm 22.05's sacct fields, in --helpformat's order: name -> (default width, value(row)).
# Fields JEM has no notion of (disk I/O, pages, virtual memory, energy, CPU frequency,
# per-task extremes, TRES usage, ...) print what Slurm prints when it has nothing: empty, or
# its constant (ConsumedEnergy 0, ReqCPUFreq Unknown). JobID, JobIDRaw and DBIndex are
# left-justified, the rest right.
FIELDS = {
    "Account": (10, lambda r: r.job.spec.account),
    "AdminComment": (15, _empty),
    "AllocCPUS": (10, lambda r: str(_alloc_cpus(r))),
    "AllocNodes": (10, lambda r: str(_n_nodes(r)) if r.job.nodes else "0"),
    "AllocTRES": (10, lambda r: _tres_text([f"cpu={_alloc_cpus(r)}",
                                            f"mem={format_mem_mib(r.job.shape.per_node.mem_mib)}",
                                            f"node={_n_nodes(r)}"],
                                           () if r.is_step else jobview.gres_tres(r.job, _n_nodes(r)))
                  if r.job.nodes else ""),
    "AssocID": (7, _empty),
    "AveCPU": (10, _ave_cpu),
    "AveCPUFreq": (10, _empty),
    "AveDiskRead": (14, _empty),
    "AveDiskWrite": (14, _empty),
    "AvePages": (10, _empty),
    "AveRSS": (10, lambda r: _max_rss(r) if r.is_step and _n_tasks(r) == "1" else ""),
    "AveVMSize": (10, _empty),
    "BlockID": (16, _empty),
    "Cluster": (10, None),   # the cluster's name: `getters` gives it
    "Comment": (14, _empty),
    "Constraints": (19, _job_only(lambda r: r.job.spec.constraint)),
    "ConsumedEnergy": (14, _same("0")),
    "ConsumedEnergyRaw": (17, _same("0")),
    "Container": (19, _empty),
    "CPUTime": (10, lambda r: hms(_elapsed(r) * _alloc_cpus(r))),
    "CPUTimeRAW": (10, lambda r: str(_elapsed(r) * _alloc_cpus(r))),
    "DBIndex": (10, _empty),
    "DerivedExitCode": (15, _job_only(lambda r: jobview.status_text(jobview.derived_status(r.steps)))),
    "Elapsed": (10, lambda r: hms(_elapsed(r))),
    "ElapsedRaw": (10, lambda r: str(_elapsed(r))),
    "Eligible": (19, lambda r: jobview.iso(r.job.spec.begin_time or r.job.submit_time, "Unknown")),
    "End": (19, lambda r: jobview.iso(_end(r), "Unknown")),
    "ExitCode": (8, lambda r: jobview.status_text(exit_status(r))),
    "Flags": (19, _empty),
    "GID": (6, _job_only(lambda r: str(r.job.gid))),
    "Group": (9, _job_only(lambda r: jobview.group_name(r.job.gid))),
    "JobID": (12, lambda r: f"{r.job.label}.{r.step}" if r.is_step else r.job.label),
    "JobIDRaw": (12, lambda r: f"{r.job.job_id}.{r.step}" if r.is_step else str(r.job.job_id)),
    "JobName": (10, lambda r: r.record.name if r.record is not None else r.step if r.is_step else r.job.spec.name),
    "Layout": (9, lambda r: "Block" if r.record is not None else "Unknown" if r.is_step else ""),
    "MaxDiskRead": (12, _empty),
    "MaxDiskReadNode": (15, _empty),
    "MaxDiskReadTask": (15, _empty),
    "MaxDiskWrite": (12, _empty),
    "MaxDiskWriteNode": (16, _empty),
    "MaxDiskWriteTask": (16, _empty),
    "MaxPages": (8, _empty),
    "MaxPagesNode": (12, _empty),
    "MaxPagesTask": (14, _empty),
    "MaxRSS": (10, _max_rss),
    "MaxRSSNode": (10, lambda r: _node_list(r) if _max_rss(r) and _n_nodes(r) == 1 else ""),
    "MaxRSSTask": (10, lambda r: "0" if _max_rss(r) and _n_tasks(r) == "1" else ""),
    "MaxVMSize": (10, _empty),
    "MaxVMSizeNode": (14, _empty),
    "MaxVMSizeTask": (14, _empty),
    "McsLabel": (12, _empty),
    "MinCPU": (10, lambda r: _ave_cpu(r) if _n_tasks(r) == "1" else ""),
    "MinCPUNode": (10, lambda r: _node_list(r) if _ave_cpu(r) and _n_nodes(r) == 1 else ""),
    "MinCPUTask": (10, lambda r: "0" if _ave_cpu(r) and _n_tasks(r) == "1" else ""),
    "NCPUS": (10, lambda r: str(_alloc_cpus(r))),
    "NNodes": (8, lambda r: str(_n_nodes(r))),
    "NodeList": (15, _node_list),
    "NTasks": (8, _n_tasks),
    "Partition": (10, _job_only(lambda r: r.job.spec.partition)),
    "Priority": (10, _job_only(lambda r: str(r.job.priority))),
    "QOS": (10, _job_only(lambda r: r.job.spec.qos or "normal")),
    "QOSRAW": (6, _empty),
    "Reason": (22, _job_only(_reason)),
    "ReqCPUFreq": (10, lambda r: "0" if r.is_batch else "Unknown"),
    "ReqCPUFreqGov": (13, lambda r: "0" if r.is_batch else "Unknown"),
    "ReqCPUFreqMax": (13, lambda r: "0" if r.is_batch else "Unknown"),
    "ReqCPUFreqMin": (13, lambda r: "0" if r.is_batch else "Unknown"),
    "ReqCPUS": (8, lambda r: str(_alloc_cpus(r)) if r.is_step else
                str(max(r.job.shape.n_tasks, 1) * r.job.spec.cpus_per_task)),
    "ReqMem": (10, _job_only(lambda r: format_mem_mib(r.job.shape.per_node.mem_mib))),
    "ReqNodes": (8, lambda r: str(_n_nodes(r) if r.is_step else r.job.shape.n_nodes)),
    "ReqTRES": (10, _job_only(lambda r: _tres_text([f"cpu={jobview.total_cpus(r.job)}",
                                                    f"mem={format_mem_mib(r.job.shape.per_node.mem_mib)}",
                                                    f"node={r.job.shape.n_nodes}"],
                                                   jobview.gres_tres(r.job, r.job.shape.n_nodes)))),
    "Reservation": (20, _job_only(lambda r: r.job.spec.reservation)),
    "ReservationId": (8, _empty),
    "Reserved": (10, lambda r: "" if _reserved_s(r) is None else hms(_reserved_s(r))),
    "ResvCPU": (10, lambda r: "" if _reserved_s(r) is None else hms(_reserved_s(r) * jobview.total_cpus(r.job))),
    "ResvCPURAW": (10, lambda r: "" if _reserved_s(r) is None else str(_reserved_s(r) * jobview.total_cpus(r.job))),
    "Start": (19, lambda r: jobview.iso(_start(r), "Unknown")),
    "State": (10, _state),
    "Submit": (19, lambda r: jobview.iso(_start(r) if r.is_step else r.job.submit_time, "Unknown")),
    "SubmitLine": (20, _empty),
    "Suspended": (10, lambda r: "00:00:00"),
    "SystemComment": (15, _empty),
    "SystemCPU": (10, lambda r: cpu_time(_usage_us(r, "system"))),
    "Timelimit": (10, _job_only(lambda r: hms(r.job.time_limit_s))),
    "TimelimitRaw": (10, _job_only(lambda r: "UNLIMITED" if r.job.time_limit_s is None
                                   else str(r.job.time_limit_s // 60))),
    "TotalCPU": (10, lambda r: cpu_time(_usage_us(r, "total"))),
    **{name: (width, _empty) for name, width in (
        ("TRESUsageInAve", 14), ("TRESUsageInMax", 14), ("TRESUsageInMaxNode", 18), ("TRESUsageInMaxTask", 18),
        ("TRESUsageInMin", 14), ("TRESUsageInMinNode", 18), ("TRESUsageInMinTask", 18), ("TRESUsageInTot", 14),
        ("TRESUsageOutAve", 15), ("TRESUsageOutMax", 15), ("TRESUsageOutMaxNode", 19), ("TRESUsageOutMaxTask", 19),
        ("TRESUsageOutMin", 15), ("TRESUsageOutMinNode", 19), ("TRESUsageOutMinTask", 19), ("TRESUsageOutTot", 15))},
    "UID": (6, _job_only(lambda r: str(r.job.uid))),
    "User": (9, _job_only(lambda r: r.job.user)),
    "UserCPU": (10, lambda r: cpu_time(_usage_us(r, "user"))),
    "WCKey": (10, _empty),
    "WCKeyID": (10, _job_only(_same("0"))),
    "WorkDir": (20, _job_only(lambda r: r.job.spec.working_dir)),
}
HELP_NAMES = tuple(FIELDS)   # what --helpformat lists: Slurm's fields only
# JEM's own, accepted in -o but not Slurm's (Slurm 22.05 refuses it): the times the job was requeued.
FIELDS["Restarts"] = (8, _job_only(lambda r: str(r.job.restart_count)))
LEFT_JUSTIFIED = {"JobID", "JobIDRaw", "DBIndex"}


def getters(cluster_name: str) -> dict:
    """name -> value(row) of every field, the Cluster field's value being `cluster_name`."""
    return {**{name: value for name, (_, value) in FIELDS.items()}, "Cluster": lambda row: cluster_name}


def help_lines() -> list[str]:
    """--helpformat: the field names four to a line, each in 19 columns and a space between, as sacct prints them."""
    return [" ".join(name.ljust(19) for name in HELP_NAMES[i:i + 4]) for i in range(0, len(HELP_NAMES), 4)]


BY_LOWER = {name.lower(): name for name in FIELDS}
DEFAULT_FORMAT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
BRIEF_FORMAT = "JobID,State,ExitCode"
LONG_FORMAT = ("JobID,JobIDRaw,JobName,Partition,MaxVMSize,MaxVMSizeNode,MaxVMSizeTask,AveVMSize,MaxRSS,MaxRSSNode,"
               "MaxRSSTask,AveRSS,MaxPages,MaxPagesNode,MaxPagesTask,AvePages,MinCPU,MinCPUNode,MinCPUTask,AveCPU,"
               "NTasks,AllocCPUS,Elapsed,State,ExitCode,AveCPUFreq,ReqCPUFreqMin,ReqCPUFreqMax,ReqCPUFreqGov,ReqMem,"
               "ConsumedEnergy,MaxDiskRead,MaxDiskReadNode,MaxDiskReadTask,AveDiskRead,MaxDiskWrite,MaxDiskWriteNode,"
               "MaxDiskWriteTask,AveDiskWrite,ReqTRES,AllocTRES,TRESUsageInAve,TRESUsageInMax,TRESUsageInMaxNode,"
               "TRESUsageInMaxTask,TRESUsageInMin,TRESUsageInMinNode,TRESUsageInMinTask,TRESUsageInTot,"
               "TRESUsageOutMax,TRESUsageOutMaxNode,TRESUsageOutMaxTask,TRESUsageOutAve,TRESUsageOutTot")


def rows_for(job, now: float, *, with_steps: bool, steps=(), has_batch: bool = True,
             is_requeued: bool = False) -> list[Row]:
    """The job's rows: the allocation (of an earlier run, shown REQUEUED, when `is_requeued`),
    then (with_steps) its batch step, unless the job has no batch script of its own (made by
    srun), and its srun steps by id."""
    rows = [Row(job, "", now, steps=tuple(steps), is_requeued=is_requeued)]
    if with_steps and job.start_time is not None and has_batch:
        rows.append(Row(job, "batch", now))
    if with_steps:
        rows.extend(Row(job, str(step.step_id), now, step) for step in steps)
    return rows
