"""When the scheduling loop forecasts the jobs beyond its exact estimates: every FORECAST_EVERY_S,
and at once when a node comes up (a forecast made while agents are still registering would
otherwise stand for that long). A real controller state over a SQLite store, a fake clock; the
loop's cycles are run one by one."""

from jem.controller import lifecycle
from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.loop import FORECAST_EVERY_S, SchedulingLoop
from jem.controller.nodes import NodeTable
from jem.controller.state import ClusterState
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.config import parse_config
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.scheduler.fairshare import Usage
from jem.store import SqliteStore

CONFIG = parse_config({"nodes": [{"names": "n[1-3]", "cpus": 4, "mem_mib": 4000}],
                       "partitions": [{"name": "p", "nodes": "ALL"}],
                       "scheduler": {"estimate_depth": 1}})


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_state(tmp_path) -> ClusterState:
    store = SqliteStore(str(tmp_path / "jem.db"))
    bus = EventBus()
    return ClusterState(
        config=CONFIG, store=store, jobs=JobTable(store, bus), nodes=NodeTable(CONFIG, store), bus=bus,
        agents=AgentLinks(ControllerKeys(str(tmp_path / "security"), with_authd_key=False)),
        steps=StepTable(store.next_step_id), usage=Usage(half_life_s=3600),
        submit_rate=SubmitRate(burst=100, per_s=100), streams=StreamSlots(per_user=10, total=10))


def register(state: ClusterState, name: str, now: float) -> None:
    with state.lock:
        state.nodes.register(name, address="127.0.0.1:9", capacity=Resources(4, 4000, 0), boot_id="boot",
                             cgroup_mode="none", now=now)


def add_job(state: ClusterState, limit_s: int, now: float) -> Job:
    job = Job(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p", exclusive=True), user="ann", uid=1000,
              gid=1000, submit_time=now, shape=JobShape(1, 1, Resources(4, 400, 0)), time_limit_s=limit_s)
    with state.lock:
        state.jobs.add(job, now=now)
    return job


def test_forecasts_stand_between_periods_and_are_made_again_at_once_when_a_node_comes_up(tmp_path):
    state = make_state(tmp_path)
    clock = Clock(1000.0)
    for name in ("n1", "n2"):
        register(state, name, clock.now)
    holders = [add_job(state, 3600, clock.now) for _ in range(2)]
    with state.lock:
        state.commit([lifecycle.start_job(job, (node,), state.nodes, clock.now)
                      for job, node in zip(holders, ("n1", "n2"))])
    waiting = [add_job(state, 600, clock.now) for _ in range(5)]
    scheduler = SchedulingLoop(state, usage_path=str(tmp_path / "usage.json"), clock=clock)

    scheduler.run_cycle()
    reserved, estimated, *forecast = waiting   # (EASY's reservation, one exact estimate, forecasts)
    assert reserved.planned_start is not None and not reserved.planned_start_is_estimate
    assert estimated.planned_start_is_estimate and not estimated.planned_start_is_forecast
    assert all(job.planned_start_is_forecast for job in forecast)
    first = [job.planned_start for job in forecast]
    assert min(first) >= estimated.planned_start >= clock.now + 3600 - 1   # (after the holders end)

    # Within the period, nothing new: the forecasts stand, not recomputed (their kind kept too).
    clock.now += FORECAST_EVERY_S / 3
    scheduler.run_cycle()
    assert [job.planned_start for job in forecast] == first
    assert all(job.planned_start_is_forecast for job in forecast)

    # A third node comes up, still within the period: the forecasts are made again at once, and
    # the reserved job starts on it, each job moves up one place, and those still forecast are
    # forecast earlier (n3 frees an hour before the others).
    register(state, "n3", clock.now)
    clock.now += 1
    decisions = scheduler.run_cycle()
    assert {start.job_id for start in decisions.starts} == {reserved.job_id}
    still_forecast = forecast[1:]
    assert set(decisions.forecast) == {job.job_id for job in still_forecast}
    assert all(job.planned_start_is_forecast for job in still_forecast)
    assert all(job.planned_start < before for job, before in zip(still_forecast, first[1:]))
