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


def user_job(job_id, user, *, limit_s=3600, reservation="", n_nodes=1) -> PendingJob:
    return dataclasses.replace(job(job_id, limit_s=limit_s, reservation=reservation), user=user, n_nodes=n_nodes)


def test_a_magnetic_reservation_draws_in_the_jobs_it_admits_and_lets_the_others_by():
    """MAGNETIC on n1 for alice (on now, an hour left): alice's job that names no reservation runs
    in it (n1, ending by its end: the start says which reservation); bob's job may not use n1
    and takes n2; alice's 2-node job cannot run in it, so it is planned as any job (after bob's)."""
    magnet = Reservation("magnet", NOW - 60, NOW + 3600, ("n1",), users=("alice",),
                         flags=frozenset({ReservationFlag.MAGNETIC}))
    jobs = [user_job(1, "alice", limit_s=7200), user_job(2, "bob"), user_job(3, "alice", n_nodes=2)]
    decisions = plan_cycle(snapshot(jobs, [magnet]), NOW, policy=EASY)
    assert started(decisions) == {1: ("n1",), 2: ("n2",)}
    assert {s.job_id: s.reservation for s in decisions.starts} == {1: "magnet", 2: ""}
    assert decisions.reasons[3] is JobReason.RESOURCES and decisions.planned_starts[3] == NOW + 3600


def test_a_flex_reservations_jobs_start_before_it_outside_it_and_run_past_its_end():
    """FLEX: a job of a reservation that begins in an hour starts now as any job (n1 and n2 are
    free; it ends before the window, which covers n2 only). In the window, a FLEX job longer than
    what is left of it starts on its node all the same (it may run past the end), and one that
    finds its node taken starts outside it."""
    later = Reservation("flex", NOW + 3600, NOW + 7200, ("n2",), users=("root",), flags=frozenset({ReservationFlag.FLEX}))
    decisions = plan_cycle(snapshot([job(1, limit_s=600, reservation="flex")], [later]), NOW, policy=EASY)
    assert started(decisions) == {1: ("n1",)}
    now_on = dataclasses.replace(later, start_time=NOW - 60, end_time=NOW + 600)
    jobs = [job(1, limit_s=3600, reservation="flex"), job(2, limit_s=3600, reservation="flex")]
    decisions = plan_cycle(snapshot(jobs, [now_on]), NOW, policy=EASY)
    assert started(decisions) == {1: ("n2",), 2: ("n1",)}


def test_a_start_planned_before_a_reservation_was_made_is_checked_against_it():
    """The controller's last check of a start: a job of an hour may not start on n1 when a
    reservation it is not in takes n1 in 30 minutes; it may on n2, or if it ends before, or if it
    is the reservation's (or was drawn into it)."""
    from types import SimpleNamespace

    from jem.controller.reservations import enters_reservation

    later = Reservation("later", NOW + 1800, NOW + 3600, ("n1",), users=("root",))

    def of(limit_s, reservation=""):
        return SimpleNamespace(time_limit_s=limit_s, spec=SimpleNamespace(reservation=reservation))

    assert enters_reservation([later], of(3600), ("n1",), NOW)
    assert enters_reservation([later], of(None), ("n1",), NOW)
    assert not enters_reservation([later], of(3600), ("n2",), NOW)
    assert not enters_reservation([later], of(1200), ("n1",), NOW)
    assert not enters_reservation([later], of(3600, "later"), ("n1",), NOW)
    assert not enters_reservation([later], of(3600), ("n1",), NOW, drawn_into="later")


def test_a_job_longer_than_a_daily_reservations_period_does_not_run_across_its_next_window():
    """A DAILY window on n1 and n2 from NOW + 1 h to NOW + 2 h: a 30-hour job may not start now
    (it would run across tomorrow's window too, not only today's), nor right after today's."""
    daily = maint(3600, 3600, flags=(ReservationFlag.DAILY,))
    decisions = plan_cycle(snapshot([job(1, limit_s=30 * 3600)], [daily]), NOW, policy=EASY)
    assert started(decisions) == {}
    start = decisions.planned_starts[1]
    for k in range(0, 4):   # (no window of the next days meets [start, start + 30 h))
        w0, w1 = NOW + 3600 + k * 86400, NOW + 7200 + k * 86400
        assert not (start < w1 and w0 < start + 30 * 3600), k


def test_a_reservation_of_cores_leaves_the_rest_of_its_node_to_the_others():
    """CoreCnt=2 on n1 (4 CPUs) for an hour, n2 busy: its own 2-CPU job runs in it, its 3-CPU job
    cannot (2 cores are its); another user's 2-CPU job runs on n1's other cores, and one of 3 CPUs
    waits for the window's end (or n2)."""
    cores = Reservation("cores", NOW - 60, NOW + 3600, ("n1",), users=("alice",), core_count=2)
    busy = dataclasses.replace(node("n2"), allocated=Resources(4, 0, 0))
    jobs = [user_job(1, "alice", reservation="cores", limit_s=600), user_job(2, "alice", reservation="cores"),
            user_job(3, "bob", limit_s=7200), user_job(4, "bob", limit_s=7200)]
    jobs = [dataclasses.replace(j, per_node=Resources(c, 100, 0)) for j, c in zip(jobs, (2, 3, 2, 3))]
    snap = Snapshot(nodes=(node("n1"), busy), partitions=(BATCH,), pending=tuple(jobs), reservations=(cores,))
    decisions = plan_cycle(snap, NOW, policy=EASY)
    assert started(decisions) == {1: ("n1",), 3: ("n1",)}
    assert 2 not in started(decisions) and 4 not in started(decisions)
    assert Reservation("x", 0, 1, ("n1", "n2"), users=("a",), core_count=5).cores_on("n1") == 3
    with pytest.raises(InvalidReservation):
        Reservation("x", 0, 1, ("n1", "n2"), users=("a",), core_count=1).check()


def test_a_reservation_of_cores_in_use_leaves_the_other_cores_to_the_others():
    """CoreCnt=2 on n1 (4 CPUs), its own job running on 2 of them: another user's 2-CPU job takes
    the 2 other cores (the reserved ones are not counted twice, as used and as reserved)."""
    from jem.scheduler.snapshot import RunningJob

    cores = Reservation("cores", NOW - 60, NOW + 3600, ("n1",), users=("alice",), core_count=2)
    inside = RunningJob(job_id=9, node_names=("n1",), per_node=Resources(2, 100, 0), start_time=NOW - 30,
                        time_limit_s=600, reservation="cores")
    n1 = dataclasses.replace(node("n1"), allocated=Resources(2, 100, 0))
    busy = dataclasses.replace(node("n2"), allocated=Resources(4, 0, 0))
    bob = dataclasses.replace(user_job(1, "bob", limit_s=7200), per_node=Resources(2, 100, 0))
    snap = Snapshot(nodes=(n1, busy), partitions=(BATCH,), pending=(bob,), running=(inside,), reservations=(cores,))
    assert started(plan_cycle(snap, NOW, policy=EASY)) == {1: ("n1",)}
