"""An administrator's DOWN of a node (jem.controller.nodedown, NodeTable.down), on a real
controller state: node and job tables over a SQLite store, real keys. Nothing is sent to an
agent here: `down_node` returns the kills, which the tests read."""

import sqlite3

import pytest

from jem.controller import lifecycle
from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.nodedown import down_node
from jem.controller.nodes import NodeTable
from jem.controller.reports import apply_reports, reconcile_node
from jem.controller.state import ClusterState
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.config import parse_config
from jem.model.errors import InvalidArgument, NodeNotFound
from jem.model.execution import JobEnd, JobReport
from jem.model.job import Job, JobShape, JobSpec
from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.scheduler.fairshare import Usage
from jem.store import SqliteStore
from jem.store.base import NodeRecord

CONFIG = parse_config({"nodes": [{"names": "n[1-3]", "cpus": 4, "mem_mib": 1000}],
                       "partitions": [{"name": "p", "nodes": "ALL"}]})


def make_state(tmp_path) -> ClusterState:
    store = SqliteStore(str(tmp_path / "jem.db"))
    bus = EventBus()
    state = ClusterState(
        config=CONFIG, store=store, jobs=JobTable(store, bus), nodes=NodeTable(CONFIG, store), bus=bus,
        agents=AgentLinks(ControllerKeys(str(tmp_path / "security"), with_authd_key=False)),
        steps=StepTable(store.next_step_id), usage=Usage(half_life_s=3600),
        submit_rate=SubmitRate(burst=100, per_s=100), streams=StreamSlots(per_user=10, total=10))
    for name in ("n1", "n2", "n3"):
        register(state, name)
    return state


def register(state: ClusterState, name: str, *, now: float = 0.0) -> None:
    with state.lock:
        state.nodes.register(name, address=address(name), capacity=Resources(4, 1000, 0), boot_id="boot",
                             cgroup_mode="none", now=now)


def address(name: str) -> str:
    return f"127.0.0.1:{10000 + int(name[1:])}"


def running(state: ClusterState, *nodes: str, requeue: bool | None = None) -> Job:
    """A job started on `nodes` (its batch script on the first)."""
    job = Job(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p", requeue=requeue), user="ann", uid=1,
              gid=1, submit_time=0.0, shape=JobShape(len(nodes), len(nodes), Resources(1, 100, 0)),
              time_limit_s=None)
    with state.lock:
        state.jobs.add(job, now=0.0)
        state.commit([lifecycle.start_job(job, tuple(nodes), state.nodes, now=1.0)])
    return job


def down(state: ClusterState, name: str, reason: str = "bad fan", *, now: float = 5.0):
    with state.lock:
        return down_node(state, name, reason, now=now)


def ended(state: ClusterState, node: str, job: Job, *, now: float = 6.0) -> None:
    """The node's agent reports the job's run gone (killed)."""
    apply_reports(state, node, [JobReport(job.job_id, True, end=JobEnd.KILLED, exit_signal=9,
                                          restart_count=job.restart_count)], now=now)


def test_a_down_node_whose_agent_answers_has_its_jobs_killed_and_settled_only_once_confirmed(tmp_path):
    state = make_state(tmp_path)
    requeued, failed = running(state, "n1"), running(state, "n1", requeue=False)
    elsewhere = running(state, "n2")

    kills = down(state, "n1")

    assert kills == [("n1", address("n1"), requeued.job_id, 0), ("n1", address("n1"), failed.job_id, 0)]
    # Marked killed, not yet settled: their processes may still run.
    assert (requeued.state, requeued.kill_cause.value) == (JobState.COMPLETING, "requeue")
    assert (failed.state, failed.kill_cause.value) == (JobState.COMPLETING, "node_fail")
    assert elsewhere.state is JobState.RUNNING and elsewhere.kill_cause is None
    node = state.nodes.get("n1")
    assert (node.state, node.reason, node.is_schedulable) == (NodeState.DOWN, "bad fan", False)

    # The agent confirms each end: then, and only then, each is settled.
    ended(state, "n1", requeued)
    assert (requeued.state, requeued.restart_count, requeued.nodes) == (JobState.PENDING, 1, ())
    ended(state, "n1", failed)
    assert (failed.state, failed.reason) == (JobState.NODE_FAIL, JobReason.NODE_DOWN)
    assert state.nodes.get("n1").job_ids == set() and state.nodes.get("n1").state is NodeState.DOWN


def test_a_job_the_agent_no_longer_holds_is_settled_by_reconciliation(tmp_path):
    state = make_state(tmp_path)
    job = running(state, "n1", requeue=False)
    down(state, "n1")
    # A heartbeat that holds the job keeps it COMPLETING; one without it confirms it gone.
    reconcile_node(state, "n1", running={(job.job_id, 0)}, unreported=set(), now=6.0)
    assert job.state is JobState.COMPLETING
    reconcile_node(state, "n1", running=set(), unreported=set(), now=6.0 + CONFIG.scheduler.launch_grace_s)
    assert job.state is JobState.NODE_FAIL


def test_a_second_down_changes_only_the_reason(tmp_path):
    state = make_state(tmp_path)
    job = running(state, "n1")
    assert len(down(state, "n1")) == 1
    assert down(state, "n1", "still bad", now=7.0) == []
    assert job.kill_time == 5.0 and state.nodes.get("n1").reason == "still bad"


def test_a_job_being_cancelled_is_left_to_its_own_kill(tmp_path):
    state = make_state(tmp_path)
    job = running(state, "n1")
    with state.lock:
        state.commit([lifecycle.kill_job(job, lifecycle.JobEvent.CANCEL, 2.0)])
    assert down(state, "n1") == []
    ended(state, "n1", job)
    assert job.state is JobState.CANCELLED


def test_a_job_spread_over_a_down_node_is_killed_on_its_batch_node(tmp_path):
    state = make_state(tmp_path)
    job = running(state, "n2", "n1")
    assert down(state, "n1") == [("n2", address("n2"), job.job_id, 0)]
    assert job.state is JobState.COMPLETING
    ended(state, "n2", job)
    assert job.state is JobState.PENDING and state.nodes.get("n2").job_ids == set()


def test_a_down_of_a_silent_node_declares_it_dead_and_settles_its_jobs_at_once(tmp_path):
    state = make_state(tmp_path)
    requeued, failed = running(state, "n1"), running(state, "n1", requeue=False)
    spread = running(state, "n2", "n1")           # batch script on n2, which is up
    with state.lock:
        state.nodes.mark_unreachable("n1", address=address("n1"), why="agent shut down")

    kills = down(state, "n1", "powered off")

    assert (requeued.state, requeued.restart_count) == (JobState.PENDING, 1)
    assert failed.state is JobState.NODE_FAIL
    assert kills == [("n2", address("n2"), spread.job_id, 0)] and spread.state is JobState.COMPLETING
    node = state.nodes.get("n1")
    assert (node.state, node.reason, node.job_ids) == (NodeState.DOWN, "powered off", {spread.job_id})
    ended(state, "n2", spread)   # its batch node confirms: now it leaves n1 too
    assert spread.state is JobState.PENDING and node.job_ids == set()


def test_a_down_node_stays_down_through_heartbeats_registration_silence_and_restart(tmp_path):
    state = make_state(tmp_path)
    down(state, "n1")
    with state.lock:
        assert state.nodes.heartbeat("n1", boot_id="boot", now=10.0) is not None
        state.nodes.apply_health(state.nodes.get("n1"), "")           # a passing health check
        state.nodes.apply_health(state.nodes.get("n1"), "disk full")  # a failing one
    register(state, "n1", now=11.0)
    node = state.nodes.get("n1")
    assert (node.state, node.reason, node.is_responding, node.is_drained) == (NodeState.DOWN, "bad fan", True, False)
    with state.lock:
        state.nodes.mark_unresponsive(now=100.0, timeout_s=5.0, stall_s=1000.0)
    assert (node.is_responding, node.reason) == (False, "bad fan")   # the administrator's reason stays

    again = NodeTable(CONFIG, state.store)                             # a controller restart
    assert (again.get("n1").state, again.get("n1").reason) == (NodeState.DOWN, "bad fan")
    again.register("n1", address=address("n1"), capacity=Resources(4, 1000, 0), boot_id="b2",
                   cgroup_mode="none", now=200.0)
    assert again.get("n1").state is NodeState.DOWN and not again.get("n1").is_schedulable

    again.resume("n1")
    assert (again.get("n1").state, again.get("n1").reason) == (NodeState.IDLE, "")
    assert NodeTable(CONFIG, state.store).get("n1").is_down is False


def test_a_drained_node_taken_down_and_resumed_is_back_in_service(tmp_path):
    state = make_state(tmp_path)
    with state.lock:
        state.nodes.drain("n1", "disk")
    down(state, "n1", "fan")
    restarted = NodeTable(CONFIG, state.store)
    assert (restarted.get("n1").is_drained, restarted.get("n1").is_down, restarted.get("n1").reason) == \
        (True, True, "fan")
    with state.lock:
        state.nodes.resume("n1")
    assert state.nodes.get("n1").state is NodeState.IDLE


def test_undrain_undoes_a_drain_only_and_a_down_node_stays_down_across_a_restart(tmp_path):
    state = make_state(tmp_path)
    with state.lock:
        state.nodes.drain("n1", "disk")
        state.nodes.drain("n2", "disk")
    down(state, "n1", "fan")
    register(state, "n2", now=11.0)
    with state.lock:
        state.nodes.undrain("n1")
        state.nodes.undrain("n2")
    assert (state.nodes.get("n1").state, state.nodes.get("n1").reason) == (NodeState.DOWN, "fan")
    assert (state.nodes.get("n2").state, state.nodes.get("n2").reason) == (NodeState.IDLE, "")
    restarted = NodeTable(CONFIG, state.store)
    assert [(restarted.get(n).is_drained, restarted.get(n).is_down) for n in ("n1", "n2")] == \
        [(False, True), (False, False)]
    with state.lock:
        state.nodes.resume("n1")
    assert not state.nodes.get("n1").is_down and not state.nodes.get("n1").is_drained


def test_a_down_needs_a_reason_and_a_known_node(tmp_path):
    state = make_state(tmp_path)
    with pytest.raises(InvalidArgument, match="a reason is required to down a node"):
        down(state, "n1", "  ")
    with pytest.raises(NodeNotFound):
        down(state, "n9")
    assert state.nodes.get("n1").state is NodeState.IDLE
    assert state.store.load_nodes() == []


def test_a_database_from_before_down_migrates_and_keeps_its_drains(tmp_path):
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE nodes (name TEXT PRIMARY KEY, is_drained INTEGER NOT NULL, reason TEXT NOT NULL);"
                     "INSERT INTO nodes VALUES ('n1', 1, 'disk');")
    db.close()
    store = SqliteStore(path)
    assert store.load_nodes() == [NodeRecord("n1", True, "disk", is_down=False)]
    store.save_node(NodeRecord("n2", False, "fan", is_down=True))
    store.close()
    assert SqliteStore(path).load_nodes() == [NodeRecord("n1", True, "disk"), NodeRecord("n2", False, "fan", True)]


def test_a_dynamic_node_taken_down_is_down_again_when_it_joins_after_a_restart(tmp_path):
    config = parse_config({"cluster": {"dynamic_nodes": True}, "nodes": [{"names": "n1", "cpus": 4, "mem_mib": 1000}],
                           "partitions": [{"name": "p", "nodes": "ALL"}]})
    store = SqliteStore(str(tmp_path / "jem.db"))

    def join(nodes: NodeTable) -> None:
        nodes.register("d1", address="127.0.0.1:1", capacity=Resources(2, 500, 0), boot_id="b", cgroup_mode="none",
                       now=0.0)

    before = NodeTable(config, store)
    join(before)
    before.down("d1", "flaky")
    after = NodeTable(config, store)   # a controller restart: d1 is unknown until it joins
    join(after)
    assert (after.get("d1").state, after.get("d1").reason) == (NodeState.DOWN, "flaky")
