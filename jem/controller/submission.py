"""Accepting a job: validate, fill defaults, reject what can never run, store it.

"Never" is decided here, at submit time (Slurm's EnforcePartLimits=ALL): a job
whose per-node request exceeds every node of its partition, or that wants
more such nodes than the partition has, is refused with Unsatisfiable. So is
a constraint (-C) no node of the partition meets (InvalidFeature), a GRES or GPU
type no node has (InvalidGres), more nodes than its MaxNodes (InvalidNodeCount), and what site
policy refuses (jem.controller.admission: account, QOS, access lists, submit limits).
"Not now" is the scheduler's business.
"""

import dataclasses
from dataclasses import dataclass

from jem.controller.admission import (check_partition_size, check_partition_time, check_submit_limits, limited_job,
                                     resolve_account_and_qos)
from jem.controller.fairuse import check_queue_room
from jem.controller.reservations import check_job_reservation
from jem.controller.state import ClusterState
from jem.model import defaults
from jem.model.arrays import parse_array
from jem.model.dependency import Dependency, parse_dependency
from jem.model.associations import AccountingTable
from jem.model.errors import (DependencyProblem, InvalidFeature, InvalidGres, InvalidJobSpec, ParameterTooLong,
                              Unsatisfiable, UnknownPartition)
from jem.model.features import parse_constraint
from jem.model import policy
from jem.model.identity import Identity
from jem.model.job import Job, JobShape, JobSpec, shape_job
from jem.model.limits import InputLimits, clamp_epoch, clamp_time_limit
from jem.model.sharing import shared_spec
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.scheduler.priority import basic_priority
from jem.security import signatures
from jem.security.digest import spec_digest


def submit_job(state: ClusterState, spec: JobSpec, identity: Identity, *, now: float, test_only: bool = False,
               user_signature: str = "") -> int:
    """Queue `spec` for `identity`; returns the new job id (0 when `test_only`). A user signature,
    when the caller sends one, must be the caller's over this spec (BadUserSignature otherwise):
    it is kept with the job for the agents (jem.security.signatures)."""
    state.submit_rate.take(identity)   # first: a flood of bad requests costs its sender, not the controller
    if spec.cron_schedule:   # (scrontab's entries are queued through JobService.SetCrontab alone)
        raise InvalidJobSpec("cron_schedule: only scrontab's jobs have one")
    submission = checked_submission(state, spec, identity, user_signature=user_signature)
    with state.lock:
        job = admitted_job(state, submission, identity, now=now, test_only=test_only)
        if job is None:
            return 0
        job_id = state.jobs.add(job, now=now)
    state.wake_scheduler()
    return job_id


@dataclass(frozen=True, slots=True)
class Submission:
    """A job request checked as far as it can be without the controller's lock."""

    spec: JobSpec
    dependency: Dependency | None
    array_pending: tuple[int, ...]
    user_signature: str


def checked_submission(state: ClusterState, spec: JobSpec, identity: Identity, *,
                       user_signature: str) -> Submission:
    """`spec` valid, within the cluster's limits and signed by `identity` (when signed), its
    dependency and array parsed. No lock is held."""
    spec = checked_spec(spec, state.config.limits)
    if spec.nice < 0:   # a higher priority than others' jobs is the operators' to give (Slurm: privileged only)
        policy.require_operator(identity, "set a negative nice value")
    dependency = _parsed_dependency(spec.dependency, state.config.limits)
    array_pending = parse_array(spec.array, max_size=state.config.scheduler.max_array_size).indices \
        if spec.array else ()
    if user_signature and state.keys is not None:   # (a scrontab entry's job: jem-cron; any other: jem-job)
        signatures.check_signature(user_signature, state.keys.authd_keys, audience=signatures.job_audience(
            spec.cron_schedule), uid=identity.uid, gid=identity.gid, digest=spec_digest(spec))
    return Submission(spec, dependency, array_pending, user_signature)


def admitted_job(state: ClusterState, submission: Submission, identity: Identity, *, now: float,
                 test_only: bool = False, queued_before: int = 0) -> Job | None:
    """The job `submission` becomes for `identity`, not stored yet, once site policy admits it
    (None with `test_only`, which skips the queue's room). `queued_before`: the jobs the same
    request queues before this one, less those it ends (a crontab's entries: its earlier ones,
    less the old entries' jobs it replaces), counted against the submit limits. Lock held."""
    spec, dependency, array_pending = submission.spec, submission.dependency, submission.array_pending
    table = state.accounting_table   # (one version throughout)
    partition = _partition_for(state, spec.partition)
    spec = dataclasses.replace(
        resolve_account_and_qos(table, state.config, spec, identity, partition),
        partition=partition.name, name=spec.name or "sbatch",
        working_dir=spec.working_dir or defaults.JOB_WORKING_DIR,
    )
    if spec.reservation:
        check_job_reservation(state.reservations.get(spec.reservation) if state.reservations else None,
                              spec.reservation, identity.user, spec.account)
    time_limit = _time_limit(table, spec, identity.user, partition)
    check_partition_time(partition, time_limit)
    shape = shape_in_partition(state, spec, partition)
    check_partition_size(partition, shape)
    dependency_text = _checked_dependency(state, dependency)
    n_tasks = (len(array_pending) or 1) + queued_before
    check_submit_limits(table, state.config, limited_job(spec, identity.user, shape, time_limit, partition),
                        state.jobs.index, n_tasks=n_tasks)
    if test_only:
        return None
    check_queue_room(state.jobs, identity, account=spec.account, n_tasks=n_tasks,
                     limits=state.config.limits, max_job_count=state.config.scheduler.max_job_count)
    held_by = "user" if spec.hold else ""
    return Job(
        job_id=0, spec=spec, user=identity.user, uid=identity.uid, gid=identity.gid, submit_time=now,
        shape=shape, time_limit_s=time_limit, held_by=held_by,
        reason=JobReason.JOB_HELD_USER if held_by else JobReason.DEPENDENCY if dependency_text else JobReason.NONE,
        priority=basic_priority(spec.nice, is_held=bool(held_by)),
        array_pending=array_pending, dependency=dependency_text, user_signature=submission.user_signature,
    )


def _time_limit(table: AccountingTable, spec: JobSpec, user: str, partition: Partition) -> int | None:
    """The job's own time limit, else its partition's DefaultTime, else the MaxWall of its QOS or
    association when shorter than the partition's MaxTime (as Slurm's _set_time_limit)."""
    if spec.time_limit_s is None and not spec.time_limit_unlimited and partition.default_time_s is None:
        walls = [table.qos[q].limits.max_wall_s for q in (partition.qos, spec.qos) if q in table.qos]
        wall = next((w for w in walls if w is not None), table.effective_max(spec.account, user, "max_wall_s"))
        if wall is not None and (partition.max_time_s is None or wall < partition.max_time_s):
            return wall
    return partition.resolve_time_limit(spec.time_limit_s, is_unlimited=spec.time_limit_unlimited)


def checked_spec(spec: JobSpec, limits: InputLimits) -> JobSpec:
    """`spec` with its times clamped to what the platform holds, once it is valid and within
    `limits` (InvalidJobSpec or ParameterTooLong otherwise). No lock is held: nothing here
    grows with the cluster, and a huge request is refused before it touches shared state."""
    spec.validate(limits)
    return shared_spec(dataclasses.replace(spec, time_limit_s=clamp_time_limit(spec.time_limit_s),
                                           begin_time=clamp_epoch(spec.begin_time)))


def _parsed_dependency(text: str, limits: InputLimits) -> Dependency | None:
    dependency = parse_dependency(text)
    n_refs = sum(len(term.refs) for term in dependency.terms) if dependency is not None else 0
    if n_refs > limits.max_dependency_jobs:
        raise ParameterTooLong(f"dependency: {n_refs} jobs, more than the cluster's limit of "
                               f"{limits.max_dependency_jobs}")
    return dependency


def _checked_dependency(state: ClusterState, dependency: Dependency | None) -> str:
    """The dependency in canonical form; DependencyProblem if it names a job never submitted."""
    if dependency is None:
        return ""
    for term in dependency.terms:
        for ref in term.refs:
            job = state.jobs.get(ref.job_id)
            if job is None or (ref.task_id is not None and not job.spec.array):
                raise DependencyProblem(f"job {ref} not found")
    return str(dependency)


def _partition_for(state: ClusterState, name: str) -> Partition:
    if not name:
        partition = state.config.default_partition
        if partition is None:
            raise UnknownPartition("no partition is configured")
        return partition
    partition = state.partition(name)
    if partition is None:
        raise UnknownPartition(name)
    return partition


def shape_in_partition(state: ClusterState, spec: JobSpec, partition: Partition) -> JobShape:
    """The job's shape on `partition`'s nodes; Unsatisfiable if it can never run there. Lock held."""
    members = [n for n in state.nodes.all() if partition.has_node(n.name)]
    shape = _shape(spec, partition, members)
    _check_satisfiable(shape, partition, _able_members(spec, partition, members))
    return shape


def _shape(spec: JobSpec, partition: Partition, members: list[Node]) -> JobShape:
    if not members:
        raise Unsatisfiable(f"partition {partition.name} has no nodes")
    largest_cpus = max(n.capacity.cpus for n in members)
    default_mem = partition.default_mem_per_cpu_mib
    if default_mem is None:
        default_mem = min(n.capacity.mem_mib // n.capacity.cpus for n in members)
    return shape_job(spec, largest_node_cpus=largest_cpus, default_mem_per_cpu_mib=default_mem)


def _able_members(spec: JobSpec, partition: Partition, members: list[Node]) -> list[Node]:
    """The members with the job's features, its GPU type and enough of each GRES it asks for."""
    constraint = parse_constraint(spec.constraint)
    if constraint.names:
        members = [n for n in members if constraint.is_met_by(n.features)]
        if not members:
            raise InvalidFeature(f"{spec.constraint!r}: no node of partition {partition.name} has these features")
    if spec.gpu_type:   # (Slurm refuses a type no node has as a GRES it does not know)
        members = [n for n in members if n.gpu_type == spec.gpu_type]
        if not members:
            raise InvalidGres(f"gpu:{spec.gpu_type}: no node of partition {partition.name}"
                              f"{' with these features' if constraint.names else ''} has GPUs of this type")
    for name, count in spec.gres_per_node:
        if count and not any(name in n.gres for n in members):
            raise InvalidGres(f"{name}: no node of partition {partition.name} has it")
        members = [n for n in members if n.gres.get(name, 0) >= count]
    if not members:
        raise Unsatisfiable(f"no node of partition {partition.name} has the generic resources requested")
    return members


def _check_satisfiable(shape: JobShape, partition: Partition, members: list[Node]) -> None:
    big_enough = [n for n in members if shape.per_node.fits_in(n.capacity)]
    if len(big_enough) >= shape.n_nodes:
        return
    want = shape.per_node
    largest = max(members, key=lambda n: n.capacity.as_row())
    raise Unsatisfiable(
        f"{shape.n_nodes} node(s) with {want.cpus} CPUs, {want.mem_mib} MiB, {want.gpus} GPUs each requested; "
        f"partition {partition.name} has {len(big_enough)} such node(s) "
        f"(largest: {largest.capacity.cpus} CPUs, {largest.capacity.mem_mib} MiB, {largest.capacity.gpus} GPUs)"
    )
