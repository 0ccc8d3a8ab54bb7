"""plan_cycle under EASY and conservative backfill, and the configuration that selects them:
running jobs' expected ends, planned starts, how each job started, multifactor order,
and the [scheduler]/[priority]/[fairshare]/[[accounts]] sections."""

import random
import tomllib

import pytest

from jem.model.config import CONSERVATIVE_DEPTH, parse_config
from jem.model.errors import ConfigError
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.decisions import StartKind
from jem.scheduler.policy import CONSERVATIVE, EASY, FCFS, Policy
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot

NOW = 1_700_000_000.0
BATCH = Partition(name="batch", node_names=("n1", "n2"))


def node(name, cpus=4, used=0) -> NodeView:
    return NodeView(name, Resources(cpus, 4096, 0), Resources(used, 0, 0), True)


def job(job_id, cpus, limit_s, *, n_nodes=1, priority=100, submit=0.0, planned_start=None, account="",
        user="ann") -> PendingJob:
    return PendingJob(job_id=job_id, priority=priority, submit_time=submit + job_id, partition="batch",
                      n_nodes=n_nodes, per_node=Resources(cpus, 0, 0), held_by="", begin_time=None,
                      time_limit_s=limit_s, account=account, user=user, planned_start=planned_start)


def running(job_id, node_name, cpus, start, limit_s) -> RunningJob:
    return RunningJob(job_id=job_id, node_names=(node_name,), per_node=Resources(cpus, 0, 0), start_time=start,
                      time_limit_s=limit_s)


def busy_cluster(pending, **kw) -> Snapshot:
    """n1 has 3 of 4 CPUs taken until NOW + 100 (started at NOW - 50 with a 150 s limit); n2 is full until NOW + 500."""
    return Snapshot(nodes=(node("n1", used=3), node("n2", used=4)), partitions=(BATCH,), pending=tuple(pending),
                    running=(running(90, "n1", 3, NOW - 50, 150), running(91, "n2", 4, NOW - 100, 600)), **kw)


def test_easy_backfills_what_ends_before_the_reservation():
    snap = busy_cluster([job(1, 4, 50), job(2, 1, 100), job(3, 1, 200)])
    decisions = plan_cycle(snap, NOW, policy=EASY)
    assert decisions.starts == [decisions.starts[0]] and decisions.starts[0].job_id == 2
    assert decisions.starts[0].kind is StartKind.BACKFILL and decisions.n_backfilled == 1
    assert decisions.reasons == {1: JobReason.RESOURCES, 3: JobReason.PRIORITY}
    assert decisions.planned_starts == {1: NOW + 100}


def test_conservative_plans_every_job_and_fcfs_backfills_nothing():
    snap = busy_cluster([job(1, 4, 50), job(2, 1, 100), job(3, 1, 200)])
    decisions = plan_cycle(snap, NOW, policy=CONSERVATIVE)
    assert [s.job_id for s in decisions.starts] == [2]
    assert decisions.planned_starts == {1: NOW + 100, 3: NOW + 150}
    fcfs = plan_cycle(snap, NOW, policy=FCFS)
    assert fcfs.starts == [] and fcfs.planned_starts == {}
    assert fcfs.reasons == {1: JobReason.RESOURCES, 2: JobReason.PRIORITY, 3: JobReason.PRIORITY}


def test_unlimited_jobs_never_free_their_nodes_in_the_plan():
    snap = Snapshot(nodes=(node("n1", used=4),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 1, None),), running=(running(90, "n1", 4, NOW, None),))
    decisions = plan_cycle(snap, NOW, policy=CONSERVATIVE)
    assert decisions.reasons == {1: JobReason.RESOURCES} and decisions.planned_starts == {}


def test_a_job_that_held_a_reservation_starts_as_reserved():
    snap = Snapshot(nodes=(node("n1"), node("n2")), partitions=(BATCH,),
                    pending=(job(1, 4, 60, planned_start=NOW), job(2, 4, 60)))
    kinds = {s.job_id: s.kind for s in plan_cycle(snap, NOW, policy=EASY).starts}
    assert kinds == {1: StartKind.RESERVED, 2: StartKind.IMMEDIATE}


def test_decisions_do_not_depend_on_the_snapshot_order():
    pending = [job(i, 1 + i % 4, 30 + 17 * i, priority=i % 3, submit=float(i % 2)) for i in range(1, 25)]
    first = plan_cycle(busy_cluster(pending), NOW, policy=CONSERVATIVE)
    random.Random(7).shuffle(pending)
    second = plan_cycle(busy_cluster(pending), NOW, policy=CONSERVATIVE)
    assert first.starts == second.starts and first.reasons == second.reasons
    assert first.planned_starts == second.planned_starts


def test_multifactor_priority_orders_by_fair_share_and_is_reported():
    config = parse_config(tomllib.loads('[priority]\nweight_fairshare = 1000\n'
                                        '[[accounts]]\nname = "a"\nshares = 50\n[[accounts]]\nname = "b"\nshares = 50\n'))
    policy = Policy.from_config(config)
    snap = Snapshot(nodes=(node("n1"),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 4, 60, account="a", user="heavy"), job(2, 4, 60, account="b", user="light")),
                    usage={("a", "heavy"): 1000.0, ("b", "light"): 10.0})
    decisions = plan_cycle(snap, NOW, policy=policy)
    assert [s.job_id for s in decisions.starts] == [2]
    assert decisions.priorities == {2: 1000, 1: 500}


# ---------------------------------------------------------------- configuration

def test_scheduling_sections_parse_with_units_and_defaults():
    config = parse_config(tomllib.loads("""
[scheduler]
policy = "easy"
reservation_depth = 3
[priority]
weight_age = 1000
weight_fairshare = 10000
max_age = "7-0"
[fairshare]
algorithm = "classic"
half_life = "1-0"
[[accounts]]
name = "g1"
shares = 70
[[accounts]]
name = "g2"
parent = "g1"
"""))
    assert config.scheduler.effective_depth == 3 and Policy.from_config(config).name == "easy:3"
    assert config.priority.max_age_s == 7 * 86400 and config.priority.is_multifactor
    assert config.fairshare.algorithm == "classic" and config.fairshare.half_life_s == 86400
    assert [(a.name, a.shares, a.parent) for a in config.accounts] == [("g1", 70, "root"), ("g2", 1, "g1")]
    default = parse_config({})
    assert default.scheduler.policy == "easy" and default.scheduler.effective_depth == 1
    assert not default.priority.is_multifactor and default.fairshare.algorithm == "fair_tree"
    assert parse_config({"scheduler": {"policy": "conservative"}}).scheduler.effective_depth == CONSERVATIVE_DEPTH
    assert parse_config({"scheduler": {"policy": "fcfs"}}).scheduler.effective_depth == 0


@pytest.mark.parametrize("raw, key", [
    ({"scheduler": {"policy": "sjf"}}, "scheduler.policy"),
    ({"priority": {"weight_age": -1}}, "priority.weight_age"),
    ({"priority": {"max_age": "soon"}}, "priority.max_age"),
    ({"priority": {"max_age_s": 5}}, "priority.max_age_s"),
    ({"fairshare": {"algorithm": "lottery"}}, "fairshare.algorithm"),
    ({"fairshare": {"half_life": "0"}}, "fairshare.half_life"),
    ({"accounts": [{"name": "a"}, {"name": "a"}]}, "accounts"),
    ({"accounts": [{"name": "a", "parent": "nope"}]}, "accounts[a].parent"),
    ({"accounts": [{"name": "root", "shares": 5}]}, "accounts[root]"),
    ({"accounts": [{"name": "a", "shares": "many"}]}, "accounts[a].shares"),
    ({"accounts": [{"name": "a", "color": "red"}]}, "accounts[a].color"),
])
def test_bad_scheduling_config_names_the_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_config(raw)


# ---------------------------------------------------------------- invariants on random snapshots

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def snapshots(draw):
    """1-5 nodes of 1-8 CPUs, running jobs that fit them, 0-12 pending jobs, and a policy."""
    n_nodes = draw(st.integers(1, 5))
    caps = draw(st.lists(st.integers(1, 8), min_size=n_nodes, max_size=n_nodes))
    used = [0] * n_nodes
    runs = []
    for k in range(draw(st.integers(0, 6))):
        node_idx = draw(st.integers(0, n_nodes - 1))
        cpus = draw(st.integers(1, 8))
        if used[node_idx] + cpus <= caps[node_idx]:
            used[node_idx] += cpus
            runs.append(running(500 + k, f"n{node_idx}", cpus, NOW - draw(st.integers(0, 50)),
                                draw(st.one_of(st.none(), st.integers(60, 300)))))
    nodes = tuple(node(f"n{i}", cpus=caps[i], used=used[i]) for i in range(n_nodes))
    pending = [job(j, draw(st.integers(1, 8)), draw(st.one_of(st.none(), st.integers(10, 400))),
                   n_nodes=draw(st.integers(1, 2)), priority=draw(st.integers(1, 3))) for j in range(1, draw(st.integers(0, 12)) + 1)]
    partition = Partition("batch", tuple(n.name for n in nodes))
    policy = draw(st.sampled_from([FCFS, EASY, CONSERVATIVE, Policy(reservation_depth=2)]))
    return Snapshot(nodes=nodes, partitions=(partition,), pending=tuple(pending), running=tuple(runs)), policy


@settings(derandomize=True, max_examples=200, deadline=None)
@given(snapshots())
def test_cycle_invariants_on_random_snapshots(scenario):
    snap, policy = scenario
    decisions = plan_cycle(snap, NOW, policy=policy)
    started = {s.job_id for s in decisions.starts}
    assert not started & set(decisions.reasons)
    assert started | set(decisions.reasons) == {j.job_id for j in snap.pending}
    free = {n.name: n.capacity.cpus - n.allocated.cpus for n in snap.nodes}
    by_id = {j.job_id: j for j in snap.pending}
    for start in decisions.starts:
        assert len(set(start.node_names)) == by_id[start.job_id].n_nodes
        for name in start.node_names:
            free[name] -= by_id[start.job_id].per_node.cpus
        assert (start.kind is StartKind.BACKFILL) <= (policy.reservation_depth > 0)
    assert min(free.values()) >= 0, "a node is over-allocated"
    assert all(t > NOW for t in decisions.planned_starts.values())
    assert set(decisions.planned_starts) <= {j for j, r in decisions.reasons.items() if r is JobReason.RESOURCES}
    if policy.reservation_depth == 0:
        assert decisions.planned_starts == {}
