"""Usage reports (sreport): the totals of jem.model.utilization, the store's read of jobs and their
events (on a real SQLite store, and without the store's lock), and the controller's report with
PrivateData=usage."""

import random
import threading

import pytest

from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.nodes import NodeTable
from jem.controller.state import ClusterState
from jem.controller.steptable import StepTable
from jem.controller.usage_report import usage_report
from jem.controller.watch import EventBus
from jem.model.config import parse_config
from jem.model.errors import InvalidArgument
from jem.model.identity import AdminLevel, Identity
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.model.utilization import (HOUR_S, AssociationUsage, HourTotals, JobActivity, ReportKind, account_tree_rows,
                                   cluster_usage, running_spans, used_by_association, user_rows, waiting_spans)
from jem.scheduler.fairshare import Usage
from jem.store import JobChange, SqliteStore

T0 = 1_800_000_000 - 1_800_000_000 % HOUR_S   # an hour's start


def activity(*events, n_cpus=1, user="ann", account="a", **kw) -> JobActivity:
    return JobActivity(job_id=1, user=user, account=account, n_cpus=n_cpus,
                       events=tuple((T0 + t, e.value) for t, e in events), **kw)


S, R, C = JobEvent.SUBMIT, JobEvent.START, JobEvent.COMPLETE


# ---------------------------------------------------------------- spans

def test_a_job_runs_from_start_to_end_less_its_suspensions_and_counts_each_run_of_a_requeue():
    job = activity((0, S), (10, R), (20, JobEvent.SUSPEND), (25, JobEvent.RESUME), (30, JobEvent.REQUEUE),
                   (40, R), (50, JobEvent.KILL), (55, JobEvent.CANCEL))
    assert running_spans(job, now=T0 + 100) == [(T0 + 10, T0 + 20), (T0 + 25, T0 + 30), (T0 + 40, T0 + 55)]
    assert waiting_spans(job, now=T0 + 100) == [(T0, T0 + 10), (T0 + 30, T0 + 40)]


def test_a_running_job_counts_up_to_now_and_event_times_count_in_whole_seconds():
    job = JobActivity(1, "ann", "a", 2, ((T0 + 0.9, S.value), (T0 + 5.7, R.value)))
    assert running_spans(job, now=T0 + 9.5) == [(T0 + 5, T0 + 9)]
    assert waiting_spans(job, now=T0 + 9.5) == [(T0, T0 + 5)]


def test_a_job_is_eligible_only_after_its_begin_time_its_release_and_never_while_a_dependency_waits():
    assert waiting_spans(activity((0, S), (100, R), begin_time=T0 + 60), now=T0 + 200) == [(T0 + 60, T0 + 100)]
    held = activity((0, S), (50, JobEvent.RELEASE), (70, R), is_held_at_submit=True)
    assert waiting_spans(held, now=T0 + 200) == [(T0 + 50, T0 + 70)]
    hold_later = activity((0, S), (10, JobEvent.HOLD), (40, JobEvent.RELEASE), (45, R))
    assert waiting_spans(hold_later, now=T0 + 200) == [(T0, T0 + 10), (T0 + 40, T0 + 45)]
    assert waiting_spans(activity((0, S), is_waiting_on_dependency=True), now=T0 + 200) == []


# ---------------------------------------------------------------- the cluster's totals

def test_the_module_docstring_example():
    # 8 CPUs; a 4-CPU job runs 10:30-11:15, a 2-CPU job waits 10:00-10:30 (then is cancelled).
    jobs = [activity((1800, R), (4500, C), n_cpus=4), activity((0, S), (1800, JobEvent.CANCEL), n_cpus=2)]
    usage = cluster_usage(jobs, n_cpus=8, start=T0, end=T0 + HOUR_S, now=T0 + 5 * HOUR_S)
    assert (usage.allocated_cpu_s, usage.planned_cpu_s, usage.idle_cpu_s) == (7200, 3600, 18000)
    assert usage.reported_cpu_s == 8 * HOUR_S
    assert (usage.down_cpu_s, usage.planned_down_cpu_s, usage.over_committed_cpu_s) == (0, 0, 0)


def test_jobs_across_the_periods_edges_count_only_their_part_within_it():
    before = activity((-500, R), (100, C), n_cpus=3)            # 100 s inside
    after = activity((HOUR_S - 60, R), (HOUR_S + 900, C), n_cpus=2)   # 60 s inside
    outside = activity((-900, R), (-10, C), n_cpus=8)
    usage = cluster_usage([before, after, outside], n_cpus=16, start=T0, end=T0 + HOUR_S, now=T0 + 9 * HOUR_S)
    assert usage.allocated_cpu_s == 3 * 100 + 2 * 60
    assert usage.reported_cpu_s == 16 * HOUR_S
    used = used_by_association([before, after, outside], start=T0, end=T0 + HOUR_S, now=T0 + 9 * HOUR_S)
    assert used == {("a", "ann"): 420}


def test_nothing_after_now_is_counted():
    job = activity((0, R), n_cpus=2)   # still running
    usage = cluster_usage([job], n_cpus=4, start=T0, end=T0 + 2 * HOUR_S, now=T0 + 1000)
    assert (usage.allocated_cpu_s, usage.idle_cpu_s, usage.reported_cpu_s) == (2000, 2000, 4000)


def test_waiting_beyond_what_an_hour_had_free_is_over_committed_in_that_hour_alone():
    # 2 CPUs. Hour 0: one job holds both all hour while another (2 CPUs) waits: nothing free.
    # Hour 1: the waiting job runs; a third waits half an hour for 1 CPU, 1 CPU is free.
    jobs = [activity((0, R), (HOUR_S, C), n_cpus=2),
            activity((0, S), (HOUR_S, R), (2 * HOUR_S, C), n_cpus=2),
            activity((HOUR_S, S), (HOUR_S + 1800, C), n_cpus=1)]
    usage = cluster_usage(jobs, n_cpus=2, start=T0, end=T0 + 2 * HOUR_S, now=T0 + 3 * HOUR_S)
    assert usage.allocated_cpu_s == 4 * HOUR_S
    assert usage.over_committed_cpu_s == 2 * HOUR_S + 1800    # all of hour 0's wait, and hour 1's
    assert (usage.planned_cpu_s, usage.idle_cpu_s) == (0, 0)
    assert usage.reported_cpu_s == 4 * HOUR_S


def test_an_arrays_record_waits_once_per_task_it_stands_for():
    jobs = [activity((0, S), n_cpus=1, n_waiting_tasks=5)]
    usage = cluster_usage(jobs, n_cpus=10, start=T0, end=T0 + HOUR_S, now=T0 + 100)
    assert usage.planned_cpu_s == 500


def test_hour_totals_agree_with_second_by_second_sums():
    rng = random.Random(7)
    start, end = T0 + 123, T0 + 123 + 5 * HOUR_S + 77
    totals = HourTotals(start, end)
    expected = [0] * totals.n_hours
    for _ in range(60):
        a = start + rng.randrange(-2 * HOUR_S, 6 * HOUR_S)
        b = a + rng.randrange(0, 3 * HOUR_S)
        n = rng.randrange(1, 5)
        totals.add((a, b), n)
        for second in range(max(a, start), min(b, end)):
            expected[(second - start) // HOUR_S] += n
    assert totals.totals() == expected


# ---------------------------------------------------------------- rows

USED = {("lab", "bob"): 30, ("lab", "cat"): 10, ("phys", "ann"): 5, ("jem", "ann"): 7, ("gone", "dan"): 1}
PARENTS = {"root": "", "phys": "root", "lab": "phys", "jem": "root"}


def test_the_account_tree_sums_subtrees_and_lists_users_before_sub_accounts_each_by_name():
    rows = account_tree_rows(USED, parents=PARENTS)
    assert [(r.account, r.user, r.cpu_s) for r in rows] == [
        ("root", "", 53), ("gone", "", 1), ("gone", "dan", 1), ("jem", "", 7), ("jem", "ann", 7),
        ("phys", "", 45), ("phys", "ann", 5), ("lab", "", 40), ("lab", "bob", 30), ("lab", "cat", 10)]
    assert {r.account: r.parent_account for r in rows if not r.user}["lab"] == "phys"


def test_an_accounts_filter_keeps_those_subtrees_with_each_account_at_the_top():
    rows = account_tree_rows(USED, parents=PARENTS, accounts=frozenset({"phys"}))
    assert [(r.account, r.user, r.cpu_s) for r in rows] == [
        ("phys", "", 45), ("phys", "ann", 5), ("lab", "", 40), ("lab", "bob", 30), ("lab", "cat", 10)]


def test_user_rows_come_in_tree_order_and_an_accounts_filter_is_exact():
    assert [(r.user, r.account) for r in user_rows(USED, parents=PARENTS)] == [
        ("dan", "gone"), ("ann", "jem"), ("ann", "phys"), ("bob", "lab"), ("cat", "lab")]
    assert user_rows(USED, parents=PARENTS, accounts=frozenset({"phys"})) == [AssociationUsage("phys", "ann", 5)]


def test_a_job_without_an_account_counts_under_root():
    job = activity((0, R), (10, C), account="")
    assert used_by_association([job], start=T0, end=T0 + HOUR_S, now=T0 + HOUR_S) == {("root", "ann"): 10}


# ---------------------------------------------------------------- the store

def _job(user: str, account: str, n_cpus: int, submit: float) -> Job:
    return Job(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p", account=account), user=user, uid=1,
               gid=1, submit_time=submit, shape=JobShape(1, 1, Resources(n_cpus, 100, 0)), time_limit_s=None)


def _run(store: SqliteStore, job: Job, *, start: float, end: float | None) -> None:
    job.state, job.start_time = JobState.RUNNING, start
    store.commit([JobChange(job, JobEvent.START, start)])
    if end is not None:
        job.state, job.end_time = JobState.COMPLETED, end
        store.commit([JobChange(job, JobEvent.COMPLETE, end)])


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    yield store
    store.close()


def _add(store, user, account, n_cpus, *, submit, start=None, end=None) -> int:
    job = _job(user, account, n_cpus, submit)
    job.job_id, _ = store.add_job(job, time=submit)
    if start is not None:
        _run(store, job, start=start, end=end)
    return job.job_id


def test_the_store_reads_the_jobs_alive_in_the_period_with_their_events(store):
    old = _add(store, "ann", "a", 1, submit=T0 - 900, start=T0 - 800, end=T0 - 700)
    across = _add(store, "ann", "a", 2, submit=T0 - 900, start=T0 - 100, end=T0 + 100)
    running = _add(store, "bob", "b", 4, submit=T0 + 10, start=T0 + 20)
    waiting = _add(store, "bob", "b", 8, submit=T0 + 30)
    late = _add(store, "bob", "b", 1, submit=T0 + 2 * HOUR_S)
    found = {a.job_id: a for a in store.job_activity(start=T0, end=T0 + HOUR_S)}
    assert set(found) == {across, running, waiting}
    assert found[across].events == ((T0 - 900, "submit"), (T0 - 100, "start"), (T0 + 100, "complete"))
    assert (found[running].n_cpus, found[running].account, found[running].user) == (4, "b", "bob")
    assert {a.job_id for a in store.job_activity(start=T0, end=T0 + HOUR_S, users=frozenset({"ann"}))} == {across}
    assert old and late


def test_the_stores_read_takes_no_lock_the_controllers_writes_use(store):
    _add(store, "ann", "a", 1, submit=T0, start=T0 + 1, end=T0 + 2)
    done = []
    with store._lock:   # a write in progress holds the store's lock: the report is not held up
        reader = threading.Thread(target=lambda: done.append(list(store.job_activity(start=T0, end=T0 + 10))))
        reader.start()
        reader.join(timeout=10)
    assert done and len(done[0]) == 1


# ---------------------------------------------------------------- the controller's report

def make_state(tmp_path, *, private: bool) -> ClusterState:
    config = parse_config({
        "cluster": {"private_data": ["usage"] if private else []},
        "nodes": [{"names": "n[1-2]", "cpus": 4, "mem_mib": 1000}],
        "partitions": [{"name": "p", "nodes": "ALL"}],
        "accounts": [{"name": "phys", "users": ["ann"]}, {"name": "lab", "parent": "phys", "users": ["bob"]}]})
    store = SqliteStore(str(tmp_path / "jem.db"))
    bus = EventBus()
    return ClusterState(
        config=config, store=store, jobs=JobTable(store, bus), nodes=NodeTable(config, store), bus=bus,
        agents=AgentLinks(ControllerKeys(str(tmp_path / "security"), with_authd_key=False)),
        steps=StepTable(store.next_step_id), usage=Usage(half_life_s=3600),
        submit_rate=SubmitRate(burst=100, per_s=100), streams=StreamSlots(per_user=10, total=10))


ANN = Identity("ann", 1001, 1001)
OPERATOR = Identity("ops", 1003, 1003, admin_level=AdminLevel.OPERATOR)


def _report(state, identity, kind, **kw):
    return usage_report(state, identity, kind=kind, start=T0, end=T0 + HOUR_S, now=T0 + 2 * HOUR_S, **kw)


def test_the_controllers_report_totals_the_store_for_every_kind(tmp_path):
    state = make_state(tmp_path, private=False)
    _add(state.store, "ann", "phys", 2, submit=T0, start=T0 + 100, end=T0 + 400)     # 600 CPU-s
    _add(state.store, "bob", "lab", 1, submit=T0, start=T0 + 100, end=T0 + 1100)     # 1000 CPU-s
    cluster = _report(state, ANN, ReportKind.CLUSTER).cluster
    assert (cluster.n_cpus, cluster.allocated_cpu_s, cluster.reported_cpu_s) == (8, 1600, 8 * HOUR_S)
    assert cluster.planned_cpu_s == 2 * 100 + 1 * 100
    tree = _report(state, ANN, ReportKind.ACCOUNT_TREE).rows
    assert [(r.account, r.user, r.cpu_s) for r in tree] == [
        ("root", "", 1600), ("phys", "", 1600), ("phys", "ann", 600), ("lab", "", 1000), ("lab", "bob", 1000)]
    users = _report(state, ANN, ReportKind.USERS, accounts=frozenset({"lab"}))
    assert [(r.user, r.cpu_s) for r in users.rows] == [("bob", 1000)]
    assert users.cluster.reported_cpu_s == 8 * HOUR_S
    with pytest.raises(InvalidArgument):
        usage_report(state, ANN, kind=ReportKind.CLUSTER, start=T0, end=T0, now=T0)


def test_with_private_usage_a_user_gets_only_their_own_rows_and_an_operator_all(tmp_path):
    state = make_state(tmp_path, private=True)
    _add(state.store, "ann", "phys", 2, submit=T0, start=T0 + 100, end=T0 + 400)
    _add(state.store, "bob", "lab", 1, submit=T0, start=T0 + 100, end=T0 + 1100)
    for kind in (ReportKind.ACCOUNT_TREE, ReportKind.USERS):
        assert [(r.account, r.user) for r in _report(state, ANN, kind).rows] == [("phys", "ann")]
        assert _report(state, ANN, kind, users=frozenset({"bob"})).rows == ()
    assert len(_report(state, OPERATOR, ReportKind.ACCOUNT_TREE).rows) == 5
    assert _report(state, ANN, ReportKind.CLUSTER).cluster.allocated_cpu_s == 1600   # totals stay everyone's
