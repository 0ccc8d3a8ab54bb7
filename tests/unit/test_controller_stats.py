"""The controller's counters (jem.controller.stats) with a fake clock: jobs counted by the events
committed, RPCs counted when they begin and timed when they end, the job and cycle counters
started afresh at midnight UTC while the RPC counters last, and a reset of all of them."""

from jem.controller.stats import DAY_S, ControllerStats
from jem.controller.watch import EventBus
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshot(stats: ControllerStats):
    return stats.snapshot(jobs_pending=0, jobs_running=0, agent_calls_in_flight=0)


def a_job() -> Job:
    return Job(job_id=1, spec=JobSpec(script="#!/bin/sh\n"), user="ann", uid=1000, gid=1000, submit_time=0.0,
               shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=60)


def test_job_events_published_on_the_bus_are_counted_by_kind():
    stats, bus = ControllerStats(clock=Clock(10 * DAY_S + 5)), EventBus()
    bus.observe(stats.job_event)
    for event in ("submit", "submit", "start", "complete", "cancel", "timeout", "oom", "requeue", "hold"):
        bus.publish(1, 0.0, event, a_job())
    d = snapshot(stats)
    assert (d.jobs_submitted, d.jobs_started, d.jobs_completed, d.jobs_canceled, d.jobs_failed) == (2, 1, 1, 1, 2)


def test_a_call_is_counted_when_it_begins_and_timed_when_it_ends():
    stats = ControllerStats(clock=Clock(10 * DAY_S + 5))
    stats.rpc_started("SubmitJob", "ann", 1000)
    d = snapshot(stats)
    assert d.rpcs_in_flight == 1
    assert [(r.name, r.count, r.total_us) for r in d.by_method] == [("SubmitJob", 1, 0)]
    stats.rpc_ended("SubmitJob", "ann", 1000, 250)
    stats.rpc_started("SubmitJob", "ann", 1000)
    stats.rpc_ended("SubmitJob", "ann", 1000, 350)
    d = snapshot(stats)
    assert d.rpcs_in_flight == 0
    assert [(r.name, r.id, r.count, r.total_us, r.average_us) for r in d.by_user] == [("ann", 1000, 2, 600, 300)]
    assert d.by_method[0].id > 1000


def test_midnight_utc_starts_the_job_and_cycle_counters_afresh_but_not_the_rpc_counters():
    clock = Clock(10 * DAY_S + 3600)
    stats = ControllerStats(clock=clock)
    stats.job_event("submit")
    stats.cycle(elapsed_us=900, depth=2, queue_len=5, n_nodes=4, n_backfilled=1)
    stats.rpc_started("ListJobs", "root", 0)
    stats.rpc_ended("ListJobs", "root", 0, 10)
    clock.now = 11 * DAY_S + 60   # the next day
    d = snapshot(stats)
    assert d.since == 11 * DAY_S
    assert (d.jobs_submitted, d.cycles.count, d.backfilled_since_reset) == (0, 0, 0)
    assert d.backfilled_since_start == 1
    assert [(r.name, r.count) for r in d.by_method] == [("ListJobs", 1)]


def test_a_reset_starts_everything_afresh_but_the_jobs_backfilled_since_the_start():
    clock = Clock(10 * DAY_S + 3600)
    stats = ControllerStats(clock=clock)
    stats.job_event("start")
    stats.cycle(elapsed_us=900, depth=2, queue_len=5, n_nodes=4, n_backfilled=3)
    stats.rpc_started("ListJobs", "root", 0)
    clock.now += 10
    stats.reset()
    stats.rpc_ended("ListJobs", "root", 0, 10)   # (a call served across the reset: not counted again)
    d = snapshot(stats)
    assert d.since == clock.now and d.jobs_started == 0 and d.cycles.count == 0
    assert (d.by_method, d.by_user, d.rpcs_in_flight) == ((), (), 0)
    assert (d.backfilled_since_start, d.backfilled_since_reset) == (3, 0)
