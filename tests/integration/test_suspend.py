"""Suspension on a real cluster: an operator's scontrol suspend/resume (JobService.SuspendJob), and
PreemptMode SUSPEND, where a victim is frozen while its preemptor runs on its CPUs and resumes when
that ends. A suspended job's processes do not run (a counter it writes every 0.1 s stops) and the
time it is suspended does not count against its time limit."""

import os
import signal
import threading
import time

import grpc
import pytest

from harness import wait_until
from jem.model.errors import JobNotSuspended, PermissionDenied
from jem.model.states import JobState
from jem.security import tls
from jem.security.authd import fetch_token
from jem.v1 import agent_pb2, agent_pb2_grpc

pytestmark = pytest.mark.integration

SUSPEND_POLICY = """preempt_type = "qos"
preempt_mode = "cancel"

[[qos]]
name = "low"
preempt_mode = "suspend"
grace_time = 30

[[qos]]
name = "high"
priority = 100
preempt = ["low"]

[[accounts]]
name = "root"
qos = ["normal", "low", "high"]
"""


def counter(path: str, *, until: int = 0) -> str:
    """A job that writes 1, 2, 3, ... to `path` every 0.1 s (up to `until`, then exits 0; 0: for ever)."""
    stop = f'[ "$i" -ge {until} ] && exit 0\n' if until else ""
    return f"#!/bin/sh\ni=0\nwhile true; do i=$((i+1)); echo $i > {path}; {stop}sleep 0.1; done\n"


def stopped(path: str) -> int:
    """The count, once it no longer moves (0 while it does): what a frozen job leaves."""
    before = count(path)
    time.sleep(0.4)   # (four counts' time)
    return before if before and count(path) == before else 0


def count(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


def test_an_operator_suspends_and_resumes_a_job_and_cancels_it_suspended(cluster, stranger):
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=600))
        wait_until(lambda: count(mark) >= 3, what="the job to count")
        with cluster.client_as(stranger) as user:
            with pytest.raises(PermissionDenied):
                user.suspend(job_id)
        with pytest.raises(JobNotSuspended):
            client.suspend(job_id, resume=True)
        assert client.suspend(job_id).state is JobState.SUSPENDED
        assert client.get_job(job_id).state is JobState.SUSPENDED   # (what squeue shows: S)
        assert client.suspend(job_id).state is JobState.SUSPENDED   # (again: as Slurm's, it succeeds)
        stopped_at = wait_until(lambda: stopped(mark), what="the counter to stop")
        time.sleep(1.0)   # (ten counts' time: it counts none while suspended)
        assert count(mark) == stopped_at
        assert client.suspend(job_id, resume=True).state is JobState.RUNNING
        wait_until(lambda: count(mark) >= stopped_at + 3, what="the job to count again")
        client.suspend(job_id)
        client.cancel(job_id)   # (thawed, then killed)
        ended = cluster.wait_job(client, job_id, timeout_s=20)
    assert ended.state is JobState.CANCELLED
    assert "CANCELLED AT" in open(os.path.join(cluster.workdir, f"slurm-{job_id}.out")).read()


def test_the_time_a_job_is_suspended_does_not_count_against_its_time_limit(cluster):
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=4))
        wait_until(lambda: count(mark) >= 2, what="the job to count")
        client.suspend(job_id)
        time.sleep(4.0)   # (suspended past its time limit: it is not killed meanwhile)
        assert client.get_job(job_id).state is JobState.SUSPENDED
        client.suspend(job_id, resume=True)
        ended = cluster.wait_job(client, job_id, timeout_s=30)
    assert ended.state is JobState.TIMEOUT
    assert ended.end_time - ended.start_time >= 4 + 4 - 0.5
    assert "DUE TO TIME LIMIT ***" in open(os.path.join(cluster.workdir, f"slurm-{job_id}.out")).read()


def test_a_suspend_mode_victim_is_frozen_while_its_preemptor_runs_then_resumes_and_completes(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=SUSPEND_POLICY).start()
    mark = os.path.join(cluster.workdir, "count")
    preemptor_mark = os.path.join(cluster.workdir, "preemptor")
    events = []
    with cluster.client() as client:
        # 40 counts (some 4 s of running) within a time limit of 10 s: it completes only if the
        # time it spends suspended (its preemptor's 8 s) is added to its limit.
        victim = client.submit(cluster.spec(counter(mark, until=40), n_tasks=2, time_limit_s=10, qos="low"))
        watcher = threading.Thread(target=lambda: events.extend(
            (n.event, n.job.job_id, n.job.state) for n in _watch_until_ended(cluster, victim)), daemon=True)
        watcher.start()
        wait_until(lambda: count(mark) >= 5, what="the victim to count")
        preemptor = client.submit(cluster.spec(f"#!/bin/sh\necho running > {preemptor_mark}\nsleep 8\n", n_tasks=2,
                                               time_limit_s=60, qos="high"))
        cluster.wait_job(client, preemptor, states={JobState.RUNNING}, timeout_s=30)
        assert client.get_job(victim).state is JobState.SUSPENDED
        wait_until(lambda: os.path.exists(preemptor_mark), what="the preemptor to run")
        stopped_at = wait_until(lambda: stopped(mark), what="the victim's counter to stop")
        time.sleep(1.0)
        assert count(mark) == stopped_at and client.get_job(victim).state is JobState.SUSPENDED
        assert cluster.wait_job(client, preemptor, timeout_s=30).state is JobState.COMPLETED
        ended = cluster.wait_job(client, victim, timeout_s=30)
        watcher.join(10)
    assert ended.state is JobState.COMPLETED and count(mark) == 40
    assert ended.end_time - ended.start_time > 10   # (past its time limit by wall clock)
    assert [e for e in events if e[0] in ("suspend", "resume")] == [
        ("suspend", victim, JobState.SUSPENDED), ("resume", victim, JobState.RUNNING)]


def test_a_restarted_controller_and_agent_keep_a_victim_frozen_until_its_preemptor_ends(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=SUSPEND_POLICY).start()
    mark = os.path.join(cluster.workdir, "count")
    go = os.path.join(cluster.workdir, "go")
    with cluster.client() as client:
        victim = client.submit(cluster.spec(counter(mark, until=30), n_tasks=2, time_limit_s=600, qos="low"))
        wait_until(lambda: count(mark) >= 3, what="the victim to count")
        preemptor = client.submit(cluster.spec(f"#!/bin/sh\nwhile [ ! -e {go} ]; do sleep 0.1; done\n", n_tasks=2,
                                               time_limit_s=600, qos="high"))
        cluster.wait_job(client, preemptor, states={JobState.RUNNING}, timeout_s=30)
        stopped_at = wait_until(lambda: stopped(mark), what="the victim's counter to stop")
    cluster.stop_process(cluster.controller, signal.SIGKILL)
    cluster.stop_process(cluster.agents["n1"], signal.SIGKILL)   # (the jobs outlive it, under its keeper)
    cluster.start_controller()
    cluster.start_agent("n1")
    cluster.wait_nodes_up()
    with cluster.client() as client:
        assert client.get_job(victim).state is JobState.SUSPENDED
        assert client.get_job(preemptor).state is JobState.RUNNING
        # The node is full: the victim's share is still lent, nothing more is counted free.
        other = client.submit(cluster.spec("#!/bin/sh\ntrue\n", n_tasks=1, time_limit_s=60))
        time.sleep(1.5)   # (three cycles: it must not start on the lent share)
        assert client.get_job(other).state is JobState.PENDING
        assert count(mark) == stopped_at   # (still frozen under the new agent)
        open(go, "w").close()
        assert cluster.wait_job(client, preemptor, timeout_s=30).state is JobState.COMPLETED
        assert cluster.wait_job(client, victim, timeout_s=30).state is JobState.COMPLETED
        assert count(mark) == 30
        cluster.wait_job(client, other, timeout_s=30)


def test_only_the_controller_may_freeze_a_job_on_an_agent(cluster):
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=600))
        job = cluster.wait_job(client, job_id, states={JobState.RUNNING})
        wait_until(lambda: count(mark) >= 2, what="the job to count")
        address = next(i.node.agent_address for i in client.list_nodes() if i.node.name == job.nodes[0])
        # Another node's certificate (a compromised node), with a user's token or a forged one.
        other = "n2" if job.nodes[0] == "n1" else "n1"
        stub = agent_pb2_grpc.AgentServiceStub(grpc.secure_channel(
            address, tls.channel_credentials(cluster.security_dir, f"nodes/{other}"),
            options=[tls.target_name_override(job.nodes[0])]))
        for metadata in ((("jem-token", fetch_token(cluster.authd_socket)),), (("jem-controller-token", "forged"),)):
            with pytest.raises(grpc.RpcError) as caught:
                stub.SuspendRun(agent_pb2.SuspendRunRequest(job_id=job_id, restart_count=0), metadata=metadata,
                                timeout=10)
            assert caught.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
        before = count(mark)
        wait_until(lambda: count(mark) >= before + 3, what="the job to go on counting")
        client.cancel(job_id)
        cluster.wait_job(client, job_id)


def _watch_until_ended(cluster, job_id: int):
    with cluster.client() as client:
        for notice in client.watch(job_ids=[job_id]):
            yield notice
            if notice.job.state.is_terminal:
                return
