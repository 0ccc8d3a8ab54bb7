"""scontrol requeue and update NumNodes through a real controller and agents."""

import os

import pytest

from jem.model.errors import JobIsPending, RequeueDisabled, Unsatisfiable
from jem.model.states import JobState

from harness import wait_until

pytestmark = pytest.mark.integration


def test_a_running_job_requeued_runs_again_from_the_start(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    # The first run waits to be requeued; the second finishes at once.
    script = f"#!/bin/sh\necho run >> {runs}\n[ \"$(wc -l < {runs})\" -ge 2 ] || sleep 60\n"
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(script))
        wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING, what="first run")
        wait_until(lambda: os.path.exists(runs), what="first run's output")
        client.requeue(job_id)
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED and job.restart_count == 1
    assert open(runs).read() == "run\nrun\n"


def test_an_ended_job_requeued_runs_again(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\nexit 3\n"))
        assert cluster.wait_job(client, job_id).state is JobState.FAILED
        assert client.requeue(job_id) is JobState.PENDING
        wait_until(lambda: client.get_job(job_id).restart_count == 1 and client.get_job(job_id).state.is_terminal,
                   what="second run")
        assert client.get_job(job_id).state is JobState.FAILED


def test_requeue_is_refused_for_no_requeue_and_pending_jobs(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", requeue=False))
        cluster.wait_job(client, job_id)
        with pytest.raises(RequeueDisabled):
            client.requeue(job_id)
        held = client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        with pytest.raises(JobIsPending):
            client.requeue(held)
        client.cancel(held)


def test_update_of_the_node_count_reshapes_a_pending_job(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        job = client.update(job_id, n_nodes=2)
        assert job.shape.n_nodes == 2 and job.spec.n_nodes == 2
        with pytest.raises(Unsatisfiable):
            client.update(job_id, n_nodes=len(cluster.node_names) + 1)
        client.release(job_id)
        assert len(cluster.wait_job(client, job_id).nodes) == 2
