"""jem.scheduler.limits against its plain-Python oracle (tests/oracle/limits_ref.py): on random
account trees, QOS, limits and running jobs (hypothesis), the ledger holds a job back exactly
when the oracle finds a limit it would break, with one of the oracle's reasons; jobs the
ledger takes count as running ones do; and the planner, given plan_limits' groups, starts
what the ledger allows."""

import numpy as np
from hypothesis import given, settings, strategies as st

from jem._core import backfill

from jem.model.accounting import add_accounts, add_qos, add_users, new_table
from jem.model.associations import Association, Limits, Qos, QosFlag
from jem.model.reasons import JobReason
from jem.model.tres import Tres
from jem.scheduler.limits import PLANNED_KINDS, Ledger, LimitedJob, plan_limits, rules_of
from tests.oracle import limits_ref

ACCOUNTS = ("a", "b", "c")
USERS = ("u1", "u2")
QOS = ("normal", "q1", "q2")
TRES_NAMES = ("cpu", "mem", "node", "gres/gpu")
NOW = 1_000_000


def tres_limits():
    return st.dictionaries(st.sampled_from(TRES_NAMES), st.integers(0, 8), max_size=2).map(Tres)


def limits():
    maybe = st.one_of(st.none(), st.integers(0, 4))
    return st.builds(Limits, grp_tres=tres_limits(), grp_tres_run_mins=tres_limits().map(lambda t: t.scaled(60)),
                     grp_jobs=maybe, max_tres_per_job=tres_limits(), max_tres_per_user=tres_limits(), max_jobs=maybe,
                     max_wall_s=st.one_of(st.none(), st.integers(1, 4).map(lambda h: h * 3600)))


@st.composite
def tables(draw):
    table = new_table()
    # (b always under a, so that limits up the tree meet jobs below them)
    parents = {"a": "root", "b": "a", "c": draw(st.sampled_from(["root", "a", "b"]))}
    table, _ = add_qos(table, [Qos(q, limits=draw(limits()),
                                   flags=frozenset({QosFlag.OVER_PART_QOS}) if draw(st.booleans()) else frozenset())
                               for q in QOS[1:]])
    table, _ = add_accounts(table, [Association(a, parent=parents[a], limits=draw(limits())) for a in ACCOUNTS])
    users = draw(st.sets(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(USERS)), max_size=4))
    table, _ = add_users(table, [Association(a, u, limits=draw(limits())) for a, u in sorted(users)])
    if draw(st.booleans()):
        table = table.__class__(associations={**table.associations, ("root", ""): Association(
            "root", parent="", limits=draw(limits()))}, users=table.users, qos=table.qos, version=table.version + 1)
    return table


jobs = st.builds(
    LimitedJob, account=st.sampled_from(ACCOUNTS + ("stray",)), user=st.sampled_from(USERS),
    qos=st.sampled_from(QOS), partition_qos=st.sampled_from(("",) + QOS),
    tres=st.fixed_dictionaries({"cpu": st.integers(1, 4), "mem": st.integers(0, 4), "node": st.integers(1, 2),
                                "gres/gpu": st.integers(0, 2)}).map(Tres),
    time_limit_s=st.one_of(st.none(), st.integers(1, 5).map(lambda h: h * 3600)))


@settings(max_examples=300, deadline=None)
@given(tables(), st.lists(st.tuples(jobs, st.integers(0, 5 * 3600)), max_size=6), jobs)
def test_the_ledger_holds_back_exactly_what_the_oracle_finds(table, running, job):
    ledger = Ledger(table, [(r, left if r.time_limit_s is not None else None) for r, left in running])
    run_left = {id(r): -(-left // 60) if r.time_limit_s is not None else 1 << 40 for r, left in running}
    broken = limits_ref.broken_limits(table, [r for r, _ in running], job, run_left)
    rule = ledger.blocking(job)
    assert (rule is None) == (not broken), (rule, broken)
    if rule is not None:
        assert rule.reason in broken


@settings(max_examples=200, deadline=None)
@given(tables(), st.lists(jobs, max_size=5), jobs)
def test_jobs_the_ledger_takes_count_as_running_ones(table, started, job):
    ledger = Ledger(table, [])
    for earlier in started:
        ledger.take(earlier)
    run_left = {id(r): limits_ref._minutes(r) for r in started}
    broken = limits_ref.broken_limits(table, started, job, run_left)
    assert (ledger.blocking(job) is None) == (not broken)


def test_a_qos_limit_masks_the_associations_and_the_partition_qos_comes_first():
    table, _ = add_qos(new_table(), [Qos("part", limits=Limits(max_jobs=5)), Qos("job", limits=Limits(max_jobs=1)),
                                     Qos("over", limits=Limits(max_jobs=1), flags=frozenset({QosFlag.OVER_PART_QOS}))])
    table, _ = add_accounts(table, [Association("a", limits=Limits(max_jobs=0, grp_tres=Tres(cpu=1)))])
    one = LimitedJob("a", "u", "job", "part", Tres(cpu=1), 60)
    reasons = [r.reason for r in rules_of(one, table)]
    assert reasons == [JobReason.QOS_MAX_JOBS_PER_USER_LIMIT, JobReason.ASSOC_GRP_CPU_LIMIT]
    assert [r.limit for r in rules_of(one, table) if r.kind == "jobs"] == [5]    # the partition QOS's
    over = LimitedJob("a", "u", "over", "part", Tres(cpu=1), 60)
    assert [r.limit for r in rules_of(over, table) if r.kind == "jobs"] == [1]   # OverPartQOS: the job's


@settings(max_examples=200, deadline=None)
@given(tables(), st.lists(st.tuples(jobs, st.integers(1, 5 * 3600)), max_size=5), st.lists(jobs, max_size=8))
def test_the_planner_starts_what_the_ledger_allows(table, running, queue):
    """On one node that holds everything, the kernel with plan_limits' groups starts a queue's jobs
    exactly as the ledger, taking each job it allows in order, would (the limits the planner holds;
    the others are the loop's to check before the plan)."""
    skip = frozenset({"job_tres", "job_wall", "run_mins", "submit"})
    queue = [j for j in queue if Ledger(table, []).blocking(j, skip=PLANNED_KINDS) is None]
    ledger = Ledger(table, [(r, left) for r, left in running])
    expected = []
    for job in queue:
        if ledger.blocking(job, skip=skip) is None:
            ledger.take(job)
            expected.append(backfill.STARTED)
        else:
            expected.append(backfill.LIMIT)
    limits = plan_limits(table, queue, [(r, NOW + left) for r, left in running])
    n = len(queue)
    status, *_ = backfill.backfill(
        np.full((1, 3), 1 << 40, dtype=np.int64), np.ones(1, dtype=np.uint8), membership=np.ones((1, 1), np.uint8),
        requests=np.ones((n, 3), dtype=np.int64), n_nodes_req=np.ones(n, dtype=np.int64),
        part_idx=np.zeros(n, dtype=np.intp), duration_s=np.array([j.time_limit_s or backfill.INF for j in queue],
                                                                 dtype=np.int64),
        run_node=np.zeros(0, dtype=np.intp), run_end=np.zeros(0, dtype=np.int64),
        run_alloc=np.zeros((0, 3), dtype=np.int64), now=NOW, reservation_depth=1, limits=limits)
    assert status.tolist() == expected


def test_a_limit_over_already_holds_no_job_that_asks_none_of_it():
    """QOS q2's MaxTRESPerUser=cpu=2,mem=0 is over for mem (a running job of the user holds 1 MiB
    in it as its partition QOS): a queued q2 job that asks no memory is held by neither the
    Ledger nor the planner (hypothesis found the planner holding it)."""
    table, _ = add_qos(new_table(), [Qos("q2", limits=Limits(max_tres_per_user=Tres(cpu=2, mem=0)))])
    table, _ = add_accounts(table, [Association("a")])
    table, _ = add_users(table, [Association("a", user="u1")])
    running = LimitedJob("a", "u1", "normal", "q2", Tres({"cpu": 1, "mem": 1, "node": 1}), None)
    queued = LimitedJob("a", "u1", "q2", "", Tres({"cpu": 1, "mem": 0, "node": 1}), None)
    assert Ledger(table, [(running, None)]).blocking(queued) is None
    limits = plan_limits(table, [queued], [(running, NOW + 60)])
    status, *_ = backfill.backfill(
        np.full((1, 3), 1 << 40, dtype=np.int64), np.ones(1, dtype=np.uint8), membership=np.ones((1, 1), np.uint8),
        requests=np.ones((1, 3), dtype=np.int64), n_nodes_req=np.ones(1, dtype=np.int64),
        part_idx=np.zeros(1, dtype=np.intp), duration_s=np.array([backfill.INF], dtype=np.int64),
        run_node=np.zeros(0, dtype=np.intp), run_end=np.zeros(0, dtype=np.int64),
        run_alloc=np.zeros((0, 3), dtype=np.int64), now=NOW, reservation_depth=1, limits=limits)
    assert status.tolist() == [backfill.STARTED]


def test_a_run_mins_limit_forecasts_when_the_running_jobs_have_used_enough_of_it():
    """GrpTRESRunMins=cpu=600 on account a; a running job of 4 CPUs with 100 minutes left holds
    400 CPU-minutes. A 2-CPU job of 150 minutes (300) fits once the running job holds 300 or less:
    75 minutes left, 25 minutes (1,500 s) from now. One of 400 minutes never fits; one without a
    time limit never either."""
    table, _ = add_accounts(new_table(), [Association("a", limits=Limits(grp_tres_run_mins=Tres(cpu=600)))])
    table, _ = add_users(table, [Association("a", user="u")])
    running = LimitedJob("a", "u", "normal", "", Tres({"cpu": 4, "node": 1}), 6000)
    ledger = Ledger(table, [(running, 6000)])

    def job(minutes):
        return LimitedJob("a", "u", "normal", "", Tres({"cpu": 2, "node": 1}), None if minutes is None else minutes * 60)

    rule = ledger.blocking(job(150))
    assert rule is not None and rule.kind == "run_mins"
    assert ledger.run_mins_wait_s(rule, job(150)) == 1500
    assert ledger.run_mins_wait_s(rule, job(400)) is None
    assert ledger.run_mins_wait_s(rule, job(None)) is None
    assert ledger.blocking(job(50)) is None   # (100 more fits now)
