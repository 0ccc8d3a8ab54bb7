"""sacct's fields: name, default width, and the value for a job's allocation row and its step rows.

A job that started has, as Slurm shows them, the allocation (`123`), its batch
step (`123.batch`), which carries the job's usage (CPU time and peak memory),
and a row per srun step (`123.0`, `123.1`, ...) with the step's own tasks,
CPUs, nodes, state, exit code and usage. JEM does not model `123.extern`. Durations print as sacct prints them: [D-]HH:MM:SS, and CPU
times as MM:SS.mmm under an hour.
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
    one of its steps run by srun ("0", "1", ...; `record` is then the step)."""

    job: object
    step: str
    now: float
    record: object = None

    @property
    def is_step(self) -> bool:
        return bool(self.step)


def _state(row: Row) -> str:
    job = row.job
    if row.record is not None:
        return row.record.state.value
    if job.state is JobState.CANCELLED and not row.is_step:
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


def _usage_us(row: Row, which: str) -> int:
    usage = row.record.usage if row.record is not None else row.job.usage
    return {"user": usage.cpu_user_us, "system": usage.cpu_system_us,
            "total": usage.cpu_user_us + usage.cpu_system_us}[which]


def _exit(row: Row) -> str:
    return jobview.exit_code(row.record if row.record is not None else row.job)


def _n_nodes(row: Row) -> int:
    if row.record is not None:
        return len(row.record.nodes)
    return 1 if row.is_step else row.job.shape.n_nodes


def _n_tasks(row: Row) -> str:
    if row.record is not None:
        return str(row.record.n_tasks)
    return "1" if row.is_step else ""   # the batch step is one task


def _max_rss(row: Row) -> str:
    if row.record is not None:
        return kib(row.record.usage.max_rss_kib) if row.record.end_time is not None else ""
    return kib(row.job.usage.max_rss_kib) if row.is_step and row.job.state.is_terminal else ""


def _tres_text(items: list[str], gres: "list[str] | tuple[()]") -> str:
    """sacct's TRES list: `name=value` items sorted as text, as sacct sorts them
    (`cpu=2,gres/gpu:a100=2,gres/gpu=2,mem=1G,node=1`: `:` sorts before `=`)."""
    return ",".join(sorted([*items, *gres]))


def _job_only(fn):
    return lambda row: "" if row.is_step else fn(row)


# name -> (default width, value(row)); JobID and JobIDRaw are left-justified, the rest right.
FIELDS = {
    "JobID": (12, lambda r: f"{r.job.label}.{r.step}" if r.is_step else r.job.label),
    "JobIDRaw": (12, lambda r: f"{r.job.job_id}.{r.step}" if r.is_step else str(r.job.job_id)),
    "JobName": (10, lambda r: r.record.name if r.record is not None else r.step if r.is_step else r.job.spec.name),
    "Partition": (10, _job_only(lambda r: r.job.spec.partition)),
    "Account": (10, lambda r: r.job.spec.account),
    "AllocCPUS": (10, lambda r: str(_alloc_cpus(r))),
    "NCPUS": (10, lambda r: str(_alloc_cpus(r))),
    "ReqCPUS": (8, _job_only(lambda r: str(max(r.job.shape.n_tasks, 1) * r.job.spec.cpus_per_task))),
    "AllocNodes": (10, lambda r: str(_n_nodes(r)) if r.job.nodes else "0"),
    "NNodes": (8, lambda r: str(_n_nodes(r))),
    "ReqNodes": (8, _job_only(lambda r: str(r.job.shape.n_nodes))),
    "NTasks": (8, _n_tasks),
    "State": (10, _state),
    "ExitCode": (8, _exit),
    "DerivedExitCode": (10, _job_only(_exit)),
    "Elapsed": (10, lambda r: hms(_elapsed(r))),
    "ElapsedRaw": (10, lambda r: str(_elapsed(r))),
    "CPUTime": (10, lambda r: hms(_elapsed(r) * _alloc_cpus(r))),
    "CPUTimeRAW": (10, lambda r: str(_elapsed(r) * _alloc_cpus(r))),
    "TotalCPU": (10, lambda r: cpu_time(_usage_us(r, "total"))),
    "UserCPU": (10, lambda r: cpu_time(_usage_us(r, "user"))),
    "SystemCPU": (10, lambda r: cpu_time(_usage_us(r, "system"))),
    "MaxRSS": (10, _max_rss),
    "NodeList": (15, _node_list),
    "Start": (19, lambda r: jobview.iso(_start(r), "Unknown")),
    "End": (19, lambda r: jobview.iso(_end(r), "Unknown")),
    "Submit": (19, lambda r: jobview.iso(_start(r) if r.is_step else r.job.submit_time, "Unknown")),
    "Eligible": (19, _job_only(lambda r: jobview.iso(r.job.spec.begin_time or r.job.submit_time, "Unknown"))),
    "Timelimit": (10, _job_only(lambda r: hms(r.job.time_limit_s))),
    "TimelimitRaw": (10, _job_only(lambda r: "UNLIMITED" if r.job.time_limit_s is None
                                   else str(r.job.time_limit_s // 60))),
    "ReqMem": (10, _job_only(lambda r: format_mem_mib(r.job.shape.per_node.mem_mib))),
    "User": (9, _job_only(lambda r: r.job.user)),
    "UID": (6, _job_only(lambda r: str(r.job.uid))),
    "Group": (9, _job_only(lambda r: jobview.group_name(r.job.gid))),
    "GID": (6, _job_only(lambda r: str(r.job.gid))),
    "WorkDir": (20, _job_only(lambda r: r.job.spec.working_dir)),
    "Priority": (10, _job_only(lambda r: str(r.job.priority))),
    "QOS": (10, _job_only(lambda r: r.job.spec.qos or "normal")),
    "Reason": (20, _job_only(lambda r: r.job.reason.value)),
    "Suspended": (10, lambda r: "00:00:00"),
    "Cluster": (10, None),   # the cluster's name: `getters` gives it
    "Comment": (15, lambda r: ""),
    "Constraints": (19, lambda r: ""),
    "Restarts": (8, _job_only(lambda r: str(r.job.restart_count))),
    "AllocTRES": (10, lambda r: _tres_text([f"cpu={_alloc_cpus(r)}",
                                            f"mem={format_mem_mib(r.job.shape.per_node.mem_mib)}",
                                            f"node={_n_nodes(r)}"],
                                           () if r.is_step else jobview.gres_tres(r.job, _n_nodes(r)))
                  if r.job.nodes else ""),
    "ReqTRES": (10, _job_only(lambda r: _tres_text([f"cpu={jobview.total_cpus(r.job)}",
                                                    f"mem={format_mem_mib(r.job.shape.per_node.mem_mib)}",
                                                    f"node={r.job.shape.n_nodes}"],
                                                   jobview.gres_tres(r.job, r.job.shape.n_nodes)))),
}
LEFT_JUSTIFIED = {"JobID", "JobIDRaw"}


def getters(cluster_name: str) -> dict:
    """name -> value(row) of every field, the Cluster field's value being `cluster_name`."""
    return {**{name: value for name, (_, value) in FIELDS.items()}, "Cluster": lambda row: cluster_name}

BY_LOWER = {name.lower(): name for name in FIELDS}
DEFAULT_FORMAT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
BRIEF_FORMAT = "JobID,State,ExitCode"
LONG_FORMAT = ("JobID,JobIDRaw,JobName,Partition,MaxRSS,NTasks,AllocCPUS,Elapsed,State,ExitCode,TotalCPU,"
               "UserCPU,SystemCPU,NodeList,Start,End,Submit,User,Account,ReqMem,Timelimit")


def rows_for(job, now: float, *, with_steps: bool, steps=(), has_batch: bool = True) -> list[Row]:
    """The job's rows: the allocation, then (with_steps) its batch step, unless the
    job has no batch script of its own (made by srun), and its srun steps by id."""
    rows = [Row(job, "", now)]
    if with_steps and job.start_time is not None and has_batch:
        rows.append(Row(job, "batch", now))
    if with_steps:
        rows.extend(Row(job, str(step.step_id), now, step) for step in steps)
    return rows


def job_as_json(job, now: float, step_records=(), *, cluster_name: str, has_batch: bool = True) -> dict:
    """One job of cluster `cluster_name` in the shape of Slurm's sacct --json (a common subset)."""
    def exit_code(job) -> dict:
        status = "SUCCESS" if not job.exit_code and not job.exit_signal else (
            "SIGNALED" if job.exit_signal else "FAILED")
        return {"status": status, "return_code": job.exit_code,
                **({"signal": {"signal_id": job.exit_signal}} if job.exit_signal else {})}

    usage = job.usage

    def seconds(us: int) -> dict:
        return {"seconds": us // 1_000_000, "microseconds": us % 1_000_000}

    times = {"elapsed": jobview.elapsed_s(job, now), "eligible": int(job.spec.begin_time or job.submit_time),
             "end": int(job.end_time or 0), "start": int(job.start_time or 0), "submission": int(job.submit_time),
             "suspended": 0, "limit": None if job.time_limit_s is None else job.time_limit_s // 60,
             "system": seconds(usage.cpu_system_us), "user": seconds(usage.cpu_user_us),
             "total": seconds(usage.cpu_user_us + usage.cpu_system_us)}
    steps = []
    if job.start_time is not None and has_batch:
        steps.append({
            "step": {"id": f"{job.job_id}.batch", "name": "batch"}, "state": job.state.value,
            "exit_code": exit_code(job), "time": times,
            "nodes": {"list": list(job.nodes[:1]), "count": 1, "range": job.nodes[0] if job.nodes else ""},
            "tres": {"requested": {"max": [{"type": "mem", "name": None, "id": 2,
                                            "count": usage.max_rss_kib * 1024}]}},
        })
    for step in step_records:
        steps.append({
            "step": {"id": f"{job.job_id}.{step.step_id}", "name": step.name}, "state": step.state.value,
            "exit_code": exit_code(step), "tasks": {"count": step.n_tasks},
            "time": {"elapsed": jobview.elapsed_s(step, now), "start": int(step.start_time),
                     "end": int(step.end_time or 0), "system": seconds(step.usage.cpu_system_us),
                     "user": seconds(step.usage.cpu_user_us),
                     "total": seconds(step.usage.cpu_user_us + step.usage.cpu_system_us)},
            "nodes": {"list": list(step.nodes), "count": len(step.nodes),
                      "range": hostlist.collect_hostlist(list(step.nodes))},
            "tres": {"requested": {"max": [{"type": "mem", "name": None, "id": 2,
                                            "count": step.usage.max_rss_kib * 1024}]}},
        })
    return {
        "account": job.spec.account, "cluster": cluster_name, "job_id": job.job_id, "name": job.spec.name,
        "user": job.user,
        "group": jobview.group_name(job.gid), "partition": job.spec.partition, "nodes": jobview.node_list(job),
        "allocation_nodes": job.shape.n_nodes, "state": {"current": job.state.value, "reason": job.reason.value},
        "exit_code": exit_code(job), "derived_exit_code": exit_code(job), "time": times,
        "priority": job.priority, "qos": job.spec.qos or "normal", "working_directory": job.spec.working_dir,
        "required": {"CPUs": jobview.total_cpus(job), "memory": job.shape.per_node.mem_mib},
        "steps": steps,
    }
