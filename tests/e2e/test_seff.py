"""seff against a `jem up` cluster: the lines of Slurm's contributed seff 2.1 for an ended, a failed
and a pending job, its exit codes (2 for an unknown job, 1 for -h and -v), and figures that come
from the job's measured usage."""

import re

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for_state

ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("seff")), n_nodes=1)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def submit(cluster, *argv: str) -> str:
    done = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", *argv)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def seff(cluster, *argv: str):
    return slurm(cluster, "seff", *argv)


def test_an_ended_job_shows_its_cpu_and_memory_against_what_it_was_given(cluster):
    # Two seconds of one busy core on 2 CPUs: about 50% CPU efficiency.
    job_id = submit(cluster, "-c", "2", "--mem=100M",
                    "--wrap", "timeout 2 sh -c 'while :; do :; done'; exit 0")
    assert wait_for_state(cluster, job_id, ENDED) == "COMPLETED"
    done = seff(cluster, job_id)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Job ID: {job_id}"
    assert re.fullmatch(r"Cluster: \S+", lines[1])
    assert re.fullmatch(r"User/Group: root/root", lines[2])
    assert lines[3:6] == ["State: COMPLETED (exit code 0)", "Nodes: 1", "Cores per node: 2"]
    cpu = re.fullmatch(r"CPU Utilized: 00:00:(\d\d)", lines[6])
    assert cpu and int(cpu[1]) >= 1   # (measured: the busy loop's second or more)
    efficiency = re.fullmatch(r"CPU Efficiency: (\d+\.\d\d)% of 00:00:(\d\d) core-walltime", lines[7])
    wall = re.fullmatch(r"Job Wall-clock time: 00:00:(\d\d)", lines[8])
    assert efficiency and wall and int(efficiency[2]) == 2 * int(wall[1])
    assert float(efficiency[1]) == pytest.approx(100 * int(cpu[1]) / int(efficiency[2]), abs=0.01)
    assert re.fullmatch(r"Memory Utilized: \d+\.\d\d [KMG]B", lines[9])
    assert re.fullmatch(r"Memory Efficiency: \d+\.\d\d% of 100\.00 MB \(100\.00 MB/node\)", lines[10])
    assert len(lines) == 11


def test_a_single_core_job_with_memory_per_cpu_and_a_failing_exit(cluster):
    job_id = submit(cluster, "--mem-per-cpu=50M", "--wrap", "exit 3")
    assert wait_for_state(cluster, job_id, ENDED) == "FAILED"
    lines = seff(cluster, job_id).stdout.splitlines()
    assert lines[3:5] == ["State: FAILED (exit code 3)", "Cores: 1"]
    assert lines[-1].endswith("of 50.00 MB (50.00 MB/core)")


def test_a_pending_job_has_no_figures(cluster):
    job_id = submit(cluster, "-H", "--wrap", "true")
    try:
        done = seff(cluster, job_id)
        assert done.returncode == 0
        assert done.stdout.splitlines()[3:] == ["State: PENDING", "Cores: 1",
                                                "Efficiency not available for jobs in the PENDING state."]
    finally:
        slurm(cluster, "scancel", job_id)


def test_unknown_jobs_help_and_version_exit_as_seff_does(cluster):
    unknown = seff(cluster, "999999")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (2, "", "Job not found.\n")
    for argv in ([], ["-h"], ["1", "2"]):
        usage = seff(cluster, *argv)
        assert usage.returncode == 1 and usage.stdout.startswith("Usage: seff [Options] <Jobid>\n")
    version = seff(cluster, "-v")
    assert (version.returncode, version.stdout) == (1, "seff Version 2.1\n")
