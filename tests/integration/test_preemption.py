"""Preemption on a real cluster (preempt/qos): a high-QOS job pushes a low-QOS one off; the victim
gets SIGTERM at once (or its --signal, with send_user_signal), Slurm's `*** JOB N ON node CANCELLED
AT ... DUE TO PREEMPTION ***` line in its output, and ends PREEMPTED (mode CANCEL) or goes back to
the queue (REQUEUE); several jobs preempt in one cycle, each with victims of its own."""

import os
import re
import threading
import time

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
    output = open(os.path.join(cluster.workdir, f"slurm-{victim}.out")).read()
    assert re.search(rf"^slurmstepd: error: \*\*\* JOB {victim} ON n1 CANCELLED AT "
                     rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d DUE TO PREEMPTION \*\*\*$", output, re.M), output


def test_a_requeue_mode_victim_goes_back_to_the_queue(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=POLICY).start()
    with cluster.client() as client:
        victim = client.submit(cluster.spec("#!/bin/sh\nsleep 300\n", n_tasks=2, time_limit_s=600, qos="requeued"))
        cluster.wait_job(client, victim, states={JobState.RUNNING})
        wait_until(lambda: os.path.exists(os.path.join(cluster.workdir, f"slurm-{victim}.out")),
                   what="the victim's output file")
        high = client.submit(cluster.spec("#!/bin/sh\nsleep 60\n", n_tasks=2, time_limit_s=120, qos="high"))
        cluster.wait_job(client, high, states={JobState.RUNNING}, timeout_s=60)
        requeued = client.get_job(victim)
        wait_until(lambda: "DUE TO PREEMPTION" in open(os.path.join(cluster.workdir, f"slurm-{victim}.out")).read(),
                   what="the requeued victim's output to say why")
        for job_id in (high, victim):
            client.cancel(job_id)
        for job_id in (high, victim):
            cluster.wait_job(client, job_id)
    assert requeued.state is JobState.PENDING and requeued.restart_count == 1
    # (Slurm's: it is eligible again some 20 minutes later, so that its preemptor gets the nodes)
    assert requeued.spec.begin_time >= requeued.submit_time + 1200


def test_two_jobs_preempt_in_one_cycle_each_pushing_off_a_victim_of_its_own(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=4, extra_config=POLICY).start()
    kills: list[tuple[int, float]] = []
    with cluster.client() as client:
        victims = [client.submit(cluster.spec(trapping(os.path.join(cluster.workdir, f"term-{i}")), n_tasks=2,
                                              time_limit_s=600, qos="low")) for i in range(2)]
        for victim in victims:
            cluster.wait_job(client, victim, states={JobState.RUNNING})
        watcher = threading.Thread(target=_collect_kills, args=(cluster, victims, kills), daemon=True)
        watcher.start()
        # Both become eligible at the same moment: one cycle plans them together.
        begin = time.time() + 3
        highs = [client.submit(cluster.spec("#!/bin/sh\nsleep 30\n", n_tasks=2, time_limit_s=120, qos="high",
                                            begin_time=begin)) for _ in range(2)]
        for high in highs:
            cluster.wait_job(client, high, states={JobState.RUNNING}, timeout_s=60)
        ended = [cluster.wait_job(client, victim) for victim in victims]
        watcher.join(10)
        for high in highs:
            client.cancel(high)
        for high in highs:
            cluster.wait_job(client, high)
    assert [job.state for job in ended] == [JobState.PREEMPTED, JobState.PREEMPTED]
    assert sorted(job_id for job_id, _ in kills) == sorted(victims)
    assert kills[0][1] == kills[1][1]   # (killed by the same cycle: one clock reading)


def _collect_kills(cluster, victims: list[int], kills: list) -> None:
    """The victims' `kill` events (job id, time), until both were killed."""
    with cluster.client() as client:
        for notice in client.watch(job_ids=victims):
            if notice.event == "kill":
                kills.append((notice.job.job_id, notice.time))
                if len(kills) == len(victims):
                    return


SIGNAL_POLICY = POLICY.replace('preempt_mode = "cancel"\n', 'preempt_mode = "cancel"\npreempt_send_user_signal = true\n', 1)


def test_send_user_signal_gives_a_victim_its_signal_in_place_of_sigterm(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=SIGNAL_POLICY).start()
    got = os.path.join(cluster.workdir, "got")
    script = (f"#!/bin/sh\ntrap 'echo usr1 >> {got}; exit 0' USR1\ntrap 'echo term >> {got}; exit 0' TERM\n"
              "sleep 300 &\nwait\n")
    with cluster.client() as client:
        # --signal=B:USR1@60 with 600 s to go: not due for a long while, but for preemption.
        victim = client.submit(cluster.spec(script, n_tasks=2, time_limit_s=600, qos="low", warn_signal=10,
                                            warn_time_s=60, warn_batch_only=True))
        cluster.wait_job(client, victim, states={JobState.RUNNING})
        wait_until(lambda: os.path.exists(os.path.join(cluster.workdir, f"slurm-{victim}.out")),
                   what="the victim's output file (its traps are set)")
        high = client.submit(cluster.spec("#!/bin/sh\nsleep 60\n", n_tasks=2, time_limit_s=120, qos="high"))
        ended = cluster.wait_job(client, victim, timeout_s=30)
        cluster.wait_job(client, high, states={JobState.RUNNING}, timeout_s=30)
        client.cancel(high)
        cluster.wait_job(client, high)
    assert ended.state is JobState.PREEMPTED   # (not TIMEOUT: it knows it was preempted)
    assert open(got).read() == "usr1\n"       # (its --signal at once; no SIGTERM while its grace time ran)
