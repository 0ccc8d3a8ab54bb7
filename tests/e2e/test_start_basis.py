"""Planned starts on a real cluster: `squeue --start` in Slurm's columns, the held nodes of a
reservation in SCHEDNODES and SchedNodeList=, an estimate's `(null)`, the basis in -O StartBasis
and StartBasis=, and jobs without a planned start last.

Two nodes, both taken by one running job: the first job waiting behind it holds a reservation
(EASY's depth 1, `jem up`'s policy), the next has an estimate, a held job has no planned start.
"""

import os
import pwd

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for, wait_for_state

ME = pwd.getpwuid(os.getuid()).pw_name
START_HEADER = ("             JOBID PARTITION     NAME     USER ST          START_TIME  NODES SCHEDNODES           "
                "NODELIST(REASON)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("start_basis")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def submit(cluster, *args: str) -> str:
    result = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def jobs(cluster):
    """{"running", "reserved", "estimated", "held"}: job ids, the two waiting ones planned."""
    ids = {"running": submit(cluster, "-N2", "--exclusive", "-t", "10", "--wrap", "sleep 300")}
    wait_for_state(cluster, ids["running"], {"RUNNING"})
    ids["reserved"] = submit(cluster, "-N2", "-t", "5", "-J", "resv", "--wrap", "true")
    ids["estimated"] = submit(cluster, "-N1", "-t", "5", "-J", "est", "--wrap", "true")
    ids["held"] = submit(cluster, "-H", "-N1", "-t", "5", "-J", "held", "--wrap", "true")
    waiting = ",".join(ids[k] for k in ("reserved", "estimated"))
    wait_for(lambda: sorted(slurm(cluster, "squeue", "-h", "-j", waiting, "-O", "StartBasis").stdout.split())
             == ["ESTIMATE", "RESERVATION"], what="planned starts for the waiting jobs")
    try:
        yield ids
    finally:
        slurm(cluster, "scancel", *ids.values())
        for job in ids.values():
            wait_for_state(cluster, job, {"CANCELLED"})


def _fields(cluster, job: str, fields: str) -> list[str]:
    return slurm(cluster, "squeue", "-h", "-j", job, "-O", fields).stdout.split()


def test_start_lists_waiting_jobs_in_slurms_columns_held_nodes_for_a_reservation_only(cluster, jobs):
    result = slurm(cluster, "squeue", "--start")
    assert (result.returncode, result.stderr) == (0, "")
    header, *rows = result.stdout.splitlines()
    assert header == START_HEADER
    start = {k: _fields(cluster, jobs[k], "StartTime")[0] for k in ("reserved", "estimated")}
    assert rows == [  # (the running job is not waiting; the one without a planned start comes last)
        f"{jobs['reserved']:>18}     debug     resv {ME[:8]:>8} PD {start['reserved']}      2 n[1-2]               "
        "(Resources)",
        f"{jobs['estimated']:>18}     debug      est {ME[:8]:>8} PD {start['estimated']}      1 (null)               "
        "(Priority)",
        f"{jobs['held']:>18}     debug     held {ME[:8]:>8} PD                 N/A      1 (null)               "
        "(JobHeldUser)",
    ]


def test_start_basis_and_sched_nodes_fields(cluster, jobs):
    expected = {"running": ["N/A", "(null)"], "reserved": ["RESERVATION", "n[1-2]"],
                "estimated": ["ESTIMATE", "(null)"], "held": ["N/A", "(null)"]}
    for name, job in jobs.items():
        assert _fields(cluster, job, "StartBasis,SchedNodes") == expected[name]
        assert slurm(cluster, "squeue", "-h", "-j", job, "-o", "%Y").stdout == expected[name][1] + "\n"


def _record(cluster, job: str) -> dict[str, str]:
    result = slurm(cluster, "scontrol", "-o", "show", "job", job)
    assert result.returncode == 0, result.stderr
    return dict(pair.split("=", 1) for pair in result.stdout.split() if "=" in pair)


def test_scontrol_shows_the_planned_start_and_what_it_rests_on(cluster, jobs):
    reserved, estimated, held = (_record(cluster, jobs[k]) for k in ("reserved", "estimated", "held"))
    assert reserved["StartTime"] == _fields(cluster, jobs["reserved"], "StartTime")[0]
    assert reserved["EndTime"] == _fields(cluster, jobs["reserved"], "EndTime")[0] != "Unknown"
    assert (reserved["SchedNodeList"], reserved["StartBasis"]) == ("n[1-2]", "RESERVATION")
    assert estimated["StartTime"] != "Unknown" and estimated["StartBasis"] == "ESTIMATE"
    assert "SchedNodeList" not in estimated
    assert held["StartTime"] == "Unknown" and "StartBasis" not in held and "SchedNodeList" not in held


def test_sort_by_start_puts_jobs_without_one_last(cluster, jobs):
    listed = slurm(cluster, "squeue", "-h", "-S", "S", "-o", "%i").stdout.split()
    assert listed == [jobs[k] for k in ("running", "reserved", "estimated", "held")]
