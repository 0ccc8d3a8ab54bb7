"""Restarts and failures: the controller's store, lost agents, and reconnection."""

import os
import signal

import psutil
import pytest

from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import processes_with_marker, wait_until

pytestmark = pytest.mark.integration


def test_controller_restart_keeps_every_job_and_never_reuses_an_id(cluster):
    with cluster.client() as client:
        done_id = client.submit(cluster.spec("#!/bin/sh\necho first\n"))
        cluster.wait_job(client, done_id)
        pending_ids = [client.submit(cluster.spec("#!/bin/sh\necho later\n", hold=True)) for _ in range(3)]
    cluster.stop_process(cluster.controller, signal.SIGKILL)   # no clean shutdown
    cluster.start_controller()
    cluster.wait_nodes_up()
    with cluster.client() as client:
        jobs = {j.job_id: j for j in client.list_jobs()}
        assert jobs[done_id].state is JobState.COMPLETED
        for job_id in pending_ids:
            assert jobs[job_id].state is JobState.PENDING and jobs[job_id].held_by == "user"
        new_id = client.submit(cluster.spec("#!/bin/sh\necho new\n"))
        assert new_id > max(pending_ids)
        assert cluster.wait_job(client, new_id).state is JobState.COMPLETED
        client.release(pending_ids[0])
        assert cluster.wait_job(client, pending_ids[0]).state is JobState.COMPLETED


def test_running_job_survives_a_controller_restart_and_ends_once(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\nsleep 2\necho ran >> runs.txt\n"))
        wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING, what="job to start")
    cluster.stop_process(cluster.controller, signal.SIGKILL)
    cluster.start_controller()
    with cluster.client() as client:
        job = cluster.wait_job(client, job_id, timeout_s=30)
    assert job.state is JobState.COMPLETED
    with open(os.path.join(cluster.workdir, "runs.txt")) as f:
        assert f.read() == "ran\n"


def _kill_machine(c, name: str) -> None:
    """What a node's sudden death does: its agent, its jobs' keepers and its jobs' processes die."""
    c.stop_process(c.agents[name], signal.SIGKILL)
    spool = os.path.join(c.spool_root, name)
    for process in processes_with_marker(spool):   # the keepers (and the agent's factory) first
        try:
            if "keeper.py" in " ".join(process.cmdline()):
                process.kill()
        except psutil.Error:   # gone meanwhile (the factory of the killed agent exits by itself)
            pass
    for path in c.cgroup_dirs():
        if f"/{name}/job_" in path:
            with open(os.path.join(path, "cgroup.procs")) as f:
                for pid in f.read().split():
                    os.kill(int(pid), signal.SIGKILL)


def test_a_node_silent_past_the_dead_timeout_has_its_jobs_failed_or_requeued(make_cluster):
    # DOWN after 1.5 s of silence, dead (its jobs settled) after 15 s.
    c = make_cluster(extra_config="node_timeout_s = 1.5\nnode_dead_timeout_s = 15")
    c.start()
    with c.client() as client:
        # Pin both jobs onto n1 by draining n2 first.
        client.drain_node("n2", "test")
        no_requeue = client.submit(c.spec("#!/bin/sh\nsleep 60\n", requeue=False))
        requeue = client.submit(c.spec("#!/bin/sh\necho $SLURM_JOB_ID ran on $SLURMD_NODENAME >> ran.txt\nsleep 60\n"))
        ran = os.path.join(c.workdir, "ran.txt")
        wait_until(lambda: all(client.get_job(j).state is JobState.RUNNING for j in (no_requeue, requeue))
                   and os.path.exists(ran), what="jobs to start")
        assert client.get_job(requeue).nodes == ("n1",)
        client.resume_node("n2")
        _kill_machine(c, "n1")
        wait_until(lambda: {i.node.name: i.state for i in client.list_nodes()}["n1"] is NodeState.DOWN, 15,
                   what="n1 to go down")
        # DOWN is not dead: the jobs stay RUNNING until the node is declared dead.
        assert all(client.get_job(j).state is JobState.RUNNING for j in (no_requeue, requeue))
        failed = c.wait_job(client, no_requeue, timeout_s=40)
        assert failed.state is JobState.NODE_FAIL and failed.reason is JobReason.NODE_DOWN
        rerun = wait_until(lambda: (j := client.get_job(requeue)).state is JobState.RUNNING and j.nodes == ("n2",)
                           and j, 15, what="requeued job to run on n2")
        assert rerun.restart_count == 1
        # The node comes back: its agent finds the first run lost and reports it, which changes nothing.
        c.start_agent("n1")
        c.wait_nodes_up(["n1"])
        wait_until(lambda: "fate=lost" in c.log("agent-n1.log") or "lost=" in c.log("agent-n1.log"),
                   what="n1's agent to report the run it lost")
        wait_until(lambda: not os.path.exists(os.path.join(c.spool_root, "n1", f"job{requeue}")),
                   what="n1's agent to clean up the lost run")
        job = client.get_job(requeue)
        assert (job.state, job.nodes, job.restart_count) == (JobState.RUNNING, ("n2",), 1)
        with open(ran) as f:
            assert f.read() == f"{requeue} ran on n1\n{requeue} ran on n2\n"
        client.cancel(requeue)
        c.wait_job(client, requeue)


def test_a_killed_agent_node_goes_down_and_its_restart_takes_the_jobs_over(make_cluster):
    c = make_cluster(extra_config="node_timeout_s = 2\nnode_dead_timeout_s = 20")
    c.start()
    with c.client() as client:
        client.drain_node("n2", "test")
        job_id = client.submit(c.spec("#!/bin/sh\necho ran >> ran.txt\nsleep 60\n"))
        wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING
                   and os.path.exists(os.path.join(c.workdir, "ran.txt")), what="job to start")
        client.resume_node("n2")
        c.stop_process(c.agents["n1"], signal.SIGKILL)
        wait_until(lambda: {i.node.name: i.state for i in client.list_nodes()}["n1"] is NodeState.DOWN, 15,
                   what="n1 to go down")
        c.start_agent("n1")
        c.wait_nodes_up(["n1"])
        # The job went on under its keeper: the new agent holds it, and a cancel reaches it.
        job = client.get_job(job_id)
        assert (job.state, job.nodes, job.restart_count) == (JobState.RUNNING, ("n1",), 0)
        client.cancel(job_id)
        assert c.wait_job(client, job_id).state is JobState.CANCELLED
    with open(os.path.join(c.workdir, "ran.txt")) as f:
        assert f.read() == "ran\n"


def test_agent_restart_reregisters_and_node_returns(cluster):
    cluster.stop_process(cluster.agents["n2"])
    with cluster.client() as client:
        cluster.start_agent("n2")
        cluster.wait_nodes_up(["n2"])
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", n_nodes=2))
        assert cluster.wait_job(client, job_id).state is JobState.COMPLETED


def test_drained_node_gets_no_new_jobs_and_resume_restores_it(cluster):
    with cluster.client() as client:
        info = client.drain_node("n1", "bad disk")
        assert info.state is NodeState.DRAINED and info.node.reason == "bad disk"
        ids = [client.submit(cluster.spec("#!/bin/sh\ntrue\n")) for _ in range(3)]
        jobs = [cluster.wait_job(client, j) for j in ids]
        assert all(j.nodes == ("n2",) for j in jobs)
        two_nodes = client.submit(cluster.spec("#!/bin/sh\ntrue\n", n_nodes=2))
        # It needs the drained node: Slurm's ReqNodeNotAvail (squeue shows "Nodes required for job
        # are DOWN, DRAINED or reserved ..."), not Resources.
        wait_until(lambda: client.get_job(two_nodes).reason is JobReason.REQ_NODE_NOT_AVAIL,
                   what="ReqNodeNotAvail reason")
        assert client.resume_node("n1").state is NodeState.IDLE
        assert cluster.wait_job(client, two_nodes).state is JobState.COMPLETED


def test_a_second_controller_on_the_same_state_dir_refuses_to_start(cluster):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "jem.cli.main", "controller", "--config", cluster.config_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "another controller is running on state directory" in result.stderr
    with cluster.client() as client:
        assert len(client.list_nodes()) == 2   # the first one still serves
