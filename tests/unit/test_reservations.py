"""Advance reservations in the scheduling cycle: jobs outside one start before it only if they end
before it, its own jobs run on its nodes within its window, and the reasons Slurm gives."""

import dataclasses

import pytest

from jem.model.errors import InvalidReservation
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.resources import Resources
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.policy import Policy
from jem.scheduler.snapshot import NodeView, PendingJob, Snapshot

NOW = 1_000_000.0
EASY = Policy(reservation_depth=1, estimate_depth=100)
BATCH = Partition("batch", ("n1", "n2"))


def node(name) -> NodeView:
    return NodeView(name, Resources(4, 4096, 0), Resources(0, 0, 0), True)


def job(job_id, *, limit_s=3600, reservation="", cpus=4) -> PendingJob:
    return PendingJob(job_id=job_id, priority=100 - job_id, submit_time=NOW - 100, partition="batch", n_nodes=1,
                      per_node=Resources(cpus, 100, 0), held_by="", begin_time=None, time_limit_s=limit_s,
                      reservation=reservation, user="root")


def maint(start_in_s, length_s, *, nodes=("n1", "n2"), flags=(ReservationFlag.MAINT,)) -> Reservation:
    return Reservation("maint", NOW + start_in_s, NOW + start_in_s + length_s, nodes, users=("root",),
                       flags=frozenset(flags))


def snapshot(jobs, reservations) -> Snapshot:
    return Snapshot(nodes=(node("n1"), node("n2")), partitions=(BATCH,), pending=tuple(jobs),
                    reservations=tuple(reservations))


def started(decisions) -> dict[int, tuple[str, ...]]:
    return {s.job_id: s.node_names for s in decisions.starts}


def test_a_job_outside_starts_before_a_reservation_only_if_it_ends_before_it():
    decisions = plan_cycle(snapshot([job(1, limit_s=7200), job(2, limit_s=600)], [maint(3600, 3600)]), NOW,
                           policy=EASY)
    assert started(decisions) == {2: ("n1",)}
    # Job 1 would run into the maintenance: Slurm's reason, and it is planned after it.
    assert decisions.reasons[1] is JobReason.REQ_NODE_NOT_AVAIL
    assert decisions.reason_details[1] == "ReqNodeNotAvail, Reserved for maintenance"
    assert decisions.planned_starts[1] == NOW + 7200


def test_its_own_jobs_run_on_its_nodes_and_end_by_its_end():
    window = maint(-60, 1800, nodes=("n2",), flags=())
    jobs = [job(1, limit_s=7200, reservation="maint"), job(2, limit_s=7200, reservation="maint")]
    decisions = plan_cycle(snapshot(jobs, [window]), NOW, policy=EASY)
    assert started(decisions) == {1: ("n2",)}   # (not n1, free as it is: it is not the reservation's)
    assert decisions.reasons[2] is JobReason.RESOURCES


def test_a_job_of_a_reservation_not_begun_or_gone_waits_with_slurms_reason():
    decisions = plan_cycle(snapshot([job(1, reservation="maint"), job(2, reservation="gone")],
                                    [maint(600, 600, flags=())]), NOW, policy=EASY)
    assert decisions.reasons == {1: JobReason.RESERVATION, 2: JobReason.RESERVATION_DELETED}
    assert decisions.planned_starts[1] == NOW + 600 and 1 in decisions.estimated


def test_daily_windows_repeat_and_a_reservation_is_checked():
    daily = dataclasses.replace(maint(-7200, 3600), flags=frozenset({ReservationFlag.DAILY}))
    assert daily.window(NOW) == (NOW - 7200 + 86400, NOW - 3600 + 86400)
    assert not daily.is_active(NOW) and daily.is_active(NOW + 86400 - 7000)
    with pytest.raises(InvalidReservation):
        dataclasses.replace(daily, end_time=daily.start_time).check()
    with pytest.raises(InvalidReservation):
        dataclasses.replace(daily, users=(), accounts=()).check()
    other = Reservation("other", NOW + 1000, NOW + 2000, ("n2",), users=("x",))
    assert other.overlaps(daily, NOW) is False and other.overlaps(maint(0, 5000), NOW)


def test_a_noreserve_qos_job_takes_no_reservation_and_leaves_it_to_the_next():
    from jem.model.accounting import add_qos, new_table
    from jem.model.associations import Qos, QosFlag
    table, _ = add_qos(new_table(), [Qos("scavenger", flags=frozenset({QosFlag.NO_RESERVE}))])
    busy = dataclasses.replace(node("n1"), allocated=Resources(4, 100, 0))
    first = dataclasses.replace(job(1), qos="scavenger")
    from jem.scheduler.snapshot import RunningJob
    running = RunningJob(job_id=9, node_names=("n1",), per_node=Resources(4, 100, 0), start_time=NOW - 10,
                         time_limit_s=110)   # (ends at NOW + 100)
    snap = Snapshot(nodes=(busy,), partitions=(Partition("batch", ("n1",)),), pending=(first, job(2)),
                    accounting=table, running=(running,))
    decisions = plan_cycle(snap, NOW, policy=Policy(reservation_depth=1))
    assert decisions.reasons == {1: JobReason.RESOURCES, 2: JobReason.RESOURCES}
    # The reservation at NOW + 100 goes to job 2; job 1 (NoReserve) holds none.
    assert decisions.planned_starts == {2: NOW + 100}
    without = plan_cycle(dataclasses.replace(snap, accounting=None), NOW, policy=Policy(reservation_depth=1))
    assert without.planned_starts == {1: NOW + 100}


def test_a_job_its_reservation_no_longer_admits_does_not_run_in_it():
    window = dataclasses.replace(maint(-60, 1800, flags=()), users=("alice",))
    mine = dataclasses.replace(job(1, reservation="maint"), user="bob")
    decisions = plan_cycle(snapshot([mine], [window]), NOW, policy=EASY)
    assert started(decisions) == {} and decisions.reasons[1] is JobReason.RESERVATION


def test_overlaps_are_found_however_far_ahead():
    daily = Reservation("daily", NOW, NOW + 3600, ("n1",), users=("a",), flags=frozenset({ReservationFlag.DAILY}))
    later = Reservation("later", NOW + 14 * 86400 + 600, NOW + 14 * 86400 + 1200, ("n1",), users=("b",))
    elsewhere = dataclasses.replace(later, node_names=("n2",))
    assert daily.overlaps(later, NOW) and later.overlaps(daily, NOW)
    assert not daily.overlaps(elsewhere, NOW)
    assert not daily.overlaps(dataclasses.replace(later, start_time=NOW + 14 * 86400 + 3700,
                                                  end_time=NOW + 14 * 86400 + 7000), NOW)
