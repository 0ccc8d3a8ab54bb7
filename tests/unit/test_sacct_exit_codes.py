"""sacct's State, ExitCode and DerivedExitCode for every way a job ends, as Slurm 22.05 records them,
and its field list (--helpformat, --long) and --json exit codes.

Checked against the real Slurm 22.05: a cancelled or timed-out job's allocation `0:0` (slurmctld
ended it before the script's status came) and its batch step `CANCELLED 0:15`; a script killed by
a signal `FAILED 0:9` with its batch step CANCELLED; OUT_OF_MEMORY `0:125` on both rows;
DerivedExitCode the highest of the srun steps' statuses (`5:0` over `0:9`), `0:0` with none.
"""

import pytest

from jem.model.job import ALLOCATION_SCRIPT, Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.model.step import Step
from jem_slurm import sacct, sacct_fields
from jem_slurm.sacct_records import Record

NOW = 1_800_000_000.0


def _job(state: JobState, *, exit_code: int = 0, exit_signal: int = 0, has_run: bool = True,
         script: str = "#!/bin/sh\n") -> Job:
    spec = JobSpec(script=script, name="w", partition="debug", working_dir="/tmp")
    started = dict(start_time=NOW - 60, nodes=("n1",)) if has_run else {}
    return Job(job_id=5, spec=spec, user="ann", uid=1000, gid=1000, submit_time=NOW - 100,
               shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=600, state=state, end_time=NOW - 1,
               exit_code=exit_code, exit_signal=exit_signal, **started)


def _step(step_id: int, *, exit_code: int = 0, exit_signal: int = 0, state=JobState.COMPLETED, ends_job=False):
    return Step(5, step_id, "sh", ("n1",), 1, 1, NOW - 50, end_time=NOW - 40, state=state, exit_code=exit_code,
                exit_signal=exit_signal, ends_job=ends_job)


def _table(job: Job, steps=(), fields="JobID,State,ExitCode,DerivedExitCode") -> list[list[str]]:
    getters = sacct_fields.getters("c")
    rows = sacct_fields.rows_for(job, NOW, with_steps=True, steps=steps, has_batch=not job.is_allocation)
    return [[getters[name](row) for name in fields.split(",")] for row in rows]


@pytest.mark.parametrize("job, expected", [
    (_job(JobState.COMPLETED), [["5", "COMPLETED", "0:0", "0:0"], ["5.batch", "COMPLETED", "0:0", ""]]),
    (_job(JobState.FAILED, exit_code=3), [["5", "FAILED", "3:0", "0:0"], ["5.batch", "FAILED", "3:0", ""]]),
    (_job(JobState.FAILED, exit_signal=9), [["5", "FAILED", "0:9", "0:0"], ["5.batch", "CANCELLED", "0:9", ""]]),
    (_job(JobState.CANCELLED, exit_signal=15),
     [["5", "CANCELLED by 1000", "0:0", "0:0"], ["5.batch", "CANCELLED", "0:15", ""]]),
    (_job(JobState.TIMEOUT, exit_signal=15), [["5", "TIMEOUT", "0:0", "0:0"], ["5.batch", "CANCELLED", "0:15", ""]]),
    (_job(JobState.OUT_OF_MEMORY, exit_code=137),
     [["5", "OUT_OF_MEMORY", "0:125", "0:0"], ["5.batch", "OUT_OF_MEMORY", "0:125", ""]]),
    (_job(JobState.CANCELLED, has_run=False), [["5", "CANCELLED by 1000", "0:0", "0:0"]]),
])
def test_each_end_shows_slurms_states_and_exit_codes(job, expected):
    assert _table(job) == expected


def test_derived_exit_code_is_the_highest_srun_step_not_the_batch_script():
    steps = [_step(0, exit_code=5, state=JobState.FAILED), _step(1, exit_signal=9, state=JobState.CANCELLED)]
    assert _table(_job(JobState.COMPLETED), steps) == [
        ["5", "COMPLETED", "0:0", "5:0"], ["5.batch", "COMPLETED", "0:0", ""],
        ["5.0", "FAILED", "5:0", ""], ["5.1", "CANCELLED", "0:9", ""]]
    assert _table(_job(JobState.FAILED, exit_code=2), [_step(0, exit_signal=9, state=JobState.CANCELLED)])[0] == [
        "5", "FAILED", "2:0", "0:9"]


def test_a_job_made_by_srun_keeps_the_code_srun_gave_it():
    step = _step(0, exit_signal=15, state=JobState.CANCELLED, ends_job=True)
    assert _table(_job(JobState.CANCELLED, exit_signal=15, script=ALLOCATION_SCRIPT), [step]) == [
        ["5", "CANCELLED by 1000", "0:15", "0:15"], ["5.0", "CANCELLED", "0:15", ""]]


def test_helpformat_lists_slurms_fields_four_to_a_line():
    lines = sacct_fields.help_lines()
    assert lines[0] == "Account             AdminComment        AllocCPUS           AllocNodes         "
    assert lines[-1] == "WorkDir            " and len(sacct_fields.HELP_NAMES) == 109
    assert "Restarts" not in sacct_fields.HELP_NAMES and "Restarts" in sacct_fields.FIELDS  # JEM's own


def test_every_field_of_the_long_and_brief_formats_is_known_and_prints():
    getters = sacct_fields.getters("c")
    rows = sacct_fields.rows_for(_job(JobState.COMPLETED), NOW, with_steps=True, steps=[_step(0)])
    for fmt in (sacct_fields.LONG_FORMAT, sacct_fields.BRIEF_FORMAT, sacct_fields.DEFAULT_FORMAT,
                ",".join(sacct_fields.HELP_NAMES)):
        for name, _, _ in sacct._columns(fmt):
            assert all(isinstance(getters[name](row), str) for row in rows)
    assert [width for _, width, _ in sacct._columns("DerivedExitCode,Reason,DBIndex")] == [15, 22, 10]
    assert [is_left for _, _, is_left in sacct._columns("JobID,DBIndex,State")] == [True, True, False]


@pytest.mark.parametrize("status, expected", [
    (0, {"status": "SUCCESS", "return_code": 0}),
    (3 << 8, {"status": "ERROR", "return_code": 3}),
    (15, {"status": "SIGNALED", "return_code": None, "signal": {"signal_id": 15, "name": "Terminated"}}),
    (253, {"status": "SIGNALED", "return_code": None, "signal": {"signal_id": 125, "name": "Unknown signal 125"}}),
])
def test_json_exit_codes_are_slurms_objects(status, expected):
    assert sacct._exit_json(status) == expected


def test_json_job_and_steps_follow_the_dbv0_0_38_layout():
    steps = [_step(0, exit_code=5, state=JobState.FAILED)]
    job = sacct._job_json(Record(_job(JobState.CANCELLED, exit_signal=15), tuple(steps)), NOW, cluster="c",
                          with_steps=True)
    assert list(job) == ["account", "comment", "allocation_nodes", "array", "association", "cluster", "constraints",
                         "container", "derived_exit_code", "time", "exit_code", "flags", "group", "het", "job_id",
                         "name", "mcs", "nodes", "partition", "priority", "qos", "required", "kill_request_user",
                         "reservation", "state", "steps", "tres", "user", "wckey", "working_directory"]
    assert (job["exit_code"], job["derived_exit_code"]) == ({"status": "SUCCESS", "return_code": 0},
                                                            {"status": "ERROR", "return_code": 5})
    assert [s["step"]["id"] for s in job["steps"]] == ["batch", 0]
    assert job["steps"][0]["state"] == "CANCELLED" and job["kill_request_user"] == "ann"
    assert [t["type"] for t in job["tres"]["allocated"]] == ["cpu", "mem", "energy", "node", "billing"]
    completed = Record(_job(JobState.COMPLETED), tuple(steps))
    assert sacct._job_json(completed, NOW, cluster="c", with_steps=False)["steps"] == []
