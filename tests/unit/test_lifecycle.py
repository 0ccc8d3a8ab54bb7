"""Job changes the controller makes (jem.controller.lifecycle), on a real node table and store."""

from jem.controller import lifecycle
from jem.controller.nodes import NodeTable
from jem.model.config import parse_config
from jem.model.job import Job, JobShape, JobSpec
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.store import SqliteStore


def test_a_job_its_nodes_keep_failing_under_is_held_after_slurms_five_requeues(tmp_path):
    config = parse_config({"nodes": [{"names": "n1", "cpus": 4, "mem_mib": 1000}],
                           "partitions": [{"name": "p", "nodes": "ALL"}]})
    nodes = NodeTable(config, SqliteStore(str(tmp_path / "jem.db")))
    job = Job(job_id=1, spec=JobSpec(script="#!/bin/sh\n", partition="p"), user="ann", uid=1, gid=1,
              submit_time=0.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    for run in range(1, lifecycle.MAX_FAILURE_REQUEUES + 2):
        lifecycle.start_job(job, ("n1",), nodes, now=float(run))
        lifecycle.requeue_after_failure(job, nodes, now=float(run), detail="node n1 failed")
        assert job.state is JobState.PENDING and job.restart_count == run
        assert nodes.get("n1").free == nodes.get("n1").capacity      # the allocation went back each time
        if run <= lifecycle.MAX_FAILURE_REQUEUES:
            assert not job.held_by and job.reason is JobReason.BEGIN_TIME_REQUEUE
    assert job.held_by == "requeue_limit"
    assert job.reason is JobReason.LAUNCH_FAILED_REQUEUE_HELD and job.reason.value == "launch failed requeued held"
    assert job.priority == 0


def test_a_requeued_job_gets_back_the_time_limit_a_reservations_end_cut(tmp_path):
    """A job started in a reservation with 10 minutes left runs 10 minutes at most; requeued, it
    may run elsewhere for its own hour again (and a job with no limit, without one)."""
    from types import SimpleNamespace

    from jem.controller.reservations import end_by_reservation
    from jem.model.reservation import Reservation

    config = parse_config({"nodes": [{"names": "n1", "cpus": 4, "mem_mib": 1000}],
                           "partitions": [{"name": "p", "nodes": "ALL"}]})
    nodes = NodeTable(config, SqliteStore(str(tmp_path / "jem.db")))
    window = Reservation("r", 0.0, 1600.0, ("n1",), users=("ann",))
    state = SimpleNamespace(reservations=SimpleNamespace(get=lambda name: window if name == "r" else None))
    for limit in (3600, None):
        job = Job(job_id=1, spec=JobSpec(script="#!/bin/sh\n", partition="p", reservation="r"), user="ann", uid=1,
                  gid=1, submit_time=0.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=limit)
        end_by_reservation(state, job, 1000.0)
        lifecycle.start_job(job, ("n1",), nodes, now=1000.0)
        assert job.time_limit_s == 600
        lifecycle.requeue_job(job, nodes, now=1100.0, detail="requeued")
        assert job.time_limit_s == limit and not job.time_limit_cut
