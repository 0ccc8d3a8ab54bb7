"""Exactly once, even under stress, with a real controller and agents: an agent SIGKILLed
(restarted soon, or after its node went DOWN) or frozen past the node timeout while its
jobs run, and a controller that stalls. Jobs outlive their agent, end once with their real
exit codes, never run twice, and leave no process or cgroup behind.

Each job notes every start in a file of its own and waits for a file the test makes, so
the test decides when it ends (never a sleep)."""

import os
import signal
import time

import psutil
import pytest

from jem.model.node import NodeState
from jem.model.states import JobState

from harness import processes_with_marker, wait_until

pytestmark = pytest.mark.integration

NODE_TIMEOUT = "node_timeout_s = 2\nnode_dead_timeout_s = 20"


def gated(cluster, name: str, end: str) -> str:
    """A script that notes each start in `name`.runs, waits for `name`.go, then runs `end`."""
    work = cluster.workdir
    return (f"#!/bin/sh\necho $$ >> {work}/{name}.runs\n"
            f"while [ ! -e {work}/{name}.go ]; do sleep 0.05; done\n{end}\n")


def release(cluster, name: str) -> None:
    open(os.path.join(cluster.workdir, f"{name}.go"), "w").close()


def starts(cluster, name: str) -> list[str]:
    try:
        with open(os.path.join(cluster.workdir, f"{name}.runs")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def submit_on_n1(cluster, client, ends: dict[str, str]) -> dict[str, int]:
    """Submit one gated job per name, all started on n1 (n2 drained meanwhile); returns their ids."""
    client.drain_node("n2", "pin the jobs to n1")
    ids = {name: client.submit(cluster.spec(gated(cluster, name, end))) for name, end in ends.items()}
    wait_until(lambda: all(client.get_job(j).state is JobState.RUNNING for j in ids.values())
               and all(starts(cluster, name) for name in ids), what="the jobs to start")
    assert all(client.get_job(j).nodes == ("n1",) for j in ids.values())
    client.resume_node("n2")
    return ids


def node_state(client, name: str) -> NodeState:
    return {i.node.name: i.state for i in client.list_nodes()}[name]


def status_recorded(cluster, job_id: int) -> bool:
    """Whether the job's keeper on n1 has recorded its end (no agent needed)."""
    return os.path.exists(os.path.join(cluster.spool_root, "n1", f"job{job_id}", "status"))


def leftovers(cluster) -> list[str]:
    """Job cgroups, and processes of the cluster's jobs or keepers: any process naming its
    spool but the running agents and their own keepers (`keeper.py SPOOL AGENT_PID`), which
    stay for the next job."""
    agents = {str(p.pid) for p in cluster.agents.values() if p.poll() is None}
    found = [d for d in cluster.cgroup_dirs() if os.path.basename(d).startswith(("job_", "steps_"))]
    for process in processes_with_marker(cluster.spool_root):
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        is_agent = str(process.pid) in agents
        is_agents_keeper = any(word.endswith("keeper.py") for word in cmdline) and cmdline[-1] in agents
        if not (is_agent or is_agents_keeper):
            found.append(f"pid {process.pid}: {' '.join(cmdline)}")
    return found


@pytest.mark.parametrize("is_down_first", [False, True], ids=["restarted-at-once", "restarted-after-node-down"])
def test_jobs_of_a_killed_agent_run_on_and_each_ends_once_with_its_exit_code(make_cluster, is_down_first):
    c = make_cluster(extra_config=NODE_TIMEOUT, cpus=4)
    c.start()
    with c.client() as client:
        ids = submit_on_n1(c, client, {"fails": "exit 3", "killed": "kill -9 $$", "goes_on": "exit 0"})
        c.stop_process(c.agents["n1"], signal.SIGKILL)
        release(c, "fails")
        release(c, "killed")
        wait_until(lambda: status_recorded(c, ids["fails"]) and status_recorded(c, ids["killed"]),
                   what="two jobs to end while no agent runs")
        if is_down_first:
            wait_until(lambda: node_state(client, "n1") is NodeState.DOWN, 15, what="n1 to go DOWN")
            # Silent is not gone: nothing confirmed the jobs ended, so they are not requeued ...
            assert all(client.get_job(j).state is JobState.RUNNING for j in ids.values())
            # ... and a DOWN node gets no new work.
            other = client.submit(c.spec("#!/bin/sh\ntrue\n"))
            assert c.wait_job(client, other).nodes == ("n2",)
        c.start_agent("n1")
        c.wait_nodes_up(["n1"])
        failed = c.wait_job(client, ids["fails"])
        assert (failed.state, failed.exit_code, failed.exit_signal) == (JobState.FAILED, 3, 0)
        killed = c.wait_job(client, ids["killed"])
        assert (killed.state, killed.exit_signal) == (JobState.FAILED, signal.SIGKILL)
        assert client.get_job(ids["goes_on"]).state is JobState.RUNNING
        release(c, "goes_on")
        assert c.wait_job(client, ids["goes_on"]).state is JobState.COMPLETED
        assert all(client.get_job(j).restart_count == 0 for j in ids.values())
    assert all(len(starts(c, name)) == 1 for name in ids)
    wait_until(lambda: not leftovers(c), what="no job process or cgroup left")


def test_a_frozen_agent_past_the_node_timeout_never_runs_a_job_twice(make_cluster):
    c = make_cluster(extra_config=NODE_TIMEOUT, cpus=4)
    c.start()
    agent = c.agents["n1"]
    with c.client() as client:
        ids = submit_on_n1(c, client, {"during": "exit 0", "after": "exit 5"})
        agent.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: node_state(client, "n1") is NodeState.DOWN, 15, what="n1 to go DOWN")
            release(c, "during")
            wait_until(lambda: status_recorded(c, ids["during"]), what="a job to end while its agent is frozen")
            assert all(client.get_job(j).state is JobState.RUNNING for j in ids.values())
            other = client.submit(c.spec("#!/bin/sh\ntrue\n"))
            assert c.wait_job(client, other).nodes == ("n2",)
        finally:
            agent.send_signal(signal.SIGCONT)
        c.wait_nodes_up(["n1"])
        assert c.wait_job(client, ids["during"]).state is JobState.COMPLETED
        assert client.get_job(ids["after"]).state is JobState.RUNNING
        release(c, "after")
        ended = c.wait_job(client, ids["after"])
        assert (ended.state, ended.exit_code) == (JobState.FAILED, 5)
        assert all(client.get_job(j).restart_count == 0 for j in ids.values())
    assert all(len(starts(c, name)) == 1 for name in ids)
    wait_until(lambda: not leftovers(c), what="no job process or cgroup left")


def test_a_stalled_controller_does_not_take_its_nodes_down(make_cluster):
    c = make_cluster(extra_config=NODE_TIMEOUT, cpus=4)
    c.start()
    c.controller.send_signal(signal.SIGSTOP)
    try:
        time.sleep(4)   # the stall itself (twice the node timeout), not a wait for a result
    finally:
        c.controller.send_signal(signal.SIGCONT)
    log_path = os.path.join(c.root, "controller.log")

    def log_text() -> str:
        with open(log_path, errors="replace") as f:
            return f.read()

    wait_until(lambda: "controller stalled" in log_text(), what="the controller to notice its stall")
    with c.client() as client:
        # For longer than a node timeout after the stall, no node is ever DOWN (an absence, watched).
        watch_until = time.monotonic() + 3
        while time.monotonic() < watch_until:
            assert all(i.state is not NodeState.DOWN for i in client.list_nodes())
            time.sleep(0.1)
        job_id = client.submit(c.spec("#!/bin/sh\ntrue\n", n_nodes=2))
        assert c.wait_job(client, job_id).state is JobState.COMPLETED
    assert "node down" not in log_text()
