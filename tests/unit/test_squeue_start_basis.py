"""How squeue and `scontrol show job` show a waiting job's planned start and its basis: a
reservation's held nodes in SCHEDNODES / SchedNodeList=, an estimate's `(null)` and no key (it
holds nothing), and the basis in JEM's own -O StartBasis and StartBasis=."""

import pytest

from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobState
from jem_slurm import jobview, layout, scontrol_show, squeue, squeue_fields

T_START = 1_800_000_000.0
LIMIT_S = 300


def _job(**fields) -> Job:
    base = dict(job_id=7, spec=JobSpec(script="#!/bin/sh\n", name="w", partition="debug", working_dir="/tmp"),
                user="ann", uid=1000, gid=1000, submit_time=T_START - 60, shape=JobShape(3, 3, Resources(1, 100, 0)),
                time_limit_s=LIMIT_S, state=JobState.PENDING)
    base.update(fields)
    return Job(**base)


RESERVED = _job(planned_start=T_START, planned_nodes=("n3", "n1", "n2"))
ESTIMATED = _job(planned_start=T_START, planned_nodes=("n1", "n2", "n4"), planned_start_is_estimate=True)
FORECAST = _job(planned_start=T_START, planned_start_is_estimate=True, planned_start_is_forecast=True)
UNPLANNED = _job()
# Planned fields left on a job that has started mean nothing (Slurm: SCHEDNODES (null)).
STARTED = _job(state=JobState.RUNNING, start_time=T_START - 5, nodes=("n1", "n2", "n3"), planned_start=T_START,
               planned_nodes=("n1", "n2", "n3"))


def _cells(job: Job, fields: str) -> list[str]:
    parts, _ = squeue._long_format(fields)
    return layout.lines(parts, squeue_fields.COLUMNS, [job], 0.0)[0].split()


@pytest.mark.parametrize("job, sched_nodes, basis, start, end", [
    (RESERVED, "n[1-3]", "RESERVATION", jobview.iso(T_START), jobview.iso(T_START + LIMIT_S)),
    (ESTIMATED, "(null)", "ESTIMATE", jobview.iso(T_START), jobview.iso(T_START + LIMIT_S)),
    (FORECAST, "(null)", "FORECAST", jobview.iso(T_START), jobview.iso(T_START + LIMIT_S)),
    (UNPLANNED, "(null)", "N/A", "N/A", "N/A"),
    (STARTED, "(null)", "N/A", jobview.iso(T_START - 5), jobview.iso(T_START - 5 + LIMIT_S)),
])
def test_squeue_shows_held_nodes_for_a_reservation_only(job, sched_nodes, basis, start, end):
    assert _cells(job, "SchedNodes,StartBasis,StartTime,EndTime") == [sched_nodes, basis, start, end]
    assert squeue_fields.value("Y", job, 0.0) == sched_nodes   # %Y is -O SchedNodes


def test_start_columns_keep_slurms_shape():
    parts = layout.parse_format(squeue.START_FORMAT)
    headers = {p.letter: squeue_fields.FIELDS[p.letter][0] for p in parts if isinstance(p, layout.Field)}
    assert layout.render(parts, headers).split() == ["JOBID", "PARTITION", "NAME", "USER", "ST", "START_TIME",
                                                     "NODES", "SCHEDNODES", "NODELIST(REASON)"]
    line = layout.lines(parts, squeue_fields.COLUMNS, [RESERVED], 0.0)[0]
    assert line == f"{7:>18} {'debug':>9} {'w':>8} {'ann':>8} PD {jobview.iso(T_START):>19} {3:>6} " \
                   f"{'n[1-3]':<20} (None)"


def _record(job: Job) -> dict[str, str]:
    pairs = scontrol_show.job_record(job, 0.0, is_one_line=True).split(" ")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def test_scontrol_shows_a_reservation_with_its_sched_nodes_and_basis():
    record = _record(RESERVED)
    assert (record["StartTime"], record["EndTime"]) == (jobview.iso(T_START), jobview.iso(T_START + LIMIT_S))
    assert (record["NodeList"], record["SchedNodeList"], record["StartBasis"]) == ("(null)", "n[1-3]", "RESERVATION")


def test_scontrol_shows_an_estimate_without_sched_nodes():
    record = _record(ESTIMATED)
    assert (record["StartTime"], record["StartBasis"]) == (jobview.iso(T_START), "ESTIMATE")
    assert "SchedNodeList" not in record


@pytest.mark.parametrize("job", [UNPLANNED, STARTED])
def test_scontrol_shows_no_basis_without_a_planned_start(job):
    record = _record(job)
    assert "SchedNodeList" not in record and "StartBasis" not in record
    assert record["StartTime"] == ("Unknown" if job is UNPLANNED else jobview.iso(T_START - 5))


def test_the_keys_stay_on_slurms_lines():
    text = scontrol_show.job_record(RESERVED, 0.0)
    lines = [line.strip() for line in text.splitlines()]
    assert f"StartTime={jobview.iso(T_START)} EndTime={jobview.iso(T_START + LIMIT_S)} Deadline=N/A " \
           "StartBasis=RESERVATION" in lines
    assert "NodeList=(null) SchedNodeList=n[1-3]" in lines


def test_squeue_json_names_the_cluster_and_the_planned_end():
    row = squeue_fields.job_as_json(RESERVED, 0.0, cluster_name="lab")
    assert (row["cluster"], row["start_time"], row["end_time"]) == ("lab", int(T_START), int(T_START + LIMIT_S))
