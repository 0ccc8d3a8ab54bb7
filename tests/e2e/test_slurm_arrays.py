"""Job arrays, dependencies and --wait through the Slurm-compatible commands, as scripts use them."""

import os
import time

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("slurm_arrays")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def sbatch(cluster, *args, cwd=None):
    result = slurm(cluster, "sbatch", "--parsable", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_array_directive_pattern_files_and_collapsed_squeue(cluster, tmp_path):
    script = tmp_path / "arr.sh"
    script.write_text("#!/bin/sh\n#SBATCH --array=0-5%2\n#SBATCH -o out-%A_%a.txt\n"
                      "echo task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT\nsleep 1\n")
    array_id = sbatch(cluster, str(script), cwd=str(tmp_path))
    time.sleep(0.5)
    rows = slurm(cluster, "squeue", "-h", "-j", array_id, "-o", "%i %t %r").stdout.split("\n")
    pending = [r for r in rows if r.endswith("JobArrayTaskLimit")]
    assert pending and pending[0].startswith(f"{array_id}_[") and pending[0].split()[0].endswith("%2]")
    expanded = slurm(cluster, "squeue", "-h", "-r", "-j", array_id, "-o", "%i").stdout.split()
    assert all("[" not in r for r in expanded)
    result = slurm(cluster, "sbatch", "--wait", "--wrap", "true", "--dependency", f"afterany:{array_id}")
    assert result.returncode == 0, result.stderr
    for i in range(6):
        assert (tmp_path / f"out-{array_id}_{i}.txt").read_text() == f"task {i} of 6\n"
    ids = slurm(cluster, "sacct", "-X", "-n", "-P", "-j", array_id, "-o", "JobID,State").stdout.split()
    assert ids == [f"{array_id}_{i}|COMPLETED" for i in range(6)]


def test_scancel_of_one_task_and_a_range(cluster):
    array_id = sbatch(cluster, "--array=1-6%1", "--wrap", "sleep 30")
    assert slurm(cluster, "scancel", f"{array_id}_3").returncode == 0
    assert slurm(cluster, "scancel", f"{array_id}_[4-5]").returncode == 0
    states = dict(line.split("|") for line in slurm(
        cluster, "sacct", "-X", "-n", "-P", "-j", array_id, "-o", "JobID,State").stdout.splitlines())
    assert {states[f"{array_id}_{i}"] for i in (3, 4, 5)} == {f"CANCELLED by {os.getuid()}"}
    assert slurm(cluster, "scancel", array_id).returncode == 0
    time.sleep(1)
    assert slurm(cluster, "squeue", "-h", "-j", array_id).stdout.strip() == ""


def test_wait_returns_the_jobs_exit_code(cluster):
    result = slurm(cluster, "sbatch", "--wait", "--wrap", "exit 7")
    assert result.returncode == 7 and result.stdout.startswith("Submitted batch job ")
    result = slurm(cluster, "sbatch", "-W", "--array=0-2", "--wrap", "exit $SLURM_ARRAY_TASK_ID")
    assert result.returncode == 2


def test_dependency_reason_and_errors_in_slurms_words(cluster):
    first = sbatch(cluster, "-H", "--wrap", "true")
    second = sbatch(cluster, f"--dependency=afterok:{first}", "--wrap", "true")
    time.sleep(0.5)
    assert slurm(cluster, "squeue", "-h", "-j", second, "-o", "%r %E").stdout.strip() == \
        f"Dependency afterok:{first}(unfulfilled)"
    slurm(cluster, "scancel", first, second)
    for bad in ("--dependency=afterok:999999", "--dependency=foo:1", "--dependency=afterok"):
        result = slurm(cluster, "sbatch", bad, "--wrap", "true")
        assert (result.returncode, result.stderr) == (
            1, "sbatch: error: Batch job submission failed: Job dependency problem\n"), bad
    for bad in ("--array=abc", "--array=5-3", "--array=-1"):
        result = slurm(cluster, "sbatch", bad, "--wrap", "true")
        assert (result.returncode, result.stderr) == (
            1, "sbatch: error: Batch job submission failed: Invalid job array specification\n"), bad
    assert not os.path.exists(os.path.join(cluster["root"], "slurm-0.out"))


def test_scancel_interactive_asks_before_each_cancel(cluster):
    job = sbatch(cluster, "-H", "-J", "ask", "--wrap", "true")
    result = slurm(cluster, "scancel", "-i", job, stdin="n\n")
    assert result.returncode == 0
    assert result.stdout == f"Cancel job_id={job} name=ask partition=debug [y/n]? "
    assert slurm(cluster, "squeue", "-h", "-j", job, "-o", "%T").stdout.strip() == "PENDING"
    assert slurm(cluster, "scancel", "-i", job, stdin="y\n").returncode == 0
    assert slurm(cluster, "sacct", "-X", "-n", "-P", "-j", job, "-o", "State").stdout.startswith("CANCELLED")


def test_squeue_task_and_qos_filters(cluster):
    array_id = sbatch(cluster, "-H", "--array=1-3", "--wrap", "true")
    rows = slurm(cluster, "squeue", "-h", "-j", f"{array_id}_2", "-o", "%i").stdout.split()
    assert rows == [f"{array_id}_2"]
    assert array_id in slurm(cluster, "squeue", "-h", "-q", "normal", "-o", "%F").stdout.split()
    assert slurm(cluster, "squeue", "-h", "-q", "other", "-o", "%F").stdout.strip() == ""
    slurm(cluster, "scancel", array_id)
