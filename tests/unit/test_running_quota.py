"""The running-job quota's forecast: when a job it holds may start, its user's running jobs ending
by their time limits."""

from jem.controller.fairuse import RunningQuota
from jem.model.job import Job, JobShape, JobSpec
from jem.model.limits import InputLimits
from jem.model.resources import Resources
from jem.model.states import JobState


def job(job_id, *, start=None, limit=600, user="ann") -> Job:
    return Job(job_id=job_id, spec=JobSpec(script="#!/bin/sh\n", partition="p", account="a"), user=user, uid=1000,
               gid=1000, submit_time=0.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=limit,
               state=JobState.RUNNING if start is not None else JobState.PENDING, start_time=start)


def test_each_held_job_is_forecast_when_enough_of_its_users_running_jobs_end():
    """A limit of 2 running jobs per user; ann runs jobs ending at 600 and 1,100: her first held job
    may start at 600, her second at 1,100, her third only after jobs not started yet (none)."""
    quota = RunningQuota([job(1, start=0), job(2, start=500)], InputLimits(max_running_jobs_per_user=2), set())
    waiting = job(3)
    assert not quota.allows(waiting)
    assert [quota.freed_at(waiting, ahead=k) for k in range(3)] == [600, 1100, None]
    unlimited = RunningQuota([job(1, start=0, limit=None), job(2, start=0)], InputLimits(max_running_jobs_per_user=2),
                             set())
    assert unlimited.freed_at(waiting) == 600 and unlimited.freed_at(waiting, ahead=1) is None
    other = job(4, user="bob")
    assert quota.allows(other) and quota.freed_at(other) == 0.0
