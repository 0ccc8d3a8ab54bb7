"""squeue's REASON and NODELIST(REASON) for jobs in every state, as Slurm 22.05 shows them.

Slurm's _print_job_reason_list shows the reason (in parentheses) for a pending job and for one
that ended FAILED, TIMEOUT, OUT_OF_MEMORY or DEADLINE; every other job shows its nodes, and one
cancelled while pending shows none. The reasons are Slurm's words: a batch script killed by a
signal is JobLaunchFailure (checked against the real Slurm 22.05: `kill -9 $$` in the script).
"""

import pytest

from jem.model.job import Job, JobShape, JobSpec
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem_slurm import jobview, layout, squeue, squeue_fields

NOW = 1_800_000_000.0


def _job(state: JobState, reason: JobReason = JobReason.NONE, *, has_run: bool = True, **fields) -> Job:
    spec = JobSpec(script="#!/bin/sh\n", name="w", partition="debug", working_dir="/tmp")
    started = dict(start_time=NOW - 60, nodes=("n2",)) if has_run else {}
    ended = dict(end_time=NOW - 1) if state.is_terminal else {}
    return Job(job_id=5, spec=spec, user="ann", uid=1000, gid=1000, submit_time=NOW - 100,
               shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=600, state=state, reason=reason,
               **started, **ended, **fields)


def _cells(job: Job, fmt: str) -> list[str]:
    return layout.lines(layout.parse_format(fmt), squeue_fields.COLUMNS, [job], NOW)[0].split("|")


@pytest.mark.parametrize("job, reason, reason_list", [
    (_job(JobState.PENDING, JobReason.PRIORITY, has_run=False), "Priority", "(Priority)"),
    (_job(JobState.RUNNING), "None", "n2"),
    (_job(JobState.COMPLETING), "None", "n2"),
    (_job(JobState.COMPLETED), "None", "n2"),
    (_job(JobState.CANCELLED), "None", "n2"),
    (_job(JobState.CANCELLED, JobReason.JOB_HELD_USER, has_run=False), "JobHeldUser", ""),
    (_job(JobState.FAILED, JobReason.NON_ZERO_EXIT_CODE, exit_code=3), "NonZeroExitCode", "(NonZeroExitCode)"),
    (_job(JobState.FAILED, JobReason.RAISED_SIGNAL, exit_signal=9), "JobLaunchFailure", "(JobLaunchFailure)"),
    (_job(JobState.FAILED, JobReason.LAUNCH_FAILED, exit_code=1), "JobLaunchFailure", "(JobLaunchFailure)"),
    (_job(JobState.TIMEOUT, JobReason.TIME_LIMIT), "TimeLimit", "(TimeLimit)"),
    (_job(JobState.OUT_OF_MEMORY, JobReason.OUT_OF_MEMORY), "OutOfMemory", "(OutOfMemory)"),
    (_job(JobState.DEADLINE, JobReason.NONE), "None", "(None)"),
    (_job(JobState.NODE_FAIL, JobReason.NODE_DOWN), "NodeDown", "n2"),
    (_job(JobState.NODE_FAIL, JobReason.NODE_FAIL), "NodeDown", "n2"),
    (_job(JobState.PREEMPTED), "None", "n2"),
])
def test_each_state_shows_its_reason_or_its_nodes_as_slurm(job, reason, reason_list):
    assert _cells(job, "%r|%R") == [reason, reason_list]
    parts, _ = squeue._long_format("Reason,ReasonList")
    assert layout.lines(parts, squeue_fields.COLUMNS, [job], NOW)[0].split() == [reason, *reason_list.split()]
    assert squeue_fields.job_as_json(job, NOW, cluster_name="c")["state_reason"] == reason


def test_the_default_format_shows_a_failed_jobs_reason_in_place_of_its_node():
    line = layout.lines(layout.parse_format(squeue.DEFAULT_FORMAT), squeue_fields.COLUMNS,
                        [_job(JobState.FAILED, JobReason.NON_ZERO_EXIT_CODE, exit_code=3)], NOW)[0]
    assert line.split()[-3:] == ["0:59", "1", "(NonZeroExitCode)"]


def test_every_reason_has_a_slurm_name():
    assert set(jobview.REASON_NAMES) == set(JobReason)
    assert jobview.REASON_NAMES[JobReason.REQ_NODE_NOT_AVAIL] == "ReqNodeNotAvail"
    assert "LaunchFailed" not in jobview.REASON_NAMES.values() and "NodeFail" not in jobview.REASON_NAMES.values()
