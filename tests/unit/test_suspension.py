"""Suspension in the controller (jem.controller.suspension, NodeTable's loans, lifecycle), on a real
controller state: node and job tables over a SQLite store, real keys. Orders to agents go to
addresses nobody serves (they fail, logged); the tests read the state and the store."""

import dataclasses

import pytest

from jem.controller import lifecycle, suspension
from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.nodes import NodeTable
from jem.controller.state import ClusterState
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.config import parse_config
from jem.model.errors import (JobIsPending, JobNotSuspended, PermissionDenied,
                              SuspendedForPreemptor)
from jem.model.identity import Identity
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.scheduler.fairshare import Usage
from jem.scheduler.snapshot import take_snapshot
from jem.store import SqliteStore

CONFIG = parse_config({"nodes": [{"names": "n[1-2]", "cpus": 8, "mem_mib": 8000}],
                       "partitions": [{"name": "p", "nodes": "ALL"}]})
ROOT = Identity(user="root", uid=0, gid=0)
ANN = Identity(user="ann", uid=1000, gid=1000, groups=())


def make_state(tmp_path, store: SqliteStore | None = None) -> ClusterState:
    store = store or SqliteStore(str(tmp_path / "jem.db"))
    bus = EventBus()
    state = ClusterState(
        config=CONFIG, store=store, jobs=JobTable(store, bus), nodes=NodeTable(CONFIG, store), bus=bus,
        agents=AgentLinks(ControllerKeys(str(tmp_path / "security"), with_authd_key=False)),
        steps=StepTable(store.next_step_id), usage=Usage(half_life_s=3600),
        submit_rate=SubmitRate(burst=100, per_s=100), streams=StreamSlots(per_user=10, total=10))
    with state.lock:
        for i, name in enumerate(("n1", "n2")):
            state.nodes.register(name, address=f"127.0.0.1:{10001 + i}", capacity=Resources(8, 8000, 0),
                                 boot_id="boot", cgroup_mode="none", now=0.0)
    return state


def job(cpus: int, *, n_nodes: int = 1, limit_s: int | None = 600, exclusive: bool = False) -> Job:
    return Job(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p", exclusive=exclusive), user="ann",
               uid=1000, gid=1000, submit_time=0.0, shape=JobShape(n_nodes, n_nodes, Resources(cpus, cpus * 100, 0)),
               time_limit_s=limit_s)


def running(state: ClusterState, cpus: int, *nodes: str, now: float = 1.0, **kw) -> Job:
    started = job(cpus, n_nodes=len(nodes), **kw)
    with state.lock:
        state.jobs.add(started, now=0.0)
        state.commit([lifecycle.start_job(started, tuple(nodes), state.nodes, now=now)])
    return started


def pending(state: ClusterState, cpus: int, **kw) -> Job:
    waiting = job(cpus, **kw)
    with state.lock:
        state.jobs.add(waiting, now=0.0)
    return waiting


def preempt(state: ClusterState, preemptor: Job, victims: list[Job], nodes: tuple[str, ...], *, now: float):
    changes: list = []
    with state.lock:
        orders = suspension.suspend_for(state, preemptor, victims=victims, node_names=nodes, now=now,
                                        changes=changes)
        state.commit(changes)
    return orders


def end(state: ClusterState, ended: Job, *, now: float) -> None:
    with state.lock:
        state.commit([lifecycle.end_job(ended, JobEvent.COMPLETE, state.nodes, now)])


def stored_state(state: ClusterState, job_id: int) -> JobState:
    return state.store.get_job(job_id).state


def test_a_preemptor_runs_on_its_victims_share_and_they_resume_when_it_ends(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 6, "n1")
    preemptor = pending(state, 8)
    orders = preempt(state, preemptor, [victim], ("n1",), now=10.0)
    n1 = state.nodes.get("n1")
    assert [o[2:] for o in orders] == [(victim.job_id, 0, False)]
    assert (victim.state, preemptor.state) == (JobState.SUSPENDED, JobState.RUNNING)
    assert stored_state(state, victim.job_id) is JobState.SUSPENDED
    assert n1.allocated == Resources(8, 800, 0) and n1.free.cpus == 0   # (6 lent + 2 its own)
    assert set(victim.cpu_ids[0]) < set(preemptor.cpu_ids[0]) and len(preemptor.cpu_ids[0]) == 8
    assert state.nodes.own_share(preemptor.job_id)[0] == Resources(2, 200, 0)

    end(state, preemptor, now=20.0)
    assert n1.allocated == Resources(6, 600, 0)   # (its share never left it: nobody else took it)
    assert state.nodes.resume_owed == {victim.job_id}
    with state.lock:
        orders = suspension.resume_owed(state, now=21.0)
    assert [o[2:] for o in orders] == [(victim.job_id, 0, True)]
    assert victim.state is JobState.RUNNING and stored_state(state, victim.job_id) is JobState.RUNNING
    assert state.nodes.suspensions[victim.job_id].total_s == pytest.approx(11.0)   # (10 .. 21)
    end(state, victim, now=30.0)
    assert n1.allocated == Resources() and victim.job_id not in state.nodes.suspensions


def test_a_victim_cancelled_while_suspended_leaves_what_it_lent_to_its_preemptor(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 4, "n1")
    other = running(state, 4, "n1")
    preemptor = pending(state, 6)
    preempt(state, preemptor, [victim, other], ("n1",), now=5.0)
    n1 = state.nodes.get("n1")
    assert n1.allocated == Resources(8, 800, 0)
    with state.lock:   # (killed, then its end reported)
        state.commit([lifecycle.kill_job(victim, JobEvent.CANCEL, 6.0)])
    end(state, victim, now=7.0)
    assert n1.allocated == Resources(8, 800, 0)   # (4 lent: still the preemptor's; 2 lent by the other)
    assert n1.held[preemptor.job_id] == Resources(4, 400, 0) + Resources(0, 0, 0)
    end(state, preemptor, now=8.0)
    assert n1.allocated == Resources(4, 400, 0) and state.nodes.resume_owed == {other.job_id}


def test_a_suspend_that_no_longer_fits_changes_nothing(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 4, "n1")
    running(state, 4, "n1")
    preemptor = pending(state, 6)   # (4 lent + 0 free: 2 short)
    assert preempt(state, preemptor, [victim], ("n1",), now=5.0) is None
    assert (victim.state, preemptor.state) == (JobState.RUNNING, JobState.PENDING)
    assert state.nodes.get("n1").allocated == Resources(8, 800, 0)


def test_scontrol_suspend_is_for_operators_and_keeps_the_jobs_nodes(tmp_path):
    state = make_state(tmp_path)
    target = running(state, 4, "n1")
    with pytest.raises(PermissionDenied):
        suspension.suspend_job(state, target.job_id, ANN, now=5.0, resume=False)
    with pytest.raises(JobNotSuspended):
        suspension.suspend_job(state, target.job_id, ROOT, now=5.0, resume=True)
    suspended = suspension.suspend_job(state, target.job_id, ROOT, now=5.0, resume=False)
    assert suspended.state is JobState.SUSPENDED and stored_state(state, target.job_id) is JobState.SUSPENDED
    assert state.nodes.get("n1").allocated == Resources(4, 400, 0)
    again = suspension.suspend_job(state, target.job_id, ROOT, now=6.0, resume=False)   # (as Slurm: no error)
    assert again.state is JobState.SUSPENDED and stored_state(state, target.job_id) is JobState.SUSPENDED
    with pytest.raises(JobIsPending):
        suspension.suspend_job(state, pending(state, 1).job_id, ROOT, now=6.0, resume=False)
    assert suspension.suspend_job(state, target.job_id, ROOT, now=9.0, resume=True).state is JobState.RUNNING
    events = [e.event for e in state.store.job_events(target.job_id)]
    assert events[-2:] == ["suspend", "resume"]


def test_a_victim_of_preemption_is_not_resumed_by_hand(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 8, "n1")
    preempt(state, preemptor := pending(state, 8), [victim], ("n1",), now=5.0)
    with pytest.raises(SuspendedForPreemptor):
        suspension.suspend_job(state, victim.job_id, ROOT, now=6.0, resume=True)
    assert preemptor.state is JobState.RUNNING


def test_the_planner_sees_suspended_time_added_and_each_cpu_once(tmp_path):
    state = make_state(tmp_path)
    resumed = running(state, 2, "n2", limit_s=100)
    suspension.suspend_job(state, resumed.job_id, ROOT, now=10.0, resume=False)
    suspension.suspend_job(state, resumed.job_id, ROOT, now=40.0, resume=True)
    victim = running(state, 6, "n1", limit_s=100, now=0.0)
    preempt(state, preemptor := pending(state, 8, limit_s=50), [victim], ("n1",), now=60.0)
    held = running(state, 1, "n2")
    suspension.suspend_job(state, held.job_id, ROOT, now=61.0, resume=False)   # (an operator's: no end known)
    with state.lock:
        live = state.jobs.live()
        extra, own = suspension.planning_times(state, live, now=70.0)
        snap = take_snapshot([], state.nodes.all(), state.partitions, running_jobs=live, extra_time_s=extra,
                             own_shares=own)
    assert extra[resumed.job_id] == 30
    # The victim resumes when its preemptor's limit ends (60 + 50) and then has 100 - 60 s left.
    assert extra[victim.job_id] == 110 - 60
    assert extra[held.job_id] is None
    views = {r.job_id: r for r in snap.running}
    assert views[victim.job_id].start_time + views[victim.job_id].time_limit_s == 150
    assert views[held.job_id].time_limit_s is None and views[victim.job_id].is_suspended
    for node in snap.nodes:   # (the running views add up to each node's allocation: no CPU twice)
        assert node.allocated.cpus == sum(r.per_node.cpus for r in snap.running if node.name in r.node_names)


def test_a_restarted_controller_lends_again_from_the_event_log(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 6, "n1")
    resumed = running(state, 2, "n2")
    suspension.suspend_job(state, resumed.job_id, ROOT, now=2.0, resume=False)
    suspension.suspend_job(state, resumed.job_id, ROOT, now=5.0, resume=True)
    preempt(state, preemptor := pending(state, 4), [victim], ("n1",), now=10.0)
    before = dataclasses.replace(state.nodes.get("n1"))

    again = make_state(tmp_path, store=state.store)   # (as Controller.__init__: load, allocate every live job)
    again.jobs.load(ended_after=0.0)
    for live in again.jobs.live():
        again.nodes.allocate(live.nodes, live.shape.per_node, live.job_id, cpu_ids=live.cpu_ids,
                             gpu_ids=live.gpu_ids, gres=live.spec.gres_per_node, is_exclusive=live.spec.exclusive)
    assert suspension.restore(again) == 2
    n1 = again.nodes.get("n1")
    assert n1.allocated == before.allocated == Resources(6, 600, 0)
    assert again.nodes.borrower_of(victim.job_id) == preemptor.job_id
    assert again.nodes.suspensions[resumed.job_id].total_s == pytest.approx(3.0)
    with again.lock:
        again.commit([lifecycle.end_job(again.jobs.find(preemptor.job_id), JobEvent.COMPLETE, again.nodes, 20.0)])
    assert again.nodes.resume_owed == {victim.job_id} and n1.allocated == Resources(6, 600, 0)


def test_preempt_mode_suspend_and_send_user_signal_are_configuration():
    from jem.model.errors import ConfigError
    from jem.scheduler.policy import Policy
    from jem.model.associations import PreemptMode
    config = parse_config({"scheduler": {"preempt_type": "qos", "preempt_mode": "suspend",
                                         "preempt_send_user_signal": True}})
    assert Policy.from_config(config).preemption.mode is PreemptMode.SUSPEND
    assert config.scheduler.preempt_send_user_signal is True
    assert parse_config({}).scheduler.preempt_send_user_signal is False
    with pytest.raises(ConfigError, match="preempt_send_user_signal"):
        parse_config({"scheduler": {"preempt_send_user_signal": "yes"}})
    with pytest.raises(ConfigError, match="preempt_mode"):
        parse_config({"scheduler": {"preempt_mode": "gang"}})


@pytest.mark.parametrize("event, after", [
    (JobEvent.RESUME, JobState.RUNNING), (JobEvent.KILL, JobState.COMPLETING), (JobEvent.CANCEL, JobState.CANCELLED),
    (JobEvent.NODE_FAIL, JobState.NODE_FAIL), (JobEvent.REQUEUE, JobState.PENDING), (JobEvent.FAIL, JobState.FAILED),
    (JobEvent.COMPLETE, JobState.COMPLETED)])
def test_a_suspended_job_holds_its_nodes_and_ends_as_a_running_one_does(event, after):
    from jem.model.states import transition
    # (its node may die under it, or its processes be killed from outside, while it is frozen)
    assert transition(JobState.SUSPENDED, event) is after


def test_a_suspended_job_whose_node_died_is_requeued_and_gives_its_share_back(tmp_path):
    state = make_state(tmp_path)
    victim = running(state, 8, "n1")
    preempt(state, preemptor := pending(state, 8), [victim], ("n1",), now=5.0)
    with state.lock:
        state.commit([lifecycle.requeue_after_failure(victim, state.nodes, 6.0, "node n1 died")])
        state.commit([lifecycle.requeue_after_failure(preemptor, state.nodes, 6.0, "node n1 died")])
    assert (victim.state, preemptor.state) == (JobState.PENDING, JobState.PENDING)
    assert state.nodes.get("n1").allocated == Resources() and not state.nodes.suspensions
    with state.lock:
        assert suspension.resume_owed(state, now=7.0) == []   # (nothing left to resume)
