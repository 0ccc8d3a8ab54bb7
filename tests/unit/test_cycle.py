"""jem.scheduler.cycle.plan_cycle: eligibility reasons, queue order, and first fit (policy fcfs) on a snapshot."""

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from jem.model.features import FeatureBits, parse_constraint
from jem.model.job import Job, JobShape, JobSpec
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.scheduler import cycle
from jem.model.states import JobState
from jem.scheduler.cycle import ineligibility
from jem.scheduler.decisions import Decisions, StartKind
from jem.scheduler.policy import FCFS
from jem.scheduler.snapshot import NodeView, PendingJob, PendingViews, Snapshot, pending_views, take_snapshot

NOW = 1_700_000_000.0


def plan_cycle(snap: Snapshot, now: float, policy=FCFS) -> Decisions:
    """The tests of this module check plain priority order (no backfill) unless they say otherwise."""
    return cycle.plan_cycle(snap, now, policy=policy)


def node(name, cpus=8, mem_mib=8192, gpus=0, *, used=(0, 0, 0), is_schedulable=True) -> NodeView:
    return NodeView(name, Resources(cpus, mem_mib, gpus), Resources(*used), is_schedulable)


def job(job_id, *, priority=100, submit_time=0.0, partition="batch", n_nodes=1, cpus=1, mem_mib=100, gpus=0,
        held_by="", begin_time=None) -> PendingJob:
    return PendingJob(job_id=job_id, priority=priority, submit_time=submit_time, partition=partition,
                      n_nodes=n_nodes, per_node=Resources(cpus, mem_mib, gpus), held_by=held_by,
                      begin_time=begin_time)


def partition(name="batch", nodes=("n1", "n2"), *, is_up=True, has_all_nodes=False) -> Partition:
    return Partition(name=name, node_names=tuple(nodes), is_up=is_up, has_all_nodes=has_all_nodes)


def snapshot(nodes, partitions, pending) -> Snapshot:
    return Snapshot(nodes=tuple(nodes), partitions=tuple(partitions), pending=tuple(pending))


def started(decisions: Decisions) -> dict[int, tuple[str, ...]]:
    return {s.job_id: s.node_names for s in decisions.starts}


def start_order(decisions: Decisions) -> list[int]:
    return [s.job_id for s in decisions.starts]


def assert_every_job_decided_once(snap: Snapshot, decisions: Decisions):
    started_ids = [s.job_id for s in decisions.starts]
    assert len(started_ids) == len(set(started_ids))
    assert not set(started_ids) & set(decisions.reasons)
    assert set(started_ids) | set(decisions.reasons) == {j.job_id for j in snap.pending}


TWO_NODES = (node("n1"), node("n2"))
BATCH = partition()


# ---------------------------------------------------------------- eligibility

def test_empty_snapshot_decides_nothing():
    decisions = plan_cycle(snapshot(TWO_NODES, [BATCH], []), NOW)
    assert decisions.starts == [] and decisions.reasons == {}


def test_free_job_starts_immediately():
    snap = snapshot(TWO_NODES, [BATCH], [job(1)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {1: ("n1",)}
    assert decisions.starts[0].kind is StartKind.IMMEDIATE
    assert decisions.reasons == {}


@pytest.mark.parametrize("held_by, reason", [("user", JobReason.JOB_HELD_USER),
                                             ("admin", JobReason.JOB_HELD_ADMIN)])
def test_held_job_does_not_start_and_says_who_held_it(held_by, reason):
    snap = snapshot(TWO_NODES, [BATCH], [job(1, held_by=held_by), job(2)])
    decisions = plan_cycle(snap, NOW)
    assert decisions.reasons == {1: reason}
    assert started(decisions) == {2: ("n1",)}


def test_held_job_does_not_block_lower_priority_jobs():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, priority=999, held_by="user", cpus=8), job(2, priority=1, cpus=8),
                                         job(3, priority=1, cpus=8)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {2: ("n1",), 3: ("n2",)}


def test_admin_hold_wins_over_begin_time_and_down_partition():
    down = partition(is_up=False)
    snap = snapshot(TWO_NODES, [down], [job(1, held_by="admin", begin_time=NOW + 60)])
    assert plan_cycle(snap, NOW).reasons == {1: JobReason.JOB_HELD_ADMIN}


def test_begin_time_in_the_future_waits():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, begin_time=NOW + 1), job(2, begin_time=NOW), job(3, begin_time=NOW - 5)])
    decisions = plan_cycle(snap, NOW)
    assert decisions.reasons == {1: JobReason.BEGIN_TIME}
    assert set(started(decisions)) == {2, 3}


def test_begin_time_is_judged_by_the_now_argument():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, begin_time=NOW + 100)])
    assert plan_cycle(snap, NOW).reasons == {1: JobReason.BEGIN_TIME}
    assert started(plan_cycle(snap, NOW + 100)) == {1: ("n1",)}


def test_down_partition_holds_its_jobs_only():
    snap = snapshot(TWO_NODES, [partition("down", is_up=False), partition("batch")],
                    [job(1, partition="down"), job(2, partition="batch")])
    decisions = plan_cycle(snap, NOW)
    assert decisions.reasons == {1: JobReason.PARTITION_DOWN}
    assert started(decisions) == {2: ("n1",)}


def test_unknown_partition_is_reported_as_down():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, partition="gone")])
    assert plan_cycle(snap, NOW).reasons == {1: JobReason.PARTITION_DOWN}


def test_ineligibility_of_an_eligible_job_is_none():
    assert ineligibility(job(1), {"batch": BATCH}, NOW) is None


# ---------------------------------------------------------------- queue order

def test_higher_priority_starts_first_whatever_the_snapshot_order():
    snap = snapshot([node("n1")], [partition(nodes=["n1"])],
                    [job(1, priority=10, cpus=8), job(2, priority=30, cpus=8), job(3, priority=20, cpus=8)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {2: ("n1",)}
    assert decisions.reasons == {3: JobReason.RESOURCES, 1: JobReason.PRIORITY}


def test_equal_priority_breaks_ties_by_submit_time():
    snap = snapshot([node("n1")], [partition(nodes=["n1"])],
                    [job(1, submit_time=50.0, cpus=8), job(2, submit_time=10.0, cpus=8), job(3, submit_time=30.0, cpus=8)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {2: ("n1",)}
    assert decisions.reasons == {3: JobReason.RESOURCES, 1: JobReason.PRIORITY}


def test_equal_priority_and_submit_time_break_ties_by_job_id():
    snap = snapshot([node("n1")], [partition(nodes=["n1"])],
                    [job(9, cpus=8), job(4, cpus=8), job(7, cpus=8)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {4: ("n1",)}
    assert decisions.reasons == {7: JobReason.RESOURCES, 9: JobReason.PRIORITY}


def test_starts_are_listed_in_queue_order():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, priority=1), job(2, priority=3), job(3, priority=2)])
    decisions = plan_cycle(snap, NOW)
    assert start_order(decisions) == [2, 3, 1]


def test_priority_order_decides_placement_too():
    # the higher-priority job takes n1, the lowest index
    snap = snapshot(TWO_NODES, [BATCH], [job(1, priority=1, cpus=8), job(2, priority=2, cpus=8)])
    assert started(plan_cycle(snap, NOW)) == {2: ("n1",), 1: ("n2",)}


# ---------------------------------------------------------------- first fit

def test_first_blocked_job_waits_on_resources_and_later_ones_on_priority():
    snap = snapshot(TWO_NODES, [BATCH], [
        job(1, priority=50, cpus=8),
        job(2, priority=40, cpus=16),    # larger than any node right now
        job(3, priority=30, cpus=1),     # would fit on n2, but no backfill
        job(4, priority=20, cpus=1),
    ])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {1: ("n1",)}
    assert decisions.reasons == {2: JobReason.RESOURCES, 3: JobReason.PRIORITY, 4: JobReason.PRIORITY}
    assert_every_job_decided_once(snap, decisions)


def test_blocked_partition_does_not_block_another_partition():
    snap = snapshot(TWO_NODES, [partition("a", ["n1"]), partition("b", ["n2"])], [
        job(1, priority=9, partition="a", cpus=99),
        job(2, priority=8, partition="a"),
        job(3, priority=7, partition="b"),
    ])
    decisions = plan_cycle(snap, NOW)
    assert decisions.reasons == {1: JobReason.RESOURCES, 2: JobReason.PRIORITY}
    assert started(decisions) == {3: ("n2",)}


def test_allocated_resources_are_not_free():
    snap = snapshot([node("n1", used=(6, 0, 0)), node("n2")], [BATCH], [job(1, cpus=4), job(2, cpus=2)])
    assert started(plan_cycle(snap, NOW)) == {1: ("n2",), 2: ("n1",)}


def test_memory_and_gpus_count_as_well_as_cpus():
    snap = snapshot([node("n1", gpus=0), node("n2", mem_mib=1000, gpus=2), node("n3", mem_mib=9000, gpus=2)],
                    [partition(nodes=["n1", "n2", "n3"])], [job(1, gpus=1, mem_mib=5000)])
    assert started(plan_cycle(snap, NOW)) == {1: ("n3",)}


def test_unschedulable_node_is_skipped_and_a_job_that_needs_it_waits_for_it():
    snap = snapshot([node("n1", is_schedulable=False), node("n2")], [BATCH], [job(1), job(2, n_nodes=2)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {1: ("n2",)}
    # Job 2 could never start on n2 alone: Slurm's ReqNodeNotAvail (squeue shows its description), not Resources.
    assert decisions.reasons == {2: JobReason.REQ_NODE_NOT_AVAIL}
    assert decisions.reason_details == {2: "Nodes required for job are DOWN, DRAINED or reserved for jobs in "
                                           "higher priority partitions"}


def test_a_job_that_fits_the_nodes_in_service_waits_for_resources_not_for_a_drained_node():
    snap = snapshot([node("n1", is_schedulable=False), node("n2"), node("n3")], [partition(nodes=("n1", "n2", "n3"))],
                    [job(1, n_nodes=2, cpus=8), job(2, n_nodes=2, cpus=8)])
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {1: ("n2", "n3")}
    assert decisions.reasons == {2: JobReason.RESOURCES} and decisions.reason_details == {}


def test_jobs_use_only_their_partitions_nodes():
    nodes = (node("n1"), node("n2"), node("n3"))
    snap = snapshot(nodes, [partition("debug", ["n3"]), partition("batch", ["n1", "n2", "n3"])],
                    [job(1, partition="debug"), job(2, partition="batch", n_nodes=3, cpus=7)])
    assert started(plan_cycle(snap, NOW)) == {1: ("n3",), 2: ("n1", "n2", "n3")}


def test_all_nodes_partition_includes_nodes_not_listed_by_name():
    nodes = (node("n1"), node("late"))
    snap = snapshot(nodes, [partition("batch", ["n1"], has_all_nodes=True)], [job(1, n_nodes=2)])
    assert started(plan_cycle(snap, NOW)) == {1: ("n1", "late")}


def test_multi_node_job_gets_distinct_named_nodes():
    snap = snapshot(TWO_NODES, [BATCH], [job(1, n_nodes=2, cpus=8)])
    assert started(plan_cycle(snap, NOW)) == {1: ("n1", "n2")}


def test_cycle_never_overcommits_a_node():
    nodes = tuple(node(f"n{i}", cpus=4, mem_mib=4000) for i in range(1, 5))
    pending = [job(i, submit_time=float(i), n_nodes=1 + i % 3, cpus=1 + i % 4, mem_mib=500 * (i % 5))
               for i in range(1, 40)]
    snap = snapshot(nodes, [partition(nodes=[n.name for n in nodes])], pending)
    decisions = plan_cycle(snap, NOW)
    by_id = {j.job_id: j for j in pending}
    used = {n.name: Resources() for n in nodes}
    for start in decisions.starts:
        assert len(set(start.node_names)) == by_id[start.job_id].n_nodes
        for name in start.node_names:
            used[name] = used[name] + by_id[start.job_id].per_node
    for n in nodes:
        assert used[n.name].fits_in(n.capacity), n.name
    assert decisions.starts, "the cycle should start something on an empty cluster"
    assert_every_job_decided_once(snap, decisions)


def test_plan_cycle_is_deterministic():
    nodes = tuple(node(f"n{i}", cpus=4) for i in range(1, 4))
    pending = [job(i, priority=i % 3, submit_time=float(i % 2), cpus=1 + i % 4) for i in range(1, 20)]
    snap = snapshot(nodes, [partition(nodes=[n.name for n in nodes])], pending)
    first, second = plan_cycle(snap, NOW), plan_cycle(snap, NOW)
    assert first.starts == second.starts and first.reasons == second.reasons


def test_every_pending_job_gets_a_start_or_a_reason():
    snap = snapshot(TWO_NODES, [BATCH, partition("off", is_up=False)], [
        job(1, held_by="user"), job(2, begin_time=NOW + 9), job(3, partition="off"),
        job(4, cpus=8), job(5, cpus=8), job(6, cpus=8), job(7, cpus=8),
    ])
    decisions = plan_cycle(snap, NOW)
    assert_every_job_decided_once(snap, decisions)
    assert decisions.reasons == {1: JobReason.JOB_HELD_USER, 2: JobReason.BEGIN_TIME, 3: JobReason.PARTITION_DOWN,
                                 6: JobReason.RESOURCES, 7: JobReason.PRIORITY}


# ---------------------------------------------------------------- from the controller's objects

def test_take_snapshot_orders_nodes_by_name_and_plans_from_live_objects():
    spec = JobSpec(script="#!/bin/sh\n", partition="batch")
    shape = JobShape(n_nodes=1, n_tasks=1, per_node=Resources(2, 100, 0))
    jobs = [Job(job_id=i, spec=spec, user="ann", uid=1000, gid=1000, submit_time=float(i), shape=shape,
                time_limit_s=None, priority=10) for i in (1, 2)]
    nodes = [Node("n2", Resources(2, 1000, 0), is_responding=True),
             Node("n1", Resources(2, 1000, 0), is_responding=True, is_drained=True),
             Node("n0", Resources(2, 1000, 0), is_responding=False)]
    snap = take_snapshot(jobs, nodes, (partition("batch", ["n0", "n1", "n2"]),))
    assert [n.name for n in snap.nodes] == ["n0", "n1", "n2"]
    assert [n.is_schedulable for n in snap.nodes] == [False, False, True]
    decisions = plan_cycle(snap, NOW)
    assert started(decisions) == {1: ("n2",)}
    assert decisions.reasons == {2: JobReason.RESOURCES}


def test_a_job_being_killed_is_planned_to_end_by_its_kill_not_its_time_limit():
    """A job of an hour (or of no limit) killed 10 s after it started, SIGKILL due 30 s later: the
    planner sees it end at start + 40 s (what it frees goes to the job waiting for it then)."""
    spec = JobSpec(script="#!/bin/sh\n", partition="batch")
    shape = JobShape(n_nodes=1, n_tasks=1, per_node=Resources(2, 100, 0))
    nodes = [Node("n1", Resources(2, 1000, 0), is_responding=True)]
    for limit in (3600, None):
        job = Job(job_id=1, spec=spec, user="ann", uid=1000, gid=1000, submit_time=0.0, shape=shape,
                  time_limit_s=limit, state=JobState.RUNNING, start_time=NOW, nodes=("n1",))
        snap = take_snapshot([], nodes, (partition("batch", ["n1"]),), running_jobs=[job], ends_by={1: NOW + 40})
        assert snap.running[0].time_limit_s == 40
        assert take_snapshot([], nodes, (partition("batch", ["n1"]),), running_jobs=[job]).running[0].time_limit_s \
            == limit


def test_pending_views_are_kept_across_cycles_and_made_again_when_their_job_changed():
    shape = JobShape(n_nodes=1, n_tasks=1, per_node=Resources(2, 100, 0))
    jobs = [Job(job_id=i, spec=JobSpec(script="#!/bin/sh\n", partition="batch"), user="ann", uid=1000, gid=1000,
                submit_time=float(i), shape=shape, time_limit_s=None, priority=10) for i in (1, 2, 3)]
    views = PendingViews()
    first = views.of(jobs)
    assert first == pending_views(jobs)
    jobs[0].priority = 11                                                    # a field changed
    jobs[1].spec = dataclasses.replace(jobs[1].spec, partition="other")      # its spec replaced (scontrol update)
    second = views.of(jobs)
    assert second == pending_views(jobs)
    assert second[0].priority == 11 and second[1].partition == "other"
    assert second[2] is first[2]                                             # unchanged: the same view
    assert views.of(jobs[2:]) == (first[2],)                                 # and the others forgotten
    assert views.of(jobs[:1])[0] is not second[0]


def _queue_arrays_job_by_job(queue, part_row, gres_names, bits):
    """The reference: each job's row read one job at a time."""
    masks = [(bits.mask(parse_constraint(j.constraint).all_of), bits.mask(parse_constraint(j.constraint).any_of))
             for j in queue]
    return {
        "requests": [list(j.per_node.as_row()) + list(cycle._gres_row(j.gres_per_node, gres_names)) for j in queue],
        "n_nodes": [j.n_nodes for j in queue],
        "part_idx": [part_row[j.partition] for j in queue],
        "duration_s": [j.time_limit_s or cycle.plan.UNLIMITED_S for j in queue],
        "feat_all": [m[0] for m in masks],
        "feat_any": [m[1] for m in masks],
        "exclusive": [int(j.is_exclusive) for j in queue],
    }


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 64), st.integers(0, 4096), st.integers(0, 2), st.integers(1, 3),
                          st.sampled_from(["batch", "gpu"]), st.sampled_from([None, 0, 60, 3600]),
                          st.sampled_from(["", "a", "a&b", "a|c", "b"]), st.booleans(),
                          st.sampled_from([(), (("nvme", 1),), (("fpga", 2), ("nvme", 1))])), max_size=40))
def test_the_queue_arrays_are_each_jobs_row_in_order(rows):
    queue = [PendingJob(job_id=i + 1, priority=0, submit_time=0.0, partition=part, n_nodes=n_nodes,
                        per_node=Resources(cpus, mem, gpus), held_by="", begin_time=None, time_limit_s=limit,
                        constraint=constraint, is_exclusive=exclusive, gres_per_node=gres)
             for i, (cpus, mem, gpus, n_nodes, part, limit, constraint, exclusive, gres) in enumerate(rows)]
    part_row, gres_names, bits = {"batch": 0, "gpu": 1}, ["fpga", "nvme"], FeatureBits(["a", "b", "c"])
    arrays = cycle._queue_arrays(queue, part_row, gres_names, bits)
    expected = _queue_arrays_job_by_job(queue, part_row, gres_names, bits)
    for name, values in expected.items():
        got = getattr(arrays, name)
        assert got.tolist() == values, name
        assert len(got) == len(queue)
