"""`jem why`: what a job waits for, from the controller's live state and the last cycle's plan,
and what its owner could change to start it sooner.

The planned start and its kind are the last cycle's (jem.controller.loop); the limit that
holds a job is the one the cycle's ledger finds (jem.scheduler.limits), with the running jobs
that hold it; the jobs ahead are the pending jobs of its partition the queue order puts
first; the priority's factors are sprio's (jem.controller.priorities). The what-ifs are
planned by jem.scheduler.whatif over a snapshot taken under the lock as the loop takes its
own, with the jobs the last cycle put ahead of the job; the planning runs after the lock is
released. They are shown only to whoever may change the job (its owner, an operator), name
no other job, and are changes its owner may make (update_job's checks, as for the owner).
"""

import dataclasses
from dataclasses import dataclass

from jem.controller.admission import limited_job
from jem.controller.fairuse import RunningQuota
from jem.controller.priorities import list_priorities
from jem.controller.requests import _check_policy_again
from jem.controller.state import ClusterState
from jem.controller.submission import shape_in_partition
from jem.model import policy
from jem.model.errors import JemError, JobNotFound
from jem.model.explanation import Explanation, HeldLimit, RunningEnd, WhatIf
from jem.model.identity import Identity
from jem.model.job import Job, JobShape, JobSpec
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.settings import ASSOCIATION_LIMIT_NAMES, QOS_LIMIT_NAMES
from jem.model.states import JobState
from jem.model.tres import format_tres
from jem.model.units import format_duration
from jem.scheduler.cycle import job_priorities
from jem.scheduler.fairshare import DEFAULT_ACCOUNT, share_rows
from jem.scheduler.limits import Ledger, LimitedJob, Rule, column_amount, holders_of
from jem.scheduler.policy import Policy
from jem.scheduler.priority import queue_order_key
from jem.scheduler.snapshot import Snapshot, pending_views, take_snapshot
from jem.scheduler.whatif import MAX_AHEAD, MAX_MOVES, Knob, Suggestion, Variant, node_counts_to_try, plan_what_ifs


def explain_job(state: ClusterState, identity: Identity, job_id: int, *, now: float) -> Explanation:
    """JobNotFound for a job the caller may not see."""
    table = state.accounting_table
    jobs_private = state.config.cluster.is_private("jobs")
    with state.lock:
        job = state.jobs.get(job_id)
        if job is None or not policy.may_see_job(identity, job.uid, jobs_private=jobs_private):
            raise JobNotFound(str(job_id))
        live = state.jobs.live()
        running = [j for j in live if j.state is JobState.RUNNING]
        visible = {j.job_id for j in running if policy.may_see_job(identity, j.uid, jobs_private=jobs_private)}
        ends = [RunningEnd(j.job_id, j.nodes, (j.start_time or now) + j.time_limit_s) for j in running
                if j.time_limit_s is not None and j.job_id in visible]
        explanation = Explanation(
            job_id=job.job_id, user=job.user, partition=job.spec.partition, state=job.state.value,
            reason=job.reason.value, reason_detail=job.reason_detail, planned_start=job.planned_start,
            planned_start_is_estimate=job.planned_start_is_estimate,
            planned_start_is_forecast=job.planned_start_is_forecast)
        if job.state is not JobState.PENDING:
            return explanation
        key = queue_order_key(job.priority, job.submit_time, job.job_id)
        ahead = sum(1 for other in state.jobs.pending()
                    if other.spec.partition == job.spec.partition and not other.held_by and other is not job
                    and queue_order_key(other.priority, other.submit_time, other.job_id) < key)
        limit = None
        if table.has_limits and job.reason.value.startswith(("Assoc", "QOS")):
            limit = _held_limit(table, job, running, now, state)
            if limit is not None:   # (PrivateData=jobs: others' jobs that hold it are not named)
                limit = dataclasses.replace(limit, holders=tuple(h for h in limit.holders if h.job_id in visible))
        account = job.spec.account or DEFAULT_ACCOUNT
        users = set(state.jobs.share_users())   # (the users the cycle ranks)
        usage = dict(state.usage.by_user)
        # (only for who may change the job: the suggestions are changes to it)
        inputs = _what_if_inputs(state, job, identity, live) if identity.may_act_on(job.uid) else None
    after = ()
    if explanation.planned_start is not None:
        after = tuple(sorted((e for e in ends if int(e.end_time) == int(explanation.planned_start)),
                             key=lambda e: e.job_id))
    _, priorities = list_priorities(state, identity, now=now, job_ids=frozenset({job_id}))
    rows = share_rows(state.config.fairshare.algorithm, state.fairshare_accounts(), usage, users)
    own = next((r for r in rows if r.account == account and r.user == job.user), None)
    account_row = next((r for r in rows if r.account == account and not r.user), None)
    if not policy.may_see_usage(identity, job.user, usage_private=state.config.cluster.is_private("usage")):
        own = account_row = None
    what_ifs, what_if_notes = _what_ifs(state, inputs, now) if inputs is not None else ((), ())
    return dataclasses.replace(
        explanation, after=after, limit=limit, jobs_ahead=ahead, priority=priorities[0] if priorities else None,
        fairshare=own.factor if own is not None else None,
        account_shares=account_row.norm_shares if account_row is not None else None,
        account_usage=account_row.effective_usage if account_row is not None else None,
        notes=_notes(job, explanation) + what_if_notes, what_ifs=what_ifs)


def _held_limit(table, job, running, now, state) -> HeldLimit | None:
    """The limit the ledger finds holding `job`, with what holds it. Lock held."""
    views = [(_limited(state, j), j) for j in running]
    ledger = Ledger(table, [(v, None if j.time_limit_s is None else int((j.start_time or now) + j.time_limit_s - now))
                            for v, j in views])
    me = _limited(state, job)
    rule = ledger.blocking(me)
    if rule is None:
        return None
    column = rule.tres or "jobs"
    holders = tuple(sorted(
        (RunningEnd(j.job_id, j.nodes, (j.start_time or now) + j.time_limit_s if j.time_limit_s else float("inf"))
         for v, j in views if rule.holder in holders_of(v, table) and column_amount(v, column)),
        key=lambda e: (e.end_time, e.job_id)))
    return HeldLimit(holder=_describe(rule.holder), setting=_setting(rule), in_use=ledger.in_use(rule),
                     asked=me.tres.get(rule.tres, 0) if rule.tres else 1, holders=holders)


def _describe(holder: tuple) -> str:
    kind = holder[0]
    if kind == "account":
        return f"account {holder[1]}"
    if kind == "user":
        return f"user {holder[2]} in account {holder[1]}"
    if kind == "qos":
        return f"QOS {holder[1]}"
    return f"user {holder[2]} in QOS {holder[1]}"


def _setting(rule: Rule) -> str:
    """The limit as sacctmgr writes it: GrpTRES=cpu=4, MaxJobsPerUser=2, MaxWall=1:00:00."""
    names = QOS_LIMIT_NAMES if rule.holder[0] in ("qos", "qos_user") else ASSOCIATION_LIMIT_NAMES
    if rule.field == "max_wall_s":
        value = format_duration(rule.limit)
    elif rule.tres:
        value = format_tres({rule.tres: rule.limit})
    else:
        value = str(rule.limit)
    return f"{names[rule.field]}={value}"


def _notes(job, explanation: Explanation) -> tuple[str, ...]:
    notes = []
    if job.reason is JobReason.PRIORITY and explanation.planned_start is None:
        notes.append("no start is planned yet: the scheduler has not planned it since it came (next cycle)")
    if explanation.planned_start_is_forecast:
        notes.append("the planned start is a forecast: beyond the exact estimates' time budget "
                     "([scheduler] estimate_budget_ms), its partition's nodes are pooled as one")
    if job.held_by:
        notes.append(f"held by {job.held_by}: it starts only once released (scontrol release)")
    if job.dependency:
        notes.append(f"waits for its dependency: {job.dependency}")
    return tuple(notes)


# ---------------------------------------------------------------- what-ifs


@dataclass(frozen=True, slots=True)
class _WhatIfInputs:
    """What the what-ifs are planned from, copied under the lock."""

    job: Job
    cluster: Snapshot                          # nodes, running jobs, usage, limits table, reservations
    candidate_ids: list[int]                   # the jobs the loop may plan (in no order)
    running: list[Job]                         # the running jobs (what limits count)
    quota: RunningQuota                        # (the loop plans no job over its user's running-job quota)
    fewer_nodes: list[tuple[JobSpec, JobShape, Partition]]   # the job changed, shaped where it would run
    moves: list[tuple[JobSpec, JobShape, Partition]]
    enforces_limits: bool


def _what_if_inputs(state: ClusterState, job: Job, identity: Identity, live: list[Job]) -> _WhatIfInputs | None:
    """The snapshot as the loop takes it (jem.controller.loop run_cycle), and the job shaped with
    fewer nodes and in each other partition as update_job would shape it, where its owner may
    make that change; None when the loop would not plan the job now (held, a dependency, a begin
    time to come, over its user's running-job quota; in a reservation: it starts with it). Lock held."""
    candidate_ids = state.jobs.schedulable_ids()
    quota = RunningQuota(live, state.config.limits, operators=set(state.config.admin_levels()))
    if job.spec.reservation or job.job_id not in set(candidate_ids) or not quota.allows(job):
        return None
    owner = identity if identity.uid == job.uid else Identity(user=job.user, uid=job.uid, gid=job.gid)
    partition = state.partition(job.spec.partition)
    fewer = []
    for n_nodes in node_counts_to_try(job.shape.n_nodes) if partition is not None else ():
        shaped = _shaped(state, job, dataclasses.replace(job.spec, n_nodes=n_nodes), partition, owner)
        if shaped is not None:
            fewer.append(shaped)
    moves = []
    for other in state.partitions:   # (a partition that is down starts nothing: not worth a pass)
        if len(moves) == MAX_MOVES:
            break
        if other.name != job.spec.partition and other.is_up:
            shaped = _shaped(state, job, dataclasses.replace(job.spec, partition=other.name), other, owner)
            if shaped is not None:
                moves.append(shaped)
    table = state.accounting_table
    cluster = take_snapshot([], state.nodes.all(), state.partitions, running_jobs=live, usage=state.usage.by_user,
                            requeue_by_default=state.config.cluster.requeue_on_node_failure)
    cluster = dataclasses.replace(cluster, share_users=state.jobs.share_users(), accounting=table,
                                  reservations=state.reservation_list)
    return _WhatIfInputs(
        job=job, cluster=cluster, candidate_ids=candidate_ids,
        running=[j for j in live if j.state is JobState.RUNNING],
        quota=quota, fewer_nodes=fewer, moves=moves,
        enforces_limits=table.has_limits and state.config.accounting.enforces("limits"))


def _shaped(state: ClusterState, job: Job, spec: JobSpec, partition: Partition,
            owner: Identity) -> tuple[JobSpec, JobShape, Partition] | None:
    """`spec` shaped on `partition` if the owner could change the job to it (update_job's checks,
    as for a user); else None. Lock held."""
    try:
        shape = shape_in_partition(state, spec, partition)
        _check_policy_again(state, job, spec, shape, owner)
    except JemError:
        return None
    return spec, shape, partition


def _what_ifs(state: ClusterState, inputs: _WhatIfInputs, now: float) -> tuple[tuple[WhatIf, ...], tuple[str, ...]]:
    """(the what-ifs, notes) planned without the lock. The jobs ahead are those the last cycle
    ranked before the job or before any of its variants (each variant's own place is found by
    the planner); their views are read without the lock as the loop reads them."""
    job, cluster = inputs.job, inputs.cluster
    scheduling = Policy.from_config(state.config).with_accounting(cluster.accounting)
    view = pending_views([job])[0]

    def variant(spec: JobSpec, shape: JobShape, partition: Partition) -> Variant:
        limited = limited_job(spec, job.user, shape, job.time_limit_s, partition) if inputs.enforces_limits else None
        return Variant(dataclasses.replace(view, partition=spec.partition, n_nodes=shape.n_nodes,
                                           per_node=shape.per_node), limited)

    fewer = [variant(*shaped) for shaped in inputs.fewer_nodes]
    moves = [variant(*shaped) for shaped in inputs.moves]
    priorities = job_priorities([view, *(v.job for v in fewer + moves)], cluster, scheduling, now)
    last = max(queue_order_key(int(p), job.submit_time, job.job_id) for p in priorities)
    ahead = [j for j in state.jobs.find_all(sorted(inputs.candidate_ids))
             if j is not None and j.job_id != job.job_id and j.is_pending
             and queue_order_key(j.priority, j.submit_time, j.job_id) < last and inputs.quota.allows(j)]
    if len(ahead) > MAX_AHEAD:
        return (), (f"what it could change is planned only for a job with at most {MAX_AHEAD} jobs ahead of it "
                    f"in the queue ({len(ahead)} are, in all partitions)",)
    limited = {}
    if inputs.enforces_limits:
        limited = {j.job_id: _limited(state, j) for j in [*ahead, job, *inputs.running]}
    snapshot = dataclasses.replace(cluster, pending=pending_views([*ahead, job]), limited=limited)
    planned = plan_what_ifs(snapshot, job.job_id, now, policy=scheduling, fewer_nodes=fewer, moves=moves)
    if planned is None:
        return (), ()
    return tuple(WhatIf(_change(s), float(s.start.start_s), s.start.is_estimate) for s in planned.suggestions), ()


def _limited(state: ClusterState, job: Job) -> LimitedJob:
    """What limits read of a job (as the loop reads it; a partition gone from the configuration has no QOS)."""
    return limited_job(job.spec, job.user, job.shape, job.time_limit_s,
                       state.partition(job.spec.partition) or Partition("", ()))


def _change(suggestion: Suggestion) -> str:
    """The change as scontrol update writes it: TimeLimit=00:10:00 (D-HH:MM:SS past a day), NumNodes=2."""
    value = suggestion.value
    if suggestion.knob is Knob.TIME_LIMIT:
        days, rest = divmod(int(value), 86400)
        clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
        value = f"{days}-{clock}" if days else clock
    return f"{suggestion.knob.value}={value}"
