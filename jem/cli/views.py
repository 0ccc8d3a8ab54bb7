"""How the CLI shows jobs and nodes: JSON-ready dicts and table rows."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import hostlist

from jem.model.arrays import format_ranges
from jem.model.idlists import id_list_text
from jem.model.job import Job
from jem.model.states import JobState
from jem.model.units import format_duration

if TYPE_CHECKING:
    from jem.client import NodeInfo   # (imported by the commands that talk to the controller, when they run)


def iso(t: float | None) -> str | None:
    return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds") if t is not None else None


def job_as_dict(job: Job) -> dict:
    spec = job.spec
    return {
        "job_id": job.job_id, "label": job.label, "array_job_id": job.array_job_id or None,
        "array_task_id": job.array_task_id, "array_pending": format_ranges(job.array_pending) or None,
        "dependency": job.dependency or None, "name": spec.name, "user": job.user, "uid": job.uid, "gid": job.gid,
        "account": spec.account, "partition": spec.partition, "state": job.state.value, "reason": job.reason.value,
        "reason_detail": job.reason_detail, "priority": job.priority, "held_by": job.held_by or None,
        "submit_time": job.submit_time, "start_time": job.start_time, "end_time": job.end_time,
        "planned_start_time": job.planned_start,
        "planned_start_kind": None if job.planned_start is None else (
            "forecast" if job.planned_start_is_forecast else
            "estimate" if job.planned_start_is_estimate else "reservation"),
        "time_limit_s": job.time_limit_s, "n_nodes": job.shape.n_nodes, "n_tasks": job.shape.n_tasks,
        "cpus_per_task": spec.cpus_per_task, "cpus_per_node": job.shape.per_node.cpus,
        "mem_per_node_mib": job.shape.per_node.mem_mib, "gpus_per_node": job.shape.per_node.gpus,
        "gpu_type": spec.gpu_type or None,
        "nodes": list(job.nodes), "node_list": hostlist.collect_hostlist(list(job.nodes)) if job.nodes else "",
        "cpu_ids": {node: id_list_text(ids) for node, ids in zip(job.nodes, job.cpu_ids)},
        "gpu_ids": {node: id_list_text(ids) for node, ids in zip(job.nodes, job.gpu_ids) if ids},
        "working_dir": spec.working_dir, "stdout": spec.stdout_pattern or "slurm-%j.out",
        "stderr": spec.stderr_pattern or spec.stdout_pattern or "slurm-%j.out",
        "exit_code": job.exit_code, "exit_signal": job.exit_signal, "restart_count": job.restart_count,
        "nice": spec.nice, "begin_time": spec.begin_time,
        "constraint": spec.constraint, "exclusive": spec.exclusive, "qos": spec.qos or "normal",
        "gres_per_node": dict(spec.gres_per_node),
        "usage": {"cpu_user_s": job.usage.cpu_user_us / 1e6, "cpu_system_s": job.usage.cpu_system_us / 1e6,
                  "max_rss_kib": job.usage.max_rss_kib},
    }


def elapsed_s(job: Job, now: float | None = None) -> int:
    if job.start_time is None:
        return 0
    end = job.end_time if job.end_time is not None else (now or time.time())
    return int(max(0.0, end - job.start_time))


def job_row(job: Job) -> list[str]:
    where = hostlist.collect_hostlist(list(job.nodes)) if job.nodes else ""
    if job.state is JobState.PENDING:
        where = f"({job.reason.value})"
    return [job.label, job.spec.partition, job.spec.name[:20], job.user, job.state.value,
            format_duration(elapsed_s(job)), format_duration(job.time_limit_s), str(job.shape.n_nodes),
            str(job.exit_code if not job.exit_signal else f"{job.exit_code}:{job.exit_signal}")
            if job.state.is_terminal else "", where]


JOB_HEADERS = ["JOBID", "PARTITION", "NAME", "USER", "STATE", "TIME", "TIME_LIMIT", "NODES", "EXIT",
               "NODELIST(REASON)"]


def node_as_dict(info: NodeInfo) -> dict:
    node = info.node
    return {
        "name": node.name, "state": info.state.value, "is_responding": node.is_responding,
        "partitions": list(info.partitions),
        "cpus": node.capacity.cpus, "cpus_allocated": node.allocated.cpus, "mem_mib": node.capacity.mem_mib,
        "mem_allocated_mib": node.allocated.mem_mib, "gpus": node.capacity.gpus,
        "gpus_allocated": node.allocated.gpus, "reason": node.reason, "agent_address": node.agent_address,
        "last_heartbeat": node.last_heartbeat or None, "cgroup_mode": node.cgroup_mode,
        "gpu_isolation": node.gpu_isolation, "job_ids": sorted(node.job_ids), "features": list(node.features),
        "gpu_type": node.gpu_type or None, "gres": dict(node.gres), "gres_allocated": dict(node.gres_allocated),
    }


NODE_HEADERS = ["NODE", "STATE", "CPUS(A/T)", "MEM_MIB(A/T)", "GPUS(A/T)", "PARTITIONS", "FEATURES", "REASON"]


def node_row(info: NodeInfo) -> list[str]:
    node = info.node
    return [node.name, info.state.value, f"{node.allocated.cpus}/{node.capacity.cpus}",
            f"{node.allocated.mem_mib}/{node.capacity.mem_mib}", _gpus_text(node),
            ",".join(info.partitions), ",".join(node.features) or "-", node.reason]


def _gpus_text(node) -> str:
    """GPUs allocated/total, with their type when the node gives one: `1/4 a100`."""
    return f"{node.allocated.gpus}/{node.capacity.gpus}" + (f" {node.gpu_type}" if node.gpu_type else "")


def show_job_text(job: Job) -> str:
    """`scontrol show job`-style key=value lines."""
    d = job_as_dict(job)
    pairs = [
        ("JobId", job.job_id), ("JobName", d["name"]), ("UserId", f"{job.user}({job.uid})"), ("GroupId", job.gid),
        ("Priority", job.priority), ("Account", d["account"] or "(null)"),
        ("JobState", job.state.value), ("Reason", job.reason.value + (f" ({job.reason_detail})" if job.reason_detail else "")),
        ("ExitCode", f"{job.exit_code}:{job.exit_signal}"), ("RunTime", format_duration(elapsed_s(job))),
        ("TimeLimit", format_duration(job.time_limit_s)), ("SubmitTime", iso(job.submit_time)),
        ("StartTime", iso(job.start_time) or "Unknown"), ("EndTime", iso(job.end_time) or "Unknown"),
        ("Partition", d["partition"]), ("NodeList", d["node_list"] or "(null)"),
        ("NumNodes", d["n_nodes"]), ("NumTasks", d["n_tasks"]), ("CPUs/Task", d["cpus_per_task"]),
        ("CPUsPerNode", d["cpus_per_node"]), ("MemPerNode", f"{d['mem_per_node_mib']}M"),
        ("GPUsPerNode", d["gpus_per_node"]), *([("GPUType", d["gpu_type"])] if d["gpu_type"] else []),
        ("WorkDir", d["working_dir"]),
        ("StdOut", d["stdout"]), ("StdErr", d["stderr"]), ("Restarts", job.restart_count),
    ]
    return "\n".join(f"   {k}={v}" if i else f"{k}={v}" for i, (k, v) in enumerate(pairs))
