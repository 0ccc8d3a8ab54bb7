"""Advance reservations and `jem why` on a real cluster: a maintenance reservation lets only jobs
that end in time start before it, its own jobs start at its start, and a waiting job starts when
`jem why` said it would."""

import time

import pytest

from harness import wait_until
from jem.model.reasons import JobReason
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.states import JobState

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 300\n"


def test_a_maintenance_reservation_lets_only_jobs_that_end_in_time_start_before_it(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2).start()
    with cluster.client() as client:
        start = time.time() + 12
        client.create_reservation(Reservation("maint", start, start + 600, ("n1",), users=("root",),
                                              flags=frozenset({ReservationFlag.MAINT})))
        short = client.submit(cluster.spec("#!/bin/sh\nsleep 1\n", n_tasks=1, time_limit_s=5))
        long = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60))
        member = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600, reservation="maint"))
        cluster.wait_job(client, short)   # (it ends in time: it started at once)
        wait_until(lambda: client.get_job(long).reason is JobReason.REQ_NODE_NOT_AVAIL, what="long job's reason")
        waiting = client.get_job(long)
        wait_until(lambda: client.get_job(member).reason is JobReason.RESERVATION, what="member's reason")
        assert int(client.get_job(member).planned_start) == int(start)
        started = cluster.wait_job(client, member, states={JobState.RUNNING}, timeout_s=30)
        # Within its window it runs until the reservation's end at the latest.
        assert started.start_time >= start - 1 and started.time_limit_s <= 600
        assert client.get_job(long).state is JobState.PENDING
        for job_id in (long, member):
            client.cancel(job_id)
        for job_id in (long, member):
            cluster.wait_job(client, job_id)   # (ended before the cluster stops: no kill cut short)
        client.delete_reservation("maint")
    assert waiting.reason_detail == "ReqNodeNotAvail, Reserved for maintenance"
    assert waiting.planned_start >= start + 600 - 1   # (after the maintenance)


def test_a_waiting_job_starts_when_jem_why_said(make_cluster):
    """Every job runs to its time limit: the waiting job's planned start is the running one's end."""
    cluster = make_cluster(n_nodes=1, cpus=2).start()
    with cluster.client() as client:
        first = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=8))
        cluster.wait_job(client, first, states={JobState.RUNNING})
        second = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=60))
        wait_until(lambda: client.get_job(second).planned_start is not None, what="the second job's plan")
        said = client.explain_job(second)
        started = cluster.wait_job(client, second, states={JobState.RUNNING}, timeout_s=30)
        client.cancel(second)
        cluster.wait_job(client, second)
    assert [a.job_id for a in said.after] == [first] and not said.planned_start_is_estimate
    # Within a scheduling cycle of it (the time limit is enforced, the kill confirmed, then a cycle).
    assert abs(started.start_time - said.planned_start) <= 4, (started.start_time, said.planned_start)


def test_reservations_of_cores_magnetic_and_flex_on_a_real_cluster(make_cluster):
    """One 4-CPU node. CoreCnt=2 for root, now: root's 2-CPU job runs in it beside another 2-CPU
    job (the other cores), a third 2-CPU job outside it waits. Then a MAGNETIC reservation of the
    node draws in a job that names none (it ends by the reservation's end), and a FLEX one lets
    its job run past its end (its time limit is not cut)."""
    cluster = make_cluster(n_nodes=1, cpus=4).start()
    with cluster.client() as client:
        now = time.time()
        client.create_reservation(Reservation("cores", now, now + 3600, ("n1",), users=("root",), core_count=2))
        inside = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=600, reservation="cores"))
        cluster.wait_job(client, inside, states={JobState.RUNNING})
        beside = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=600))   # (the reserved cores in use)
        cluster.wait_job(client, beside, states={JobState.RUNNING})
        third = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=600))
        wait_until(lambda: client.get_job(third).reason is not JobReason.NONE, what="the third job's reason")
        assert client.get_job(third).state is JobState.PENDING
        for job_id in (inside, beside, third):
            client.cancel(job_id)
        for job_id in (inside, beside, third):
            cluster.wait_job(client, job_id)
        client.delete_reservation("cores")
        now = time.time()
        client.create_reservation(Reservation("magnet", now, now + 300, ("n1",), users=("root",),
                                              flags=frozenset({ReservationFlag.MAGNETIC})))
        drawn = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600))
        started = cluster.wait_job(client, drawn, states={JobState.RUNNING})
        assert started.time_limit_s <= 300   # (drawn in: it ends by the reservation's end)
        client.cancel(drawn)
        cluster.wait_job(client, drawn)
        client.delete_reservation("magnet")
        now = time.time()
        client.create_reservation(Reservation("flex", now, now + 300, ("n1",), users=("root",),
                                              flags=frozenset({ReservationFlag.FLEX})))
        flex = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600, reservation="flex"))
        started = cluster.wait_job(client, flex, states={JobState.RUNNING})
        assert started.time_limit_s == 3600   # (FLEX: it may run past the end)
        client.cancel(flex)
        cluster.wait_job(client, flex)


def test_a_reservation_of_a_core_count_per_node_on_a_real_cluster(make_cluster):
    """Two 4-CPU nodes. CoreCnt=3,1 over n1,n2 for root, updated to 1,3: the counts are refused
    where a node has fewer CPUs or they disagree with the nodes. Its 3-CPU job runs on n2 (3 of
    its cores there), its 1-CPU job on n1 (its 1 core); another 3-CPU job runs on n1's other 3
    cores, and a 2-CPU job outside it waits (n2 has 1 core left beside the reservation)."""
    from jem.model.errors import InvalidReservation

    cluster = make_cluster(n_nodes=2, cpus=4).start()
    with cluster.client() as client:
        now = time.time()

        def cores(counts):
            return Reservation("cores", now, now + 3600, ("n1", "n2"), users=("root",), cores_per_node=counts)

        for counts in ((5, 1), (1,), (1, 0)):
            with pytest.raises(InvalidReservation):
                client.create_reservation(cores(counts))
        assert client.create_reservation(cores((3, 1))).cores_per_node == (3, 1)
        client.update_reservation(cores((1, 3)))
        shown = client.list_reservations(["cores"])[0]
        assert (shown.cores_per_node, shown.core_count) == ((1, 3), 4)

        def spec(n_cpus, **fields):
            return cluster.spec(SLEEP, n_nodes=1, n_tasks=n_cpus, time_limit_s=600, **fields)

        inside = client.submit(spec(3, reservation="cores"))
        assert cluster.wait_job(client, inside, states={JobState.RUNNING}).nodes == ("n2",)
        small = client.submit(spec(1, reservation="cores"))
        assert cluster.wait_job(client, small, states={JobState.RUNNING}).nodes == ("n1",)
        beside = client.submit(spec(3))   # (n1's 3 cores outside the reservation)
        assert cluster.wait_job(client, beside, states={JobState.RUNNING}).nodes == ("n1",)
        waiting = client.submit(spec(2))
        wait_until(lambda: client.get_job(waiting).reason is not JobReason.NONE, what="the fourth job's reason")
        assert client.get_job(waiting).state is JobState.PENDING
        jobs = (inside, small, beside, waiting)
        for job_id in jobs:
            client.cancel(job_id)
        for job_id in jobs:
            cluster.wait_job(client, job_id)
        client.delete_reservation("cores")
