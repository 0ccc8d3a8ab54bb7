"""What-if planning (jem.scheduler.whatif): the start a pending job would get with a shorter time
limit, fewer nodes or in another partition, planned by the cycle's own pass over the jobs ahead
of it. Every expected start below is worked by hand from the snapshot. Also: the change as
scontrol update reads it, and the what-ifs on the wire."""

import dataclasses

import pytest

from jem.controller.explain import _change
from jem.convert import explanation_from_pb, explanation_to_pb
from jem.model.accounting import add_accounts, new_table
from jem.model.associations import Association, Limits
from jem.model.explanation import Explanation, WhatIf
from jem.model.partition import Partition
from jem.model.reservation import Reservation
from jem.model.resources import Resources
from jem.model.tres import Tres
from jem.model.units import parse_time_limit
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.limits import LimitedJob
from jem.scheduler.policy import CONSERVATIVE, EASY, FCFS
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot
from jem.scheduler.whatif import (MAX_BISECTION, MAX_MOVES, MAX_NODE_TRIES, Knob, PlannedStart, Suggestion, Variant,
                                  node_counts_to_try, plan_what_ifs)

NOW = 1_700_000_000
BATCH = Partition(name="batch", node_names=("n1", "n2", "n3"))


def node(name, cpus=1, used=0) -> NodeView:
    return NodeView(name, Resources(cpus, 4096, 0), Resources(used, 0, 0), True)


def job(job_id, cpus, limit_s, *, n_nodes=1, priority=100, partition="batch", account="", reservation="") -> PendingJob:
    return PendingJob(job_id=job_id, priority=priority, submit_time=float(NOW - 1000 + job_id), partition=partition,
                      n_nodes=n_nodes, per_node=Resources(cpus, 0, 0), held_by="", begin_time=None,
                      time_limit_s=limit_s, account=account, user="ann", reservation=reservation)


def running(job_id, node_name, cpus, ends_in_s, *, account="") -> RunningJob:
    return RunningJob(job_id=job_id, node_names=(node_name,), per_node=Resources(cpus, 0, 0), start_time=NOW - 10,
                      time_limit_s=ends_in_s + 10, account=account, user="bob")


def test_a_job_too_long_for_the_hole_is_told_the_longest_limit_that_starts_it_now():
    """n1 has 2 CPUs, 1 held until NOW + 600. Job 1 (ahead) wants both for an hour: it reserves
    [600, 4200). Job 2 wants 1 CPU for an hour: it would overlap that reservation, so it waits for
    job 1's end (4200); with 10 minutes it ends by 600 and starts now."""
    snap = Snapshot(nodes=(node("n1", cpus=2, used=1),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 2, 3600), job(2, 1, 3600)), running=(running(90, "n1", 1, 600),))
    easy = plan_what_ifs(snap, 2, NOW, policy=EASY)
    assert easy.start == PlannedStart(NOW + 4200, is_estimate=True)   # (behind the one reservation EASY holds)
    assert easy.suggestions == (Suggestion(Knob.TIME_LIMIT, 600, PlannedStart(NOW)),)
    conservative = plan_what_ifs(snap, 2, NOW, policy=CONSERVATIVE)
    assert conservative.start == PlannedStart(NOW + 4200)   # (a reservation)
    assert conservative.suggestions == easy.suggestions
    # The cycle agrees: with the suggested limit it starts job 2 at once (backfilled).
    changed = dataclasses.replace(snap, pending=(job(1, 2, 3600), job(2, 1, 600)))
    assert [s.job_id for s in plan_cycle(changed, NOW, policy=EASY).starts] == [2]
    assert plan_cycle(snap, NOW, policy=CONSERVATIVE).planned_starts[2] == NOW + 4200


def test_a_shorter_limit_that_cannot_start_it_now_is_told_the_sooner_start():
    """n1 has 2 CPUs, both held until 100. Job 1: 1 CPU for 300 s, reserved [100, 400). Job 2: both
    CPUs for 1000 s: [400, 1400). Job 3, 1 CPU for an hour, fits only after 1400; with 5 minutes
    it fits next to job 1 in [100, 400)."""
    snap = Snapshot(nodes=(node("n1", cpus=2, used=2),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 1, 300), job(2, 2, 1000), job(3, 1, 3600)),
                    running=(running(90, "n1", 2, 100),))
    what = plan_what_ifs(snap, 3, NOW, policy=CONSERVATIVE)
    assert what.start == PlannedStart(NOW + 1400)
    assert what.suggestions == (Suggestion(Knob.TIME_LIMIT, 300, PlannedStart(NOW + 100)),)


def test_the_longest_limit_is_found_among_many_holes():
    """Three free 1-CPU nodes, each with a maintenance window of 100 s: n1's at 600, n2's at 1200,
    n3's at 1800. A job of an hour fits first after n1's window (700); any limit up to 30
    minutes starts it now (on n3), and a longer one does not."""
    windows = tuple(Reservation(f"m{i}", NOW + 600 * i, NOW + 600 * i + 100, (f"n{i}",), users=("root",))
                    for i in (1, 2, 3))
    snap = Snapshot(nodes=(node("n1"), node("n2"), node("n3")), partitions=(BATCH,), pending=(job(1, 1, 3600),),
                    reservations=windows)
    what = plan_what_ifs(snap, 1, NOW, policy=EASY)
    assert what.start == PlannedStart(NOW + 700)
    assert what.suggestions == (Suggestion(Knob.TIME_LIMIT, 1800, PlannedStart(NOW)),)
    assert what.n_passes <= 1 + 1 + MAX_BISECTION


def test_fewer_nodes_are_told_when_they_start_it_sooner():
    """n1 is busy until 1000; n2 and n3 are free. A 3-node job waits for n1; with 2 nodes (or 1)
    it starts now: the most nodes that start it soonest are told. No shorter limit helps."""
    snap = Snapshot(nodes=(node("n1", used=1), node("n2"), node("n3")), partitions=(BATCH,),
                    pending=(job(1, 1, 100, n_nodes=3),), running=(running(90, "n1", 1, 1000),))
    fewer = [Variant(dataclasses.replace(snap.pending[0], n_nodes=n)) for n in node_counts_to_try(3)]
    what = plan_what_ifs(snap, 1, NOW, policy=EASY, fewer_nodes=fewer)
    assert what.start == PlannedStart(NOW + 1000)
    assert what.suggestions == (Suggestion(Knob.NUM_NODES, 2, PlannedStart(NOW)),)


def test_another_partition_is_told_only_where_it_starts_sooner():
    """batch (n1) is busy until 500, other (n2) is free, slow (n3) is busy for longer (900)."""
    parts = (Partition("batch", ("n1",)), Partition("other", ("n2",)), Partition("slow", ("n3",)))
    snap = Snapshot(nodes=(node("n1", used=1), node("n2"), node("n3", used=1)), partitions=parts,
                    pending=(job(1, 1, 100),), running=(running(90, "n1", 1, 500), running(91, "n3", 1, 900)))
    moves = [Variant(dataclasses.replace(snap.pending[0], partition=p)) for p in ("slow", "other")]
    what = plan_what_ifs(snap, 1, NOW, policy=EASY, moves=moves)
    assert what.start == PlannedStart(NOW + 500)
    assert what.suggestions == (Suggestion(Knob.PARTITION, "other", PlannedStart(NOW)),)
    only_slow = plan_what_ifs(snap, 1, NOW, policy=EASY, moves=moves[:1])
    assert only_slow.suggestions == ()


def test_a_job_that_starts_now_is_told_nothing():
    snap = Snapshot(nodes=(node("n1", cpus=2),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 1, 3600, n_nodes=1),))
    what = plan_what_ifs(snap, 1, NOW, policy=EASY,
                         moves=[Variant(dataclasses.replace(snap.pending[0], partition="batch"))])
    assert what.start == PlannedStart(NOW) and what.suggestions == ()


def test_only_the_jobs_ahead_in_queue_order_count():
    """Job 5 has the highest priority though submitted last: it comes ahead, in any partition that
    shares the node, and takes the free CPU until 3600; jobs behind job 2 change nothing."""
    parts = (Partition("batch", ("n1",)), Partition("other", ("n1",)))
    ahead = job(5, 1, 3600, priority=500, partition="other")
    behind = [job(i, 1, 60, priority=10) for i in (3, 4)]
    snap = Snapshot(nodes=(node("n1"),), partitions=parts, pending=(job(2, 1, 600), ahead, *behind))
    what = plan_what_ifs(snap, 2, NOW, policy=CONSERVATIVE)
    assert what.start == PlannedStart(NOW + 3600)
    alone = plan_what_ifs(dataclasses.replace(snap, pending=(job(2, 1, 600), ahead)), 2, NOW, policy=CONSERVATIVE)
    assert alone == what
    under_fcfs = plan_what_ifs(snap, 2, NOW, policy=FCFS)
    assert under_fcfs.start == PlannedStart(NOW + 3600, is_estimate=True)


def test_a_job_in_a_reservation_or_not_pending_gets_no_what_ifs():
    member = job(1, 1, 60, reservation="r")
    snap = Snapshot(nodes=(node("n1"),), partitions=(Partition("batch", ("n1",)),), pending=(member,))
    assert plan_what_ifs(snap, 1, NOW, policy=EASY) is None
    assert plan_what_ifs(snap, 7, NOW, policy=EASY) is None


def _limited(limit_s, account="phys") -> LimitedJob:
    return LimitedJob(account=account, user="ann", qos="normal", partition_qos="", tres=Tres({"cpu": 1, "node": 1}),
                      time_limit_s=limit_s)


def _table(limits: Limits):
    table, _ = add_accounts(new_table(), [Association("phys", parent="root", limits=limits)])
    return table


def test_a_group_limit_holds_the_job_in_every_variant():
    """GrpTRES=cpu=1 on phys, whose running job holds it until 600: the free n2 does not help, nor
    a shorter limit; the job's start is the limit's."""
    pending = job(1, 1, 3600, account="phys")
    snap = Snapshot(nodes=(node("n1", used=1), node("n2")), partitions=(Partition("batch", ("n1", "n2")),),
                    pending=(pending,), running=(running(90, "n1", 1, 600, account="phys"),),
                    accounting=_table(Limits(grp_tres=Tres({"cpu": 1}))),
                    limited={1: _limited(3600), 90: dataclasses.replace(_limited(610), user="bob")})
    what = plan_what_ifs(snap, 1, NOW, policy=EASY)
    assert what.start == PlannedStart(NOW + 600, is_estimate=True) and what.suggestions == ()


def test_a_job_over_maxwall_is_told_the_longest_limit_maxwall_allows():
    """MaxWall=00:30:00 on phys holds a job of an hour back (no start); 30 minutes starts it now."""
    snap = Snapshot(nodes=(node("n1"),), partitions=(Partition("batch", ("n1",)),),
                    pending=(job(1, 1, 3600, account="phys"),),
                    accounting=_table(Limits(max_wall_s=1800)), limited={1: _limited(3600)})
    what = plan_what_ifs(snap, 1, NOW, policy=EASY)
    assert what.start == PlannedStart(None)
    assert what.suggestions == (Suggestion(Knob.TIME_LIMIT, 1800, PlannedStart(NOW)),)


def test_the_cost_is_bounded():
    """A 64-node job on a cluster full for a day, with many jobs ahead: at most the passes the
    module's docstring states, whatever is offered."""
    nodes = tuple(node(f"n{i:02d}", used=1) for i in range(64))
    part = Partition("batch", tuple(n.name for n in nodes))
    ahead = tuple(job(i, 1, 60 * i, priority=1000) for i in range(1, 200))
    target = job(500, 1, 86400, n_nodes=64)
    snap = Snapshot(nodes=nodes, partitions=(part,), pending=(*ahead, target),
                    running=tuple(running(1000 + i, n.name, 1, 3600 + 60 * i) for i, n in enumerate(nodes)))
    fewer = [Variant(dataclasses.replace(target, n_nodes=n)) for n in node_counts_to_try(64)]
    moves = [Variant(target)] * 10
    what = plan_what_ifs(snap, 500, NOW, policy=EASY, fewer_nodes=fewer, moves=moves)
    assert what.n_passes <= 1 + (1 + MAX_BISECTION) + MAX_NODE_TRIES + MAX_MOVES


@pytest.mark.parametrize("n_nodes, counts", [(1, ()), (2, (1,)), (4, (3, 2, 1)), (16, (15, 14, 8, 4)), (3, (2, 1))])
def test_node_counts_to_try_are_bounded_and_fall(n_nodes, counts):
    assert node_counts_to_try(n_nodes) == counts


@pytest.mark.parametrize("limit_s, text", [(600, "TimeLimit=00:10:00"), (93_784, "TimeLimit=1-02:03:04")])
def test_a_time_limit_is_told_as_scontrol_update_reads_it(limit_s, text):
    told = _change(Suggestion(Knob.TIME_LIMIT, limit_s, PlannedStart(NOW)))
    assert told == text and parse_time_limit(told.partition("=")[2]) == limit_s
    assert _change(Suggestion(Knob.NUM_NODES, 2, PlannedStart(NOW))) == "NumNodes=2"


def test_the_wire_carries_each_what_if():
    sent = Explanation(job_id=1, user="ann", partition="batch", state="PENDING", reason="Resources",
                       what_ifs=(WhatIf("TimeLimit=00:10:00", float(NOW)), WhatIf("NumNodes=1", None),
                                 WhatIf("Partition=short", NOW + 60.0, True)))
    assert explanation_from_pb(explanation_to_pb(sent)) == sent
