"""Preemption on a real cluster (preempt/qos): a high-QOS job pushes a low-QOS one off; the victim
gets SIGTERM at once and ends PREEMPTED (mode CANCEL) or goes back to the queue (REQUEUE)."""

import os

import pytest

from harness import wait_until
from jem.model.states import JobState

pytestmark = pytest.mark.integration

POLICY = """preempt_type = "qos"
preempt_mode = "cancel"

[[qos]]
name = "low"
grace_time = 30

[[qos]]
name = "requeued"
preempt_mode = "requeue"

[[qos]]
name = "high"
priority = 100
preempt = ["low", "requeued"]

[[accounts]]
name = "root"
qos = ["normal", "low", "requeued", "high"]
"""


def trapping(path: str) -> str:
    """A job that, on SIGTERM, writes `path` and exits (it would otherwise sleep 300 s)."""
    return f"#!/bin/sh\ntrap 'echo term > {path}; exit 0' TERM\nsleep 300 &\nwait\n"


def test_a_high_qos_job_preempts_a_low_one_which_ends_preempted(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=POLICY).start()
    mark = os.path.join(cluster.workdir, "victim-got-term")
    with cluster.client() as client:
        victim = client.submit(cluster.spec(trapping(mark), n_tasks=2, time_limit_s=600, qos="low"))
        cluster.wait_job(client, victim, states={JobState.RUNNING})
        wait_until(lambda: os.path.exists(os.path.join(cluster.workdir, f"slurm-{victim}.out")),
                   what="the victim's output file (its trap is set)")
        high = client.submit(cluster.spec("#!/bin/sh\nsleep 60\n", n_tasks=2, time_limit_s=120, qos="high"))
        cluster.wait_job(client, high, states={JobState.RUNNING}, timeout_s=60)
        ended = client.get_job(victim)
        client.cancel(high)
        cluster.wait_job(client, high)   # (ended before the cluster stops: no kill cut short)
    assert ended.state is JobState.PREEMPTED
    # SIGTERM at once (its grace time is 30 s: it did not wait for SIGKILL).
    assert open(mark).read() == "term\n"


def test_a_requeue_mode_victim_goes_back_to_the_queue(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=POLICY).start()
    with cluster.client() as client:
        victim = client.submit(cluster.spec("#!/bin/sh\nsleep 300\n", n_tasks=2, time_limit_s=600, qos="requeued"))
        cluster.wait_job(client, victim, states={JobState.RUNNING})
        high = client.submit(cluster.spec("#!/bin/sh\nsleep 60\n", n_tasks=2, time_limit_s=120, qos="high"))
        cluster.wait_job(client, high, states={JobState.RUNNING}, timeout_s=60)
        requeued = client.get_job(victim)
        for job_id in (high, victim):
            client.cancel(job_id)
        for job_id in (high, victim):
            cluster.wait_job(client, job_id)
    assert requeued.state is JobState.PENDING and requeued.restart_count == 1
    # (Slurm's: it is eligible again some 20 minutes later, so that its preemptor gets the nodes)
    assert requeued.spec.begin_time >= requeued.submit_time + 1200
