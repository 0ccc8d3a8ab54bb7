"""`jem why`: what a job waits for, from the controller's live state and the last cycle's plan.

The planned start and its kind are the last cycle's (jem.controller.loop); the limit that
holds a job is the one the cycle's ledger finds (jem.scheduler.limits), with the running jobs
that hold it; the jobs ahead are the pending jobs of its partition the queue order puts
first; the priority's factors are sprio's (jem.controller.priorities).
"""

import dataclasses

from jem.controller.admission import limited_job
from jem.controller.priorities import list_priorities
from jem.controller.state import ClusterState
from jem.model import policy
from jem.model.errors import JobNotFound
from jem.model.explanation import Explanation, HeldLimit, RunningEnd
from jem.model.identity import Identity
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.settings import ASSOCIATION_LIMIT_NAMES, QOS_LIMIT_NAMES
from jem.model.states import JobState
from jem.model.tres import format_tres
from jem.model.units import format_duration
from jem.scheduler.fairshare import DEFAULT_ACCOUNT, share_rows
from jem.scheduler.limits import Ledger, Rule, column_amount, holders_of
from jem.scheduler.priority import queue_order_key


def explain_job(state: ClusterState, identity: Identity, job_id: int, *, now: float) -> Explanation:
    """JobNotFound for a job the caller may not see."""
    table = state.accounting_table
    jobs_private = state.config.cluster.is_private("jobs")
    with state.lock:
        job = state.jobs.get(job_id)
        if job is None or not policy.may_see_job(identity, job.uid, jobs_private=jobs_private):
            raise JobNotFound(str(job_id))
        running = [j for j in state.jobs.live() if j.state is JobState.RUNNING]
        visible = {j.job_id for j in running if policy.may_see_job(identity, j.uid, jobs_private=jobs_private)}
        ends = [RunningEnd(j.job_id, j.nodes, (j.start_time or now) + j.time_limit_s) for j in running
                if j.time_limit_s is not None and j.job_id in visible]
        explanation = Explanation(
            job_id=job.job_id, user=job.user, partition=job.spec.partition, state=job.state.value,
            reason=job.reason.value, reason_detail=job.reason_detail, planned_start=job.planned_start,
            planned_start_is_estimate=job.planned_start_is_estimate)
        if job.state is not JobState.PENDING:
            return explanation
        key = queue_order_key(job.priority, job.submit_time, job.job_id)
        ahead = sum(1 for other in state.jobs.pending()
                    if other.spec.partition == job.spec.partition and not other.held_by and other is not job
                    and queue_order_key(other.priority, other.submit_time, other.job_id) < key)
        partition = state.partition(job.spec.partition) or Partition("", ())
        limit = None
        if table.has_limits and job.reason.value.startswith(("Assoc", "QOS")):
            limit = _held_limit(table, job, partition, running, now, state)
            if limit is not None:   # (PrivateData=jobs: others' jobs that hold it are not named)
                limit = dataclasses.replace(limit, holders=tuple(h for h in limit.holders if h.job_id in visible))
        account = job.spec.account or DEFAULT_ACCOUNT
        users = set(state.jobs.share_users())   # (the users the cycle ranks)
        usage = dict(state.usage.by_user)
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
    return dataclasses.replace(
        explanation, after=after, limit=limit, jobs_ahead=ahead, priority=priorities[0] if priorities else None,
        fairshare=own.factor if own is not None else None,
        account_shares=account_row.norm_shares if account_row is not None else None,
        account_usage=account_row.effective_usage if account_row is not None else None,
        notes=_notes(job, explanation))


def _held_limit(table, job, partition, running, now, state) -> HeldLimit | None:
    """The limit the ledger finds holding `job`, with what holds it. Lock held."""
    def limited(j):
        part = state.partition(j.spec.partition) or Partition("", ())
        return limited_job(j.spec, j.user, j.shape, j.time_limit_s, part)

    views = [(limited(j), j) for j in running]
    ledger = Ledger(table, [(v, None if j.time_limit_s is None else int((j.start_time or now) + j.time_limit_s - now))
                            for v, j in views])
    me = limited_job(job.spec, job.user, job.shape, job.time_limit_s, partition)
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
        notes.append("no start is planned yet: it is beyond the scheduler's estimate depth ([scheduler] estimate_depth)")
    if job.held_by:
        notes.append(f"held by {job.held_by}: it starts only once released (scontrol release)")
    if job.dependency:
        notes.append(f"waits for its dependency: {job.dependency}")
    return tuple(notes)
