"""An operator's DOWN of a node (Slurm's `scontrol update nodename=X state=down reason=...`,
AdminService.DownNode), against a real cluster: its jobs are killed and settled exactly
once, no run of a job overlaps another, nothing new starts there while its agent keeps
heartbeating, the DOWN survives a controller restart, and only a resume ends it. A node
already silent is declared dead: its jobs are settled at once. A plain user is refused.

Each job takes an exclusive flock for as long as any of its processes lives, and notes every
start in a file of its own (with OVERLAP if the lock was still held: two runs at once); it
waits for a file the test makes, so the test decides when it ends (never a sleep)."""

import signal

import grpc
import psutil
import pytest

from jem.model.audit import AuditQuery
from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.v1 import admin_pb2, admin_pb2_grpc

from harness import START_TIMEOUT_S, wait_until
from test_exactly_once import leftovers, release, starts as runs
from test_recovery import _kill_machine
from test_security import controller_channel, token_as

pytestmark = pytest.mark.integration


def locked(cluster, name: str) -> str:
    """A script that holds `name`.lock while it runs, notes its pid in `name`.runs (OVERLAP
    first if another run still holds the lock), and waits for `name`.go."""
    work = cluster.workdir
    return (f"#!/bin/sh\nexec 9>>{work}/{name}.lock\n"
            f"flock -n 9 || echo OVERLAP >> {work}/{name}.runs\n"
            f"echo $$ >> {work}/{name}.runs\n"
            f"while [ ! -e {work}/{name}.go ]; do sleep 0.05; done\n")


def node_info(client, name: str):
    return {i.node.name: i for i in client.list_nodes()}[name]


def start_on_n1(cluster, client, **specs) -> dict[str, int]:
    """Submit one locked job per name (spec fields as given), all started on n1 (n2 drained)."""
    client.drain_node("n2", "pin the jobs to n1")
    ids = {name: client.submit(cluster.spec(locked(cluster, name), **fields)) for name, fields in specs.items()}
    wait_until(lambda: all(client.get_job(j).state is JobState.RUNNING for j in ids.values())
               and all(runs(cluster, name) for name in ids), what="the jobs to start")
    assert all(client.get_job(j).nodes == ("n1",) for j in ids.values())
    return ids


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_an_operator_down_kills_the_jobs_once_and_holds_the_node_until_resumed(make_cluster):
    c = make_cluster(cpus=4)
    c.start()
    with c.client() as client:
        ids = start_on_n1(c, client, requeued={}, failed={"requeue": False})
        first_pid = int(runs(c, "requeued")[0])

        info = client.down_node("n1", "bad fan")
        assert (info.state, info.node.reason, info.node.is_responding) == (NodeState.DOWN, "bad fan", True)

        # Settled once the agent confirmed the kill: by then no process of the first run is left.
        requeued = wait_until(lambda: (j := client.get_job(ids["requeued"])).state is JobState.PENDING and j,
                              what="the job to be requeued")
        assert is_gone(first_pid) and requeued.restart_count == 1
        failed = c.wait_job(client, ids["failed"])
        assert (failed.state, failed.reason) == (JobState.NODE_FAIL, JobReason.NODE_DOWN)

        # The agent keeps heartbeating, and still nothing starts on n1 (n2 is drained).
        beat = node_info(client, "n1").node.last_heartbeat
        wait_until(lambda: node_info(client, "n1").node.last_heartbeat > beat + 1, what="two more heartbeats")
        n1 = node_info(client, "n1")
        assert (n1.state, n1.node.is_responding, n1.node.job_ids) == (NodeState.DOWN, True, set())
        assert client.get_job(ids["requeued"]).state is JobState.PENDING

        audit = wait_until(lambda: [r for r in client.list_audit(AuditQuery(user="root")) if r.method == "DownNode"],
                           10, what="the DownNode audit record")
        assert audit[0].result == "ok" and "reason=bad fan" in audit[0].request

    c.stop_process(c.controller, signal.SIGKILL)   # the DOWN is in the store, not only in memory
    c.start_controller()
    c.wait_nodes_up(["n2"])
    with c.client() as client:
        n1 = wait_until(lambda: (i := node_info(client, "n1")).node.is_responding and i, START_TIMEOUT_S,
                        what="n1's agent to register again")
        assert (n1.state, n1.node.reason) == (NodeState.DOWN, "bad fan")
        assert client.get_job(ids["requeued"]).state is JobState.PENDING

        info = client.resume_node("n1")
        assert info.state is not NodeState.DOWN and info.node.reason == ""
        wait_until(lambda: len(runs(c, "requeued")) == 2, START_TIMEOUT_S, what="the requeued job to run again")
        assert client.get_job(ids["requeued"]).nodes == ("n1",)
        release(c, "requeued")
        assert c.wait_job(client, ids["requeued"]).state is JobState.COMPLETED
        client.resume_node("n2")
    assert "OVERLAP" not in runs(c, "requeued") and len(runs(c, "failed")) == 1
    wait_until(lambda: not leftovers(c), START_TIMEOUT_S, what="no job process or cgroup left")


@pytest.mark.parametrize("silence", ["frozen-agent", "dead-machine"])
def test_a_silent_node_taken_down_has_its_jobs_settled_at_once(make_cluster, silence):
    # DOWN after 2 s of silence; declared dead by itself only after 300 s: long past this test.
    c = make_cluster(cpus=4, extra_config="node_timeout_s = 2\nnode_dead_timeout_s = 300")
    c.start()
    agent = c.agents["n1"]
    with c.client() as client:
        ids = start_on_n1(c, client, requeued={}, failed={"requeue": False})
        if silence == "frozen-agent":
            agent.send_signal(signal.SIGSTOP)
        else:
            _kill_machine(c, "n1")
        try:
            wait_until(lambda: node_info(client, "n1").state is NodeState.DOWN, 15, what="n1 to go DOWN")
            assert all(client.get_job(j).state is JobState.RUNNING for j in ids.values())

            client.down_node("n1", "powered off")

            # At once: the administrator's word replaces the dead timeout.
            assert client.get_job(ids["failed"]).state is JobState.NODE_FAIL
            requeued = client.get_job(ids["requeued"])
            assert (requeued.state, requeued.restart_count) == (JobState.PENDING, 1)
        finally:
            if silence == "frozen-agent":
                agent.send_signal(signal.SIGCONT)
            else:
                c.start_agent("n1")
        # The agent comes back: the runs it still held are killed, and n1 stays DOWN.
        wait_until(lambda: node_info(client, "n1").node.is_responding, START_TIMEOUT_S,
                   what="n1's agent to register again")
        wait_until(lambda: not leftovers(c), START_TIMEOUT_S, what="the old runs to be killed")
        n1 = node_info(client, "n1")
        assert (n1.state, n1.node.reason) == (NodeState.DOWN, "powered off")
        assert client.get_job(ids["requeued"]).state is JobState.PENDING
        client.resume_node("n1")
        client.resume_node("n2")
        wait_until(lambda: len(runs(c, "requeued")) == 2, START_TIMEOUT_S, what="the requeued job to run again")
        release(c, "requeued")
        assert c.wait_job(client, ids["requeued"]).state is JobState.COMPLETED
    assert "OVERLAP" not in runs(c, "requeued") and len(runs(c, "failed")) == 1
    wait_until(lambda: not leftovers(c), START_TIMEOUT_S, what="no job process or cgroup left")


def test_a_plain_user_cannot_take_a_node_down_and_the_attempt_is_audited(cluster, stranger):
    with cluster.client() as root:
        job_id = root.submit(cluster.spec("#!/bin/sh\nsleep 60\n"))
        job = wait_until(lambda: (j := root.get_job(job_id)).state is JobState.RUNNING and j,
                         what="the job to start")
        target = job.nodes[0]
        stub = admin_pb2_grpc.AdminServiceStub(controller_channel(cluster))
        with pytest.raises(grpc.RpcError) as caught:
            stub.DownNode(admin_pb2.DownNodeRequest(name=target, reason="mine now"),
                          metadata=(("jem-token", token_as(stranger, cluster.authd_socket)),), timeout=10)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        node = node_info(root, target)
        assert node.state is not NodeState.DOWN and node.node.reason == "" and node.node.job_ids == {job_id}
        assert root.get_job(job_id).state is JobState.RUNNING
        record = wait_until(lambda: [r for r in root.list_audit(AuditQuery(user=stranger)) if r.method == "DownNode"],
                            10, what="the refusal's audit record")[0]
        assert record.result == "PermissionDenied" and f"name={target}" in record.request
        root.cancel(job_id)
        assert cluster.wait_job(root, job_id).state is JobState.CANCELLED


def test_a_plain_user_cannot_undrain_or_resume_a_node_taken_down(cluster, stranger):
    target = cluster.node_names[0]
    stub = admin_pb2_grpc.AdminServiceStub(controller_channel(cluster))

    def refused(method: str, request) -> None:
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, method)(request, metadata=(("jem-token", token_as(stranger, cluster.authd_socket)),),
                                  timeout=10)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED, method

    with cluster.client() as root:
        root.drain_node(target, "disk")
        try:
            refused("UndrainNode", admin_pb2.UndrainNodeRequest(name=target))
            assert (node_info(root, target).state, node_info(root, target).node.reason) == (NodeState.DRAINED, "disk")
            root.down_node(target, "bad psu")
            refused("ResumeNode", admin_pb2.ResumeNodeRequest(name=target))
            refused("UndrainNode", admin_pb2.UndrainNodeRequest(name=target))
            assert (node_info(root, target).state, node_info(root, target).node.reason) == (NodeState.DOWN, "bad psu")
            root.undrain_node(target)   # root may: the drain goes, the DOWN stays
            assert (node_info(root, target).state, node_info(root, target).node.reason) == (NodeState.DOWN, "bad psu")
        finally:
            root.resume_node(target)
        wait_until(lambda: node_info(root, target).state is NodeState.IDLE, what="the node back in service")


def test_a_job_cancelled_while_it_is_killed_to_be_requeued_ends_cancelled(make_cluster):
    """Found by test_fuzz_grpc: a node taken down kills its job to requeue it; a cancel that comes
    while the job is still dying (it ignores SIGTERM) is the later word: it ends CANCELLED, not
    back in the queue (where it ran again beside its replacement)."""
    c = make_cluster(n_nodes=1, cpus=2)
    c.start()
    with c.client() as client:
        job_id = client.submit(c.spec("#!/bin/sh\ntrap '' TERM\nsleep 60\n", requeue=True))
        c.wait_job(client, job_id, states={JobState.RUNNING})
        client.down_node("n1", "fuzzed")
        assert client.get_job(job_id).state is JobState.COMPLETING
        client.cancel(job_id)
        client.resume_node("n1")
        ended = c.wait_job(client, job_id, timeout_s=30)
        assert ended.state is JobState.CANCELLED and ended.restart_count == 0
