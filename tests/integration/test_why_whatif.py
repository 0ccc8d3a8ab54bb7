"""`jem why`'s what-ifs on a real controller and agents: what the job's owner could change (a
shorter time limit, fewer nodes, another partition it may use) with the start each gives, and
the job starts at once when the change is made."""

import json
import os
import subprocess
import sys
import time

import pytest

from harness import cancel_and_wait, wait_until
from jem.model.states import JobState

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 600\n"




def why(cluster, job_id, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    return subprocess.run([sys.executable, "-m", "jem.cli.main", "why", str(job_id), *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_a_job_too_long_for_the_hole_is_told_the_limit_that_starts_it_and_starts_once_set(make_cluster, stranger):
    """Two 1-CPU nodes. A job runs on one for 350 s; a 2-node job ahead reserves both from its end;
    a 1-hour job would overlap that reservation, so it waits for the 2-node job's end. Within 50 s
    of the first job's start, 5 minutes fit the free node until the reservation: jem why says
    TimeLimit=00:05:00 would start it now, and once set it starts."""
    cluster = make_cluster(n_nodes=2, cpus=1).start()
    with cluster.client() as client, cluster.client_as(stranger) as other:
        first = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=350))
        started = cluster.wait_job(client, first, states={JobState.RUNNING})
        wide = client.submit(cluster.spec(SLEEP, n_nodes=2, n_tasks=2, time_limit_s=600))
        job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600))
        wait_until(lambda: client.get_job(job_id).planned_start is not None, what="the job's plan")
        said = client.explain_job(job_id)
        told_other = other.explain_job(job_id)   # (it may see the job, not change it)
        text, as_json = why(cluster, job_id), why(cluster, job_id, "--json")
        assert time.time() < started.start_time + 50, "too slow to check a 5-minute hole"
        client.update(job_id, time_limit_s=300)
        running = cluster.wait_job(client, job_id, states={JobState.RUNNING}, timeout_s=20)
        still = client.get_job(wide).state
        cancel_and_wait(cluster, client, [first, wide, job_id])
    assert int(said.planned_start) == int(started.start_time) + 350 + 600   # (after the 2-node job)
    assert [w.change for w in said.what_ifs] == ["TimeLimit=00:05:00"]
    assert said.what_ifs[0].start_time <= time.time() and not said.what_ifs[0].is_estimate
    assert told_other.what_ifs == () and told_other.planned_start == said.planned_start
    assert text.returncode == 0, text.stderr
    assert "A shorter time limit (TimeLimit=00:05:00) would start it now." in text.stdout
    assert json.loads(as_json.stdout)["what_ifs"][0]["change"] == "TimeLimit=00:05:00"
    assert running.nodes != started.nodes and still is JobState.PENDING


def test_a_job_told_fewer_nodes_starts_once_it_asks_for_them(make_cluster):
    """One of two 1-CPU nodes is busy for 10 minutes: a 2-node job waits for it, one node is free now."""
    cluster = make_cluster(n_nodes=2, cpus=1).start()
    with cluster.client() as client:
        first = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=600))
        started = cluster.wait_job(client, first, states={JobState.RUNNING})
        job_id = client.submit(cluster.spec(SLEEP, n_nodes=2, time_limit_s=60))
        wait_until(lambda: client.get_job(job_id).planned_start is not None, what="the job's plan")
        said = client.explain_job(job_id)
        client.update(job_id, n_nodes=1)
        running = cluster.wait_job(client, job_id, states={JobState.RUNNING}, timeout_s=20)
        cancel_and_wait(cluster, client, [first, job_id])
    assert int(said.planned_start) == int(started.start_time) + 600
    assert [w.change for w in said.what_ifs] == ["NumNodes=1"] and said.what_ifs[0].start_time <= time.time()
    assert running.nodes != started.nodes


def test_a_job_is_told_only_a_partition_it_may_use(make_cluster):
    """narrow (n1) is busy for 10 minutes; closed (both nodes) would start the job now but allows
    another account only; debug (both nodes) may be used: it is the one told."""
    cluster = make_cluster(n_nodes=2, cpus=1, extra_config=(
        '\n[[partitions]]\nname = "narrow"\nnodes = "n1"\n'
        '\n[[partitions]]\nname = "closed"\nnodes = "ALL"\nallow_accounts = ["elsewhere"]\n')).start()
    with cluster.client() as client:
        first = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=600, partition="narrow"))
        started = cluster.wait_job(client, first, states={JobState.RUNNING})
        job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, partition="narrow"))
        wait_until(lambda: client.get_job(job_id).planned_start is not None, what="the job's plan")
        said = client.explain_job(job_id)
        client.update(job_id, partition="debug")
        running = cluster.wait_job(client, job_id, states={JobState.RUNNING}, timeout_s=20)
        cancel_and_wait(cluster, client, [first, job_id])
    assert int(said.planned_start) == int(started.start_time) + 600
    assert [w.change for w in said.what_ifs] == ["Partition=debug"]
    assert running.nodes == ("n2",)
