"""Conversion between the wire messages of jem.v1 and the domain types of jem.model.

The one place proto messages become model objects and back; the controller,
the agent and the client all convert here, and proto types travel no further.
Times: model floats (epoch seconds, None = unset) <-> google.protobuf.Timestamp.
"""

import contextlib
import dataclasses
import math
import operator
from typing import Iterator

from google.protobuf.timestamp_pb2 import Timestamp

from jem.model.arrays import accepted_array, format_ranges
from jem.model.audit import AuditQuery, AuditRecord
from jem.model.crontab import Crontab, EntryRequest, InstalledEntry
from jem.model.diagnostics import CycleCounts, Diagnostics, RpcCount
from jem.model.errors import InvalidArgument, InvalidReservation, InvalidRetryPolicy
from jem.model.execution import JobEnd, JobReport, Launch, SignalScope
from jem.model.explanation import Explanation, HeldLimit, RunningEnd, WhatIf
from jem.model.idlists import id_list_text, parse_id_list
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.jobpriority import JobPriority
from jem.model.jobfilter import JobFilter
from jem.model.mail import MailType, mail_type_text, mail_types_of
from jem.model.node import Node, NodeState
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.resources import Resources
from jem.model.shares import ShareRow
from jem.model.states import JobState
from jem.model.utilization import AssociationUsage, ClusterUsage, ReportKind, UsageReport
from jem.model.run import RequeuedRun
from jem.model.step import Step, StepSpec, TaskExit, TaskOrder, TaskOutput
from jem.model.stepusage import Figure, JobUsageReport, StepUsage, TaskUsage, UsageProblem
from jem.v1 import admin_pb2, agent_pb2, common_pb2, jobs_pb2, steps_pb2

# ---------------------------------------------------------------- enums by name


def _enum_maps(model_enum, pb_enum, prefix):
    to_pb = {member: pb_enum.Value(prefix + member.name) for member in model_enum}
    return to_pb, {v: k for k, v in to_pb.items()}


STATE_TO_PB, STATE_FROM_PB = _enum_maps(JobState, common_pb2.JobState, "JOB_STATE_")
REASON_TO_PB, REASON_FROM_PB = _enum_maps(JobReason, common_pb2.JobReason, "JOB_REASON_")
NODE_STATE_TO_PB, NODE_STATE_FROM_PB = _enum_maps(NodeState, common_pb2.NodeState, "NODE_STATE_")
END_TO_PB, END_FROM_PB = _enum_maps(JobEnd, agent_pb2.JobEnd, "JOB_END_")
SCOPE_TO_PB, _SCOPE_FROM_PB = _enum_maps(SignalScope, common_pb2.SignalScope, "SIGNAL_SCOPE_")
MAIL_TYPE_TO_PB, _MAIL_TYPE_FROM_PB = _enum_maps(MailType, common_pb2.MailType, "MAIL_TYPE_")


def mail_type_from_pb(values) -> str:
    """A spec's canonical --mail-type text from wire values; one that is UNSPECIFIED or unknown
    stays in the text by number, for JobSpec.validate to refuse (INVALID_ARGUMENT)."""
    types = {_MAIL_TYPE_FROM_PB.get(v) for v in values}
    unknown = [str(v) for v in values if v not in _MAIL_TYPE_FROM_PB]
    return ",".join(filter(None, (mail_type_text(types), *unknown)))


def retry_states_from_pb(values) -> tuple[JobState, ...]:
    """A spec's retry states from wire values; InvalidRetryPolicy for UNSPECIFIED or an unknown value
    (states that are no failure are refused by JobSpec.validate)."""
    try:
        return tuple(STATE_FROM_PB[v] for v in values)
    except KeyError as exc:
        raise InvalidRetryPolicy(f"retry_on: {exc.args[0]} is not a job state") from None


def scope_from_pb(value: int) -> SignalScope:
    """A wire scope; UNSPECIFIED (and unknown values) read as STEPS, scancel's default."""
    return _SCOPE_FROM_PB.get(value, SignalScope.STEPS)


def state_from_pb(value: int) -> JobState:
    """The model state of a wire value; KeyError for UNSPECIFIED or unknown values."""
    return STATE_FROM_PB[value]


# ---------------------------------------------------------------- scalars


@contextlib.contextmanager
def checked_values() -> Iterator[None]:
    """Around building a message from what a user gave: a value protobuf cannot hold (a number
    past its field's range, text that is not UTF-8, an infinite time) is InvalidArgument."""
    try:
        yield
    except UnicodeEncodeError:
        raise InvalidArgument("a value is not valid UTF-8 text") from None
    except (ValueError, OverflowError) as exc:   # protobuf's "Value out of range: N", floor(inf)
        raise InvalidArgument(str(exc)) from None


def time_to_pb(t: float | None, out: Timestamp) -> None:
    with checked_values():
        _set_time(t, out)


def _set_time(t: float | None, out: Timestamp) -> None:
    if t is not None:
        seconds = math.floor(t)
        nanos = round((t - seconds) * 1e9)
        if nanos >= 1_000_000_000:
            seconds, nanos = seconds + 1, nanos - 1_000_000_000
        out.seconds, out.nanos = seconds, nanos


def time_from_pb(msg, field: str) -> float | None:
    """Seconds + nanos / 1e9: exact for every float time_to_pb wrote to microsecond precision."""
    if not msg.HasField(field):
        return None
    value = getattr(msg, field)
    return value.seconds + value.nanos / 1e9


def resources_to_pb(r: Resources) -> common_pb2.Resources:
    return common_pb2.Resources(cpus=r.cpus, mem_mib=r.mem_mib, gpus=r.gpus)


def resources_from_pb(pb: common_pb2.Resources) -> Resources:
    return Resources(pb.cpus, pb.mem_mib, pb.gpus)


def usage_to_pb(u: JobUsage) -> common_pb2.JobUsage:
    return common_pb2.JobUsage(cpu_user_us=u.cpu_user_us, cpu_system_us=u.cpu_system_us, max_rss_kib=u.max_rss_kib)


def usage_from_pb(pb: common_pb2.JobUsage) -> JobUsage:
    return JobUsage(pb.cpu_user_us, pb.cpu_system_us, pb.max_rss_kib)


# ---------------------------------------------------------------- jobs


def spec_to_pb(spec: JobSpec) -> common_pb2.JobSpec:
    """The wire spec; InvalidArgument for a value the wire cannot hold (checked_values)."""
    with checked_values():
        return _spec_pb(spec)


def _spec_pb(spec: JobSpec) -> common_pb2.JobSpec:
    pb = common_pb2.JobSpec(
        name=spec.name, account=spec.account, partition=spec.partition, n_nodes=spec.n_nodes,
        n_tasks=spec.n_tasks, cpus_per_task=spec.cpus_per_task, n_tasks_per_node=spec.n_tasks_per_node,
        mem_per_node_mib=spec.mem_per_node_mib or 0, mem_per_cpu_mib=spec.mem_per_cpu_mib or 0,
        gpus_per_node=spec.gpus_per_node, time_limit_unlimited=spec.time_limit_unlimited,
        script=spec.script, script_args=spec.script_args, working_dir=spec.working_dir,
        environment=spec.environment, stdout_pattern=spec.stdout_pattern, stderr_pattern=spec.stderr_pattern,
        hold=spec.hold, nice=spec.nice, stdin_path=spec.stdin_path, array=spec.array, dependency=spec.dependency,
        open_mode=spec.open_mode, warn_signal=spec.warn_signal, warn_time_s=spec.warn_time_s,
        warn_batch_only=spec.warn_batch_only,
        constraint=spec.constraint, exclusive=spec.exclusive, qos=spec.qos, gres_per_node=dict(spec.gres_per_node),
        reservation=spec.reservation, gpu_type=spec.gpu_type, overcommit=spec.overcommit,
        retries=spec.retries, retry_delay_s=spec.retry_delay_s, retry_on=[STATE_TO_PB[s] for s in spec.retry_on],
        mail_types=[MAIL_TYPE_TO_PB[t] for t in mail_types_of(spec.mail_type)], mail_user=spec.mail_user,
        cron_schedule=spec.cron_schedule,
    )
    if spec.time_limit_s is not None:
        pb.time_limit_s = spec.time_limit_s
    if spec.requeue is not None:
        pb.requeue = spec.requeue
    time_to_pb(spec.begin_time, pb.begin_time)
    return pb


def _optional(field: str):
    """A reader of an optional wire field: None when unset."""
    return lambda pb: getattr(pb, field) if pb.HasField(field) else None


def _time(field: str, *, unset: float | None = None):
    """A reader of a Timestamp field, as time_from_pb reads it (inlined: listings read thousands);
    `unset` when the field is."""
    def read(pb):
        if not pb.HasField(field):
            return unset
        value = getattr(pb, field)
        return value.seconds + value.nanos / 1e9

    return read


# JobSpec field -> how it is read from a common_pb2.JobSpec, in the dataclass's order
# (jem.listedjobs reads a listing's the same way; its tests compare the two). A zero memory field is "unset"; an explicit --mem=0 travels as unset too, which is what
# Slurm means by it (all of the node's memory is not reserved here). A repeated or map field
# is converted only when it holds something.
SPEC_READERS = {
    "script": operator.attrgetter("script"), "name": operator.attrgetter("name"),
    "account": operator.attrgetter("account"), "partition": operator.attrgetter("partition"),
    "n_nodes": operator.attrgetter("n_nodes"), "n_tasks": operator.attrgetter("n_tasks"),
    "cpus_per_task": lambda pb: pb.cpus_per_task or 1, "n_tasks_per_node": operator.attrgetter("n_tasks_per_node"),
    "mem_per_node_mib": lambda pb: pb.mem_per_node_mib or None, "mem_per_cpu_mib": lambda pb: pb.mem_per_cpu_mib or None,
    "gpus_per_node": operator.attrgetter("gpus_per_node"), "time_limit_s": _optional("time_limit_s"),
    "time_limit_unlimited": operator.attrgetter("time_limit_unlimited"),
    "script_args": lambda pb: tuple(args) if (args := pb.script_args) else (),
    "working_dir": operator.attrgetter("working_dir"),
    "environment": lambda pb: dict(env) if (env := pb.environment) else {},
    "stdout_pattern": operator.attrgetter("stdout_pattern"),
    "stderr_pattern": operator.attrgetter("stderr_pattern"), "stdin_path": operator.attrgetter("stdin_path"),
    "hold": operator.attrgetter("hold"), "begin_time": _time("begin_time"), "nice": operator.attrgetter("nice"),
    "requeue": _optional("requeue"), "array": operator.attrgetter("array"),
    "dependency": operator.attrgetter("dependency"), "open_mode": operator.attrgetter("open_mode"),
    "warn_signal": operator.attrgetter("warn_signal"), "warn_time_s": operator.attrgetter("warn_time_s"),
    "warn_batch_only": operator.attrgetter("warn_batch_only"),
    "constraint": operator.attrgetter("constraint"), "exclusive": operator.attrgetter("exclusive"),
    "qos": operator.attrgetter("qos"),
    "gres_per_node": lambda pb: tuple(sorted(gres.items())) if (gres := pb.gres_per_node) else (),
    "reservation": operator.attrgetter("reservation"), "gpu_type": operator.attrgetter("gpu_type"),
    "retries": operator.attrgetter("retries"), "retry_delay_s": operator.attrgetter("retry_delay_s"),
    "retry_on": lambda pb: retry_states_from_pb(states) if (states := pb.retry_on) else (),
    "mail_type": lambda pb: mail_type_from_pb(types) if (types := pb.mail_types) else "",
    "mail_user": operator.attrgetter("mail_user"),
    "cron_schedule": operator.attrgetter("cron_schedule"), "overcommit": operator.attrgetter("overcommit"),
}


def spec_from_pb(pb: common_pb2.JobSpec) -> JobSpec:
    return JobSpec(**{name: read(pb) for name, read in SPEC_READERS.items()})


def job_to_pb(job: Job, *, with_script: bool = True) -> common_pb2.Job:
    # (an allocation's script is JEM's public placeholder, kept so that every viewer knows it for one)
    script = job.spec.script if with_script or job.is_allocation else ""
    spec = job.spec if with_script else dataclasses.replace(job.spec, script=script, environment={})
    pb = common_pb2.Job(
        job_id=job.job_id, spec=spec_to_pb(spec), state=STATE_TO_PB[job.state], reason=REASON_TO_PB[job.reason],
        reason_detail=job.reason_detail, user=job.user, uid=job.uid, gid=job.gid, nodes=job.nodes,
        exit_code=job.exit_code, exit_signal=job.exit_signal, priority=job.priority,
        alloc_per_node=resources_to_pb(job.shape.per_node), time_limit_s=job.time_limit_s or 0,
        time_limit_unlimited=job.time_limit_s is None, restart_count=job.restart_count, held_by=job.held_by,
        usage=usage_to_pb(job.usage), n_nodes=job.shape.n_nodes, n_tasks=job.shape.n_tasks,
        cpu_ids=[id_list_text(ids) for ids in job.cpu_ids], gpu_ids=[id_list_text(ids) for ids in job.gpu_ids],
        array_job_id=job.array_job_id, array_pending=format_ranges(job.array_pending), dependency=job.dependency,
        label=job.label, retries_done=job.retries_done,
    )
    if job.array_task_id is not None:
        pb.array_task_id = job.array_task_id
    time_to_pb(job.submit_time, pb.submit_time)
    time_to_pb(job.start_time, pb.start_time)
    time_to_pb(job.end_time, pb.end_time)
    time_to_pb(job.planned_start, pb.planned_start_time)
    pb.planned_start_is_estimate = job.planned_start_is_estimate
    pb.planned_nodes.extend(job.planned_nodes)
    pb.planned_start_is_forecast = job.planned_start_is_forecast
    return pb


class _Shapes(dict):
    """(n_nodes, n_tasks, (cpus, mem_mib, gpus)) -> its JobShape, made on first use: equal shapes
    share one JobShape (frozen). A listing of 10,000 jobs holds a few distinct ones, and looking
    one up costs a third of building it."""

    def __missing__(self, key: tuple) -> JobShape:
        if len(self) >= 4096:
            self.clear()
        n_nodes, n_tasks, (cpus, mem_mib, gpus) = key
        shape = self[key] = JobShape(n_nodes, n_tasks, Resources(cpus, mem_mib, gpus))
        return shape


SHAPES = _Shapes()


def _shape(pb) -> JobShape:
    alloc = pb.alloc_per_node
    return SHAPES[(pb.n_nodes, pb.n_tasks, (alloc.cpus, alloc.mem_mib, alloc.gpus))]


# Job field -> how it is read from a common_pb2.Job (fields the wire does not carry keep their
# defaults). Repeated fields as in SPEC_READERS: converted only when not empty. A listing's jobs
# are read from the serialized pages instead (jem.listedjobs), as these readers read them.
JOB_READERS = {
    "job_id": operator.attrgetter("job_id"), "user": operator.attrgetter("user"), "uid": operator.attrgetter("uid"),
    "gid": operator.attrgetter("gid"), "submit_time": _time("submit_time", unset=0.0),
    "shape": _shape,
    "time_limit_s": lambda pb: None if pb.time_limit_unlimited else pb.time_limit_s,
    "state": lambda pb: STATE_FROM_PB[pb.state], "reason": lambda pb: REASON_FROM_PB[pb.reason],
    "reason_detail": operator.attrgetter("reason_detail"), "priority": operator.attrgetter("priority"),
    "held_by": operator.attrgetter("held_by"), "start_time": _time("start_time"), "end_time": _time("end_time"),
    "nodes": lambda pb: tuple(nodes) if (nodes := pb.nodes) else (), "exit_code": operator.attrgetter("exit_code"),
    "exit_signal": operator.attrgetter("exit_signal"), "restart_count": operator.attrgetter("restart_count"),
    "usage": lambda pb: usage_from_pb(pb.usage), "planned_start": _time("planned_start_time"),
    "planned_start_is_estimate": operator.attrgetter("planned_start_is_estimate"),
    "planned_nodes": lambda pb: tuple(nodes) if (nodes := pb.planned_nodes) else (),
    "planned_start_is_forecast": operator.attrgetter("planned_start_is_forecast"),
    "cpu_ids": lambda pb: tuple(map(parse_id_list, texts)) if (texts := pb.cpu_ids) else (),
    "gpu_ids": lambda pb: tuple(map(parse_id_list, texts)) if (texts := pb.gpu_ids) else (),
    "array_task_id": _optional("array_task_id"),
    "array_parent_id": lambda pb: pb.array_job_id if pb.array_job_id != pb.job_id else 0,
    "array_pending": lambda pb: accepted_array(pb.array_pending).indices if pb.array_pending else (),
    "dependency": operator.attrgetter("dependency"), "retries_done": operator.attrgetter("retries_done"),
}


def job_from_pb(pb: common_pb2.Job) -> Job:
    return Job(spec=spec_from_pb(pb.spec), **{name: read(pb) for name, read in JOB_READERS.items()})


# ---------------------------------------------------------------- nodes and partitions


def node_to_pb(node: Node, partitions: list[str]) -> admin_pb2.Node:
    pb = admin_pb2.Node(
        name=node.name, state=NODE_STATE_TO_PB[node.state], capacity=resources_to_pb(node.capacity),
        allocated=resources_to_pb(node.allocated), reason=node.reason, agent_address=node.agent_address,
        partitions=partitions, job_ids=sorted(node.job_ids), cgroup_mode=node.cgroup_mode,
        gpu_isolation=node.gpu_isolation, is_responding=node.is_responding,
        features=node.features, gres=node.gres, gres_allocated=node.gres_allocated, gpu_type=node.gpu_type,
    )
    if node.last_heartbeat:
        time_to_pb(node.last_heartbeat, pb.last_heartbeat)
    return pb


def node_from_pb(pb: admin_pb2.Node) -> tuple[Node, NodeState, list[str]]:
    """The node, the state the controller reported, and its partitions."""
    node = Node(
        name=pb.name, capacity=resources_from_pb(pb.capacity), allocated=resources_from_pb(pb.allocated),
        reason=pb.reason, agent_address=pb.agent_address, last_heartbeat=time_from_pb(pb, "last_heartbeat") or 0.0,
        cgroup_mode=pb.cgroup_mode, gpu_isolation=pb.gpu_isolation, job_ids=set(pb.job_ids),
        is_responding=pb.is_responding,
        features=tuple(pb.features), gres=dict(pb.gres), gres_allocated=dict(pb.gres_allocated),
        gpu_type=pb.gpu_type,
    )
    return node, NODE_STATE_FROM_PB[pb.state], list(pb.partitions)


def partition_to_pb(p: Partition, node_names: list[str]) -> admin_pb2.Partition:
    return admin_pb2.Partition(
        name=p.name, is_default=p.is_default, is_up=p.is_up, nodes=node_names, max_time_s=p.max_time_s or 0,
        default_time_s=p.default_time_s or 0, default_mem_per_cpu_mib=p.default_mem_per_cpu_mib or 0,
        priority_tier=p.priority_tier, max_nodes=p.max_nodes or 0, allow_accounts=p.allow_accounts,
        allow_qos=p.allow_qos, allow_groups=p.allow_groups, qos=p.qos,
    )


def partition_from_pb(pb: admin_pb2.Partition) -> Partition:
    return Partition(
        name=pb.name, node_names=tuple(pb.nodes), is_default=pb.is_default, is_up=pb.is_up,
        max_time_s=pb.max_time_s or None, default_time_s=pb.default_time_s or None,
        default_mem_per_cpu_mib=pb.default_mem_per_cpu_mib or None, priority_tier=pb.priority_tier,
        max_nodes=pb.max_nodes or None, allow_accounts=tuple(pb.allow_accounts), allow_qos=tuple(pb.allow_qos),
        allow_groups=tuple(pb.allow_groups), qos=pb.qos,
    )


# ---------------------------------------------------------------- controller <-> agent


def launch_to_pb(launch: Launch) -> agent_pb2.JobLaunch:
    return agent_pb2.JobLaunch(
        job_id=launch.job_id, spec=spec_to_pb(launch.spec), user=launch.user, uid=launch.uid, gid=launch.gid,
        nodes=launch.nodes, alloc=resources_to_pb(launch.alloc), time_limit_s=launch.time_limit_s or 0,
        kill_wait_s=launch.kill_wait_s, submit_dir=launch.submit_dir, cluster_name=launch.cluster_name,
        n_tasks=launch.n_tasks, cpu_ids=launch.cpu_ids, gpu_ids=launch.gpu_ids, array_job_id=launch.array_job_id,
        array_task_id=launch.array_task_id, restart_count=launch.restart_count,
        user_signature=launch.user_signature,
    )


def launch_from_pb(pb: agent_pb2.JobLaunch) -> Launch:
    return Launch(
        job_id=pb.job_id, spec=spec_from_pb(pb.spec), user=pb.user, uid=pb.uid, gid=pb.gid, nodes=tuple(pb.nodes),
        alloc=resources_from_pb(pb.alloc), n_tasks=pb.n_tasks, time_limit_s=pb.time_limit_s or None,
        kill_wait_s=pb.kill_wait_s, submit_dir=pb.submit_dir, cluster_name=pb.cluster_name,
        cpu_ids=tuple(pb.cpu_ids), gpu_ids=tuple(pb.gpu_ids), array_job_id=pb.array_job_id,
        array_task_id=pb.array_task_id if pb.HasField("array_task_id") else None, restart_count=pb.restart_count,
        user_signature=pb.user_signature,
    )


def report_to_pb(report: JobReport) -> agent_pb2.JobReport:
    pb = agent_pb2.JobReport(
        job_id=report.job_id, has_ended=report.has_ended, exit_code=report.exit_code,
        exit_signal=report.exit_signal, usage=usage_to_pb(report.usage), detail=report.detail,
    )
    if report.restart_count is not None:
        pb.restart_count = report.restart_count
    if report.end is not None:
        pb.end = END_TO_PB[report.end]
    time_to_pb(report.start_time, pb.start_time)
    time_to_pb(report.end_time, pb.end_time)
    return pb


def report_from_pb(pb: agent_pb2.JobReport) -> JobReport:
    return JobReport(
        job_id=pb.job_id, has_ended=pb.has_ended, end=END_FROM_PB.get(pb.end), exit_code=pb.exit_code,
        exit_signal=pb.exit_signal, start_time=time_from_pb(pb, "start_time"),
        end_time=time_from_pb(pb, "end_time"), usage=usage_from_pb(pb.usage), detail=pb.detail,
        restart_count=pb.restart_count if pb.HasField("restart_count") else None,
    )


# ---------------------------------------------------------------- identity metadata


def share_row_to_pb(row: ShareRow) -> admin_pb2.ShareAssociation:
    return admin_pb2.ShareAssociation(
        account=row.account, user=row.user, depth=row.depth, raw_shares=row.raw_shares, norm_shares=row.norm_shares,
        raw_usage=row.raw_usage, effective_usage=row.effective_usage, level_fs=row.level_fs, fairshare=row.factor)


def share_row_from_pb(pb: admin_pb2.ShareAssociation) -> ShareRow:
    return ShareRow(account=pb.account, user=pb.user, depth=pb.depth, raw_shares=pb.raw_shares,
                    norm_shares=pb.norm_shares, raw_usage=pb.raw_usage, effective_usage=pb.effective_usage,
                    level_fs=pb.level_fs, factor=pb.fairshare)


# ---------------------------------------------------------------- job steps


def step_spec_to_pb(spec: StepSpec) -> steps_pb2.StepSpec:
    with checked_values():
        return steps_pb2.StepSpec(
            argv=spec.argv, n_tasks=spec.n_tasks, n_nodes=spec.n_nodes, cpus_per_task=spec.cpus_per_task,
            n_tasks_per_node=spec.n_tasks_per_node, name=spec.name, stdout_pattern=spec.stdout_pattern,
            stderr_pattern=spec.stderr_pattern, environment=spec.environment, working_dir=spec.working_dir,
            ends_job=spec.ends_job, overcommit=spec.overcommit, multi_prog=spec.multi_prog,
            task_prolog=spec.task_prolog, task_epilog=spec.task_epilog, input=spec.input, open_mode=spec.open_mode,
        )


def step_spec_from_pb(pb: steps_pb2.StepSpec) -> StepSpec:
    return StepSpec(
        argv=tuple(pb.argv), n_tasks=pb.n_tasks, n_nodes=pb.n_nodes, cpus_per_task=pb.cpus_per_task,
        n_tasks_per_node=pb.n_tasks_per_node, name=pb.name, stdout_pattern=pb.stdout_pattern,
        stderr_pattern=pb.stderr_pattern, environment=dict(pb.environment), working_dir=pb.working_dir,
        ends_job=pb.ends_job, overcommit=pb.overcommit, multi_prog=pb.multi_prog, task_prolog=pb.task_prolog,
        task_epilog=pb.task_epilog, input=pb.input, open_mode=pb.open_mode,
    )


def step_to_pb(step: Step) -> steps_pb2.Step:
    pb = steps_pb2.Step(
        job_id=step.job_id, step_id=step.step_id, name=step.name, nodes=step.nodes, n_tasks=step.n_tasks,
        n_cpus=step.n_cpus, state=STATE_TO_PB[step.state], exit_code=step.exit_code, exit_signal=step.exit_signal,
        usage=usage_to_pb(step.usage), ends_job=step.ends_job,
    )
    time_to_pb(step.start_time, pb.start_time)
    time_to_pb(step.end_time, pb.end_time)
    return pb


def step_from_pb(pb: steps_pb2.Step) -> Step:
    return Step(
        job_id=pb.job_id, step_id=pb.step_id, name=pb.name, nodes=tuple(pb.nodes), n_tasks=pb.n_tasks,
        n_cpus=pb.n_cpus, start_time=time_from_pb(pb, "start_time") or 0.0, end_time=time_from_pb(pb, "end_time"),
        state=STATE_FROM_PB[pb.state], exit_code=pb.exit_code, exit_signal=pb.exit_signal,
        usage=usage_from_pb(pb.usage), ends_job=pb.ends_job,
    )


def requeued_run_to_pb(run: RequeuedRun) -> jobs_pb2.RequeuedRun:
    pb = jobs_pb2.RequeuedRun(
        job_id=run.job_id, run=run.run, state=STATE_TO_PB[run.state], nodes=run.nodes,
        alloc_per_node=resources_to_pb(run.alloc_per_node), exit_code=run.exit_code, exit_signal=run.exit_signal,
        usage=usage_to_pb(run.usage), retry=run.retry, detail=run.detail,
    )
    for name in ("start_time", "end_time", "begin_time", "requeue_time", "next_begin_time"):
        time_to_pb(getattr(run, name), getattr(pb, name))
    return pb


def requeued_run_from_pb(pb: jobs_pb2.RequeuedRun) -> RequeuedRun:
    return RequeuedRun(
        job_id=pb.job_id, run=pb.run, state=STATE_FROM_PB[pb.state], start_time=time_from_pb(pb, "start_time"),
        end_time=time_from_pb(pb, "end_time") or 0.0, nodes=tuple(pb.nodes),
        alloc_per_node=resources_from_pb(pb.alloc_per_node), exit_code=pb.exit_code, exit_signal=pb.exit_signal,
        usage=usage_from_pb(pb.usage), begin_time=time_from_pb(pb, "begin_time"),
        requeue_time=time_from_pb(pb, "requeue_time") or 0.0, next_begin_time=time_from_pb(pb, "next_begin_time"),
        retry=pb.retry, detail=pb.detail,
    )


def task_output_to_pb(output: TaskOutput) -> steps_pb2.TaskOutput:
    return steps_pb2.TaskOutput(task_id=output.task_id, stream=output.stream, data=output.data)


def task_output_from_pb(pb: steps_pb2.TaskOutput) -> TaskOutput:
    return TaskOutput(pb.task_id, pb.stream, pb.data)


def task_exit_to_pb(exit: TaskExit) -> steps_pb2.TaskExit:
    return steps_pb2.TaskExit(task_id=exit.task_id, node=exit.node, exit_code=exit.exit_code,
                              exit_signal=exit.exit_signal, usage=usage_to_pb(exit.usage),
                              launch_error=exit.launch_error)


def task_exit_from_pb(pb: steps_pb2.TaskExit) -> TaskExit:
    return TaskExit(pb.task_id, pb.node, exit_code=pb.exit_code, exit_signal=pb.exit_signal,
                    usage=usage_from_pb(pb.usage), launch_error=pb.launch_error)


def task_order_to_pb(order: TaskOrder) -> steps_pb2.StepTasksRequest:
    return steps_pb2.StepTasksRequest(
        job_id=order.job_id, step_id=order.step_id, spec=step_spec_to_pb(order.spec), user=order.user,
        uid=order.uid, gid=order.gid, task_ids=order.task_ids, step_nodes=order.step_nodes,
        job_nodes=order.job_nodes, n_tasks=order.n_tasks, alloc=resources_to_pb(order.alloc),
        cpu_ids=order.cpu_ids, gpu_ids=order.gpu_ids, job_name=order.job_name, array_job_id=order.array_job_id,
        array_task_id=order.array_task_id, user_signature=order.user_signature,
        restart_count=order.restart_count, node_epoch=order.node_epoch,
    )


def task_order_from_pb(pb: steps_pb2.StepTasksRequest) -> TaskOrder:
    return TaskOrder(
        job_id=pb.job_id, step_id=pb.step_id, spec=step_spec_from_pb(pb.spec), user=pb.user, uid=pb.uid,
        gid=pb.gid, task_ids=tuple(pb.task_ids), step_nodes=tuple(pb.step_nodes), job_nodes=tuple(pb.job_nodes),
        n_tasks=pb.n_tasks, alloc=resources_from_pb(pb.alloc), cpu_ids=tuple(pb.cpu_ids),
        gpu_ids=tuple(pb.gpu_ids), job_name=pb.job_name, array_job_id=pb.array_job_id,
        array_task_id=pb.array_task_id if pb.HasField("array_task_id") else None,
        user_signature=pb.user_signature,
        restart_count=pb.restart_count if pb.HasField("restart_count") else None, node_epoch=pb.node_epoch,
    )


# ---------------------------------------------------------------- runs


def runs_to_pb(runs) -> list[agent_pb2.JobRun]:
    """(job id, run) pairs as JobRun messages; pairs whose run is not known (None) are left out."""
    return [agent_pb2.JobRun(job_id=job_id, restart_count=run) for job_id, run in runs if run is not None]


def runs_from_pb(pbs) -> list[tuple[int, int]]:
    return [(pb.job_id, pb.restart_count) for pb in pbs]


# ---------------------------------------------------------------- listings


def filter_to_pb(job_filter: JobFilter, out: jobs_pb2.ListJobsRequest) -> None:
    with checked_values():
        _set_filter(job_filter, out)


def _set_filter(job_filter: JobFilter, out: jobs_pb2.ListJobsRequest) -> None:
    out.users.extend(sorted(job_filter.users))
    out.states.extend(sorted(STATE_TO_PB[s] for s in job_filter.states))
    out.partitions.extend(sorted(job_filter.partitions))
    out.names.extend(sorted(job_filter.names))
    out.accounts.extend(sorted(job_filter.accounts))
    out.qos.extend(sorted(job_filter.qos))
    out.nodes.extend(sorted(job_filter.nodes))
    out.job_ids.extend(sorted(job_filter.job_ids))
    out.array_tasks.extend(jobs_pb2.ArrayTask(array_job_id=a, task_id=t) for a, t in sorted(job_filter.array_tasks))
    time_to_pb(job_filter.alive_from, out.alive_from)
    time_to_pb(job_filter.alive_until, out.alive_until)


def filter_from_pb(pb: jobs_pb2.ListJobsRequest) -> JobFilter:
    """The request's filter; KeyError for an unknown or UNSPECIFIED state."""
    return JobFilter(
        users=frozenset(pb.users), states=frozenset(STATE_FROM_PB[s] for s in pb.states),
        partitions=frozenset(pb.partitions), names=frozenset(pb.names), accounts=frozenset(pb.accounts),
        qos=frozenset(pb.qos), nodes=frozenset(pb.nodes), job_ids=frozenset(pb.job_ids),
        array_tasks=frozenset((t.array_job_id, t.task_id) for t in pb.array_tasks),
        alive_from=time_from_pb(pb, "alive_from"), alive_until=time_from_pb(pb, "alive_until"),
    )


# ---------------------------------------------------------------- audit


def audit_to_pb(record: AuditRecord) -> admin_pb2.AuditRecord:
    pb = admin_pb2.AuditRecord(seq=record.seq, user=record.user, uid=record.uid, peer=record.peer,
                               method=record.method, request=record.request, result=record.result,
                               detail=record.detail, job_id=record.job_id)
    time_to_pb(record.time, pb.time)
    return pb


def audit_from_pb(pb: admin_pb2.AuditRecord) -> AuditRecord:
    return AuditRecord(time=time_from_pb(pb, "time") or 0.0, user=pb.user, uid=pb.uid, peer=pb.peer,
                       method=pb.method, request=pb.request, result=pb.result, detail=pb.detail, job_id=pb.job_id,
                       seq=pb.seq)


def audit_query_to_pb(query: AuditQuery) -> admin_pb2.ListAuditRequest:
    pb = admin_pb2.ListAuditRequest(user=query.user, job_id=query.job_id, limit=query.limit)
    time_to_pb(query.since, pb.since)
    time_to_pb(query.until, pb.until)
    return pb


def audit_query_from_pb(pb: admin_pb2.ListAuditRequest) -> AuditQuery:
    return AuditQuery(since=time_from_pb(pb, "since"), until=time_from_pb(pb, "until"), user=pb.user,
                      job_id=pb.job_id, limit=pb.limit or 1000)


# ---------------------------------------------------------------- audit summaries

# Never in a summary: what runs, its secrets, and credentials.
_SECRET_FIELDS = {"script", "environment", "user_signature", "credential", "token", "script_args", "argv",
                  "text"}   # (text: a crontab's, whose commands are its jobs' scripts)
_MAX_VALUE = 64          # characters of one value kept in a summary
AUDIT_SUMMARY_MAX = 1000  # characters of a summary


def audit_summary(message) -> str:
    """`message`'s set fields as "name=value ..." (nested messages flattened, long lists counted,
    long strings cut, secrets left out)."""
    parts: list[str] = []
    _summarize(message, "", parts)
    text = " ".join(parts)
    return text if len(text) <= AUDIT_SUMMARY_MAX else text[:AUDIT_SUMMARY_MAX - 3] + "..."


def _summarize(message, prefix: str, parts: list[str]) -> None:
    for field, value in message.ListFields():
        if field.name in _SECRET_FIELDS:
            parts.append(f"{prefix}{field.name}=<{_size(value)}>")
            continue
        name = prefix + field.name
        if field.message_type is not None and not field.is_repeated:
            _summarize(value, name + ".", parts)
        elif field.is_repeated:
            items = list(value)
            shown = ",".join(_short(item) for item in items[:8])
            parts.append(f"{name}={shown}" + (f",...({len(items)})" if len(items) > 8 else ""))
        else:
            parts.append(f"{name}={_short(value)}")


def _size(value) -> str:
    try:
        return f"{len(value)}"
    except TypeError:
        return "set"


def _short(value) -> str:
    text = str(value) if not hasattr(value, "ListFields") else "{" + audit_summary(value) + "}"
    text = text.replace("\n", "\\n")
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "..."


_FACTOR_NAMES = ("age", "fairshare", "job_size", "partition", "qos")


def job_priority_to_pb(row: JobPriority) -> jobs_pb2.JobPriority:
    return jobs_pb2.JobPriority(job_id=row.job_id, user=row.user, account=row.account, partition=row.partition,
                                priority=row.priority, nice=row.nice, cpus=row.cpus,
                                factors=jobs_pb2.PriorityFactors(**row.factors),
                                weighted=jobs_pb2.PriorityFactors(**row.weighted))


def job_priority_from_pb(pb: jobs_pb2.JobPriority) -> JobPriority:
    return JobPriority(job_id=pb.job_id, user=pb.user, account=pb.account, partition=pb.partition,
                       priority=pb.priority, nice=pb.nice, cpus=pb.cpus,
                       factors={name: getattr(pb.factors, name) for name in _FACTOR_NAMES},
                       weighted={name: getattr(pb.weighted, name) for name in _FACTOR_NAMES})


def priority_weights_from_pb(pb: jobs_pb2.PriorityFactors) -> dict[str, float]:
    return {name: getattr(pb, name) for name in _FACTOR_NAMES}


def _running_end_to_pb(end: RunningEnd) -> jobs_pb2.RunningEnd:
    pb = jobs_pb2.RunningEnd(job_id=end.job_id, nodes=end.nodes)
    if end.end_time != float("inf"):
        time_to_pb(end.end_time, pb.end_time)
    return pb


def _running_end_from_pb(pb: jobs_pb2.RunningEnd) -> RunningEnd:
    end = time_from_pb(pb, "end_time")
    return RunningEnd(pb.job_id, tuple(pb.nodes), end if end is not None else float("inf"))


def _what_if_to_pb(w: WhatIf) -> jobs_pb2.WhatIf:
    pb = jobs_pb2.WhatIf(change=w.change, is_estimate=w.is_estimate)
    time_to_pb(w.start_time, pb.start_time)
    return pb


def _what_if_from_pb(pb: jobs_pb2.WhatIf) -> WhatIf:
    return WhatIf(pb.change, time_from_pb(pb, "start_time"), pb.is_estimate)


def explanation_to_pb(e: Explanation) -> jobs_pb2.ExplainJobResponse:
    pb = jobs_pb2.ExplainJobResponse(
        job_id=e.job_id, user=e.user, partition=e.partition, state=STATE_TO_PB[JobState(e.state)],
        reason=REASON_TO_PB[JobReason(e.reason)], reason_detail=e.reason_detail,
        planned_start_is_estimate=e.planned_start_is_estimate,
        planned_start_is_forecast=e.planned_start_is_forecast, after=[_running_end_to_pb(a) for a in e.after],
        jobs_ahead=e.jobs_ahead, notes=e.notes, what_ifs=[_what_if_to_pb(w) for w in e.what_ifs])
    time_to_pb(e.planned_start, pb.planned_start)
    if e.limit is not None:
        pb.limit.CopyFrom(jobs_pb2.HeldLimit(holder=e.limit.holder, setting=e.limit.setting, in_use=e.limit.in_use,
                                             asked=e.limit.asked,
                                             holders=[_running_end_to_pb(h) for h in e.limit.holders]))
    if e.priority is not None:
        pb.priority.CopyFrom(job_priority_to_pb(e.priority))
    for name in ("fairshare", "account_shares", "account_usage"):
        if getattr(e, name) is not None:
            setattr(pb, name, getattr(e, name))
    return pb


def explanation_from_pb(pb: jobs_pb2.ExplainJobResponse) -> Explanation:
    limit = None
    if pb.HasField("limit"):
        limit = HeldLimit(pb.limit.holder, pb.limit.setting, pb.limit.in_use, pb.limit.asked,
                          tuple(_running_end_from_pb(h) for h in pb.limit.holders))
    return Explanation(
        job_id=pb.job_id, user=pb.user, partition=pb.partition, state=STATE_FROM_PB[pb.state].value,
        reason=REASON_FROM_PB[pb.reason].value, reason_detail=pb.reason_detail,
        planned_start=time_from_pb(pb, "planned_start"), planned_start_is_estimate=pb.planned_start_is_estimate,
        planned_start_is_forecast=pb.planned_start_is_forecast,
        after=tuple(_running_end_from_pb(a) for a in pb.after), limit=limit, jobs_ahead=pb.jobs_ahead,
        priority=job_priority_from_pb(pb.priority) if pb.HasField("priority") else None,
        **{name: getattr(pb, name) if pb.HasField(name) else None
           for name in ("fairshare", "account_shares", "account_usage")},
        notes=tuple(pb.notes), what_ifs=tuple(_what_if_from_pb(w) for w in pb.what_ifs))


def reservation_to_pb(r: Reservation) -> admin_pb2.Reservation:
    pb = admin_pb2.Reservation(name=r.name, node_names=r.node_names, users=r.users, accounts=r.accounts,
                               flags=sorted(f.value for f in r.flags), partition=r.partition,
                               core_count=r.core_count, cores_per_node=r.cores_per_node)
    time_to_pb(r.start_time, pb.start_time)
    time_to_pb(r.end_time, pb.end_time)
    return pb


def reservation_from_pb(pb: admin_pb2.Reservation) -> Reservation:
    """InvalidReservation for a flag JEM does not know."""
    try:
        flags = frozenset(ReservationFlag(f) for f in pb.flags)
    except ValueError:
        raise InvalidReservation(f"flags {','.join(pb.flags)}: JEM knows "
                                 f"{', '.join(f.value for f in ReservationFlag)}") from None
    return Reservation(name=pb.name, start_time=time_from_pb(pb, "start_time") or 0.0,
                       end_time=time_from_pb(pb, "end_time") or 0.0, node_names=tuple(pb.node_names),
                       users=tuple(pb.users), accounts=tuple(pb.accounts), flags=flags, partition=pb.partition,
                       core_count=pb.core_count, cores_per_node=tuple(pb.cores_per_node))


_DIAGNOSTIC_COUNTS = ("rpcs_in_flight", "agent_calls_in_flight", "jobs_submitted", "jobs_started", "jobs_completed",
                      "jobs_canceled", "jobs_failed", "jobs_pending", "jobs_running", "backfilled_since_start",
                      "backfilled_since_reset", "clock_latency_us")
_CYCLE_COUNTS = ("count", "last_us", "max_us", "sum_us", "last_depth", "depth_sum", "last_queue_len",
                 "queue_len_sum", "last_nodes", "nodes_sum")


def diagnostics_to_pb(d: Diagnostics) -> admin_pb2.GetDiagnosticsResponse:
    pb = admin_pb2.GetDiagnosticsResponse(
        **{name: getattr(d, name) for name in _DIAGNOSTIC_COUNTS},
        cycles=admin_pb2.CycleCounts(**{name: getattr(d.cycles, name) for name in _CYCLE_COUNTS}),
        by_method=[admin_pb2.RpcCount(name=r.name, id=r.id, count=r.count, total_us=r.total_us) for r in d.by_method],
        by_user=[admin_pb2.RpcCount(name=r.name, id=r.id, count=r.count, total_us=r.total_us) for r in d.by_user])
    time_to_pb(d.time, pb.time)
    time_to_pb(d.since, pb.since)
    if d.cycles.last_time:
        time_to_pb(d.cycles.last_time, pb.cycles.last_time)
    return pb


def diagnostics_from_pb(pb: admin_pb2.GetDiagnosticsResponse) -> Diagnostics:
    cycles = CycleCounts(**{name: getattr(pb.cycles, name) for name in _CYCLE_COUNTS},
                         last_time=time_from_pb(pb.cycles, "last_time") or 0.0)
    return Diagnostics(
        time=time_from_pb(pb, "time") or 0.0, since=time_from_pb(pb, "since") or 0.0, cycles=cycles,
        **{name: getattr(pb, name) for name in _DIAGNOSTIC_COUNTS},
        by_method=tuple(RpcCount(r.name, r.id, r.count, r.total_us) for r in pb.by_method),
        by_user=tuple(RpcCount(r.name, r.id, r.count, r.total_us) for r in pb.by_user))


_REPORT_KIND_TO_PB = {ReportKind.CLUSTER: jobs_pb2.USAGE_REPORT_KIND_CLUSTER,
                      ReportKind.ACCOUNT_TREE: jobs_pb2.USAGE_REPORT_KIND_ACCOUNT_TREE,
                      ReportKind.USERS: jobs_pb2.USAGE_REPORT_KIND_USERS}
_REPORT_KIND_FROM_PB = {pb: kind for kind, pb in _REPORT_KIND_TO_PB.items()}
_CLUSTER_USAGE = ("n_cpus", "reported_cpu_s", "allocated_cpu_s", "down_cpu_s", "planned_down_cpu_s", "idle_cpu_s",
                  "planned_cpu_s", "over_committed_cpu_s")


def usage_request_to_pb(kind: ReportKind, *, start: float, end: float, accounts=(), users=()
                        ) -> jobs_pb2.UsageReportRequest:
    pb = jobs_pb2.UsageReportRequest(kind=_REPORT_KIND_TO_PB[kind], accounts=sorted(accounts), users=sorted(users))
    time_to_pb(start, pb.start_time)
    time_to_pb(end, pb.end_time)
    return pb


def report_kind_from_pb(value: int) -> ReportKind:
    """InvalidArgument for USAGE_REPORT_KIND_UNSPECIFIED or a value this version does not know."""
    try:
        return _REPORT_KIND_FROM_PB[value]
    except KeyError:
        raise InvalidArgument("kind: USAGE_REPORT_KIND_UNSPECIFIED or an unknown kind") from None


def usage_report_to_pb(report: UsageReport) -> jobs_pb2.UsageReportResponse:
    pb = jobs_pb2.UsageReportResponse(
        **{name: getattr(report.cluster, name) for name in _CLUSTER_USAGE},
        associations=[jobs_pb2.AssociationUsage(account=r.account, user=r.user, parent_account=r.parent_account,
                                                cpu_s=r.cpu_s) for r in report.rows])
    time_to_pb(report.start, pb.start_time)
    time_to_pb(report.end, pb.end_time)
    return pb


def usage_report_from_pb(pb: jobs_pb2.UsageReportResponse) -> UsageReport:
    return UsageReport(start=time_from_pb(pb, "start_time") or 0.0, end=time_from_pb(pb, "end_time") or 0.0,
                       cluster=ClusterUsage(**{name: getattr(pb, name) for name in _CLUSTER_USAGE}),
                       rows=tuple(AssociationUsage(r.account, r.user, r.cpu_s, parent_account=r.parent_account)
                                  for r in pb.associations))


# ---------------------------------------------------------------- live usage (sstat)

_TASK_USAGE = ("step_id", "task_id", "node", "cpu_us", "rss_kib", "max_rss_kib", "vmsize_kib", "max_vmsize_kib",
               "pages", "read_bytes", "write_bytes")
_FIGURE = ("max", "max_node", "max_task", "min", "min_node", "min_task", "ave", "total")
_USAGE_PROBLEM_TO_PB = {UsageProblem.NOT_FOUND: jobs_pb2.JOB_USAGE_PROBLEM_NOT_FOUND,
                        UsageProblem.NOT_RUNNING: jobs_pb2.JOB_USAGE_PROBLEM_NOT_RUNNING,
                        UsageProblem.NOT_PERMITTED: jobs_pb2.JOB_USAGE_PROBLEM_NOT_PERMITTED}
_USAGE_PROBLEM_FROM_PB = {v: k for k, v in _USAGE_PROBLEM_TO_PB.items()}


def task_usage_to_pb(task: TaskUsage) -> agent_pb2.TaskUsage:
    return agent_pb2.TaskUsage(**{name: getattr(task, name) for name in _TASK_USAGE}, pids=task.pids)


def task_usage_from_pb(pb: agent_pb2.TaskUsage) -> TaskUsage:
    return TaskUsage(**{name: getattr(pb, name) for name in _TASK_USAGE}, pids=tuple(pb.pids))


def job_usage_to_pb(report: JobUsageReport) -> jobs_pb2.JobUsageResponse:
    return jobs_pb2.JobUsageResponse(
        steps=[jobs_pb2.StepUsage(job_id=s.job_id, step_id=s.step_id, n_tasks=s.n_tasks, nodes=s.nodes, pids=s.pids,
                                  figures={name: jobs_pb2.UsageFigure(**{k: getattr(f, k) for k in _FIGURE})
                                           for name, f in s.figures.items()})
               for s in report.steps],
        problems=[jobs_pb2.JobUsageError(job_id=job_id, problem=_USAGE_PROBLEM_TO_PB[problem])
                  for job_id, problem in report.problems])


def job_usage_from_pb(pb: jobs_pb2.JobUsageResponse) -> JobUsageReport:
    """Problems this version does not know read as NOT_FOUND."""
    return JobUsageReport(
        steps=tuple(StepUsage(job_id=s.job_id, step_id=s.step_id, n_tasks=s.n_tasks, nodes=tuple(s.nodes),
                              pids=tuple(s.pids),
                              figures={name: Figure(**{k: getattr(f, k) for k in _FIGURE})
                                       for name, f in s.figures.items()})
                    for s in pb.steps),
        problems=tuple((p.job_id, _USAGE_PROBLEM_FROM_PB.get(p.problem, UsageProblem.NOT_FOUND)) for p in pb.problems))


# ---------------------------------------------------------------- crontabs (scrontab)

def entry_requests_from_pb(entries) -> list[EntryRequest]:
    """SetCrontabRequest's entries as the controller reads them."""
    return [EntryRequest(pb.schedule, spec_from_pb(pb.spec), pb.user_signature) for pb in entries]


def entry_request_to_pb(request: EntryRequest) -> jobs_pb2.CrontabEntry:
    return jobs_pb2.CrontabEntry(schedule=request.schedule, spec=spec_to_pb(request.spec),
                                 user_signature=request.user_signature)


def installed_entries_to_pb(crontab: Crontab) -> list[jobs_pb2.CrontabEntry]:
    return [jobs_pb2.CrontabEntry(schedule=e.schedule, job_id=e.job_id, first_line=e.first_line,
                                  last_line=e.last_line) for e in crontab.entries]


def installed_entries_from_pb(entries) -> tuple[InstalledEntry, ...]:
    return tuple(InstalledEntry(pb.first_line, pb.last_line, pb.schedule, pb.job_id) for pb in entries)


def crontab_from_pb(pb: jobs_pb2.GetCrontabResponse) -> Crontab | None:
    """GetCrontab's answer: the crontab, or None when the user has none."""
    if not pb.exists:
        return None
    return Crontab(pb.user, pb.text, installed_entries_from_pb(pb.entries), frozenset(pb.disabled_lines))
