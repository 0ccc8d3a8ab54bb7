"""Workflow tools built for Slurm, installed from PyPI, driving a `jem up` cluster unmodified:
submitit (sbatch --parsable with #SBATCH directives and arrays, srun inside the job, sacct
polling, scancel) and simple-slurm (a generated script through sbatch)."""

import math
import operator
import subprocess
import time

import pytest
import simple_slurm
import submitit
from slurm_cluster import start_cluster, stop_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("tools")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def slurm_env(cluster, monkeypatch):
    """The tools find the commands on PATH and the cluster through JEM_CONFIG, as a user's shell would."""
    for key in ("PATH", "JEM_CONFIG", "JEM_CONTROLLER", "JEM_STATE_DIR", "JEM_RUNTIME_DIR"):
        if key in cluster["env"]:
            monkeypatch.setenv(key, cluster["env"][key])
    return cluster


def _executor(folder):
    executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    executor.update_parameters(timeout_min=5, slurm_partition="debug", cpus_per_task=1, mem_gb=1)
    return executor


def test_submitit_returns_a_result(slurm_env, tmp_path):
    job = _executor(tmp_path).submit(operator.mul, 6, 7)
    assert job.result() == 42
    deadline = time.monotonic() + 30    # the result is written just before the job ends
    while job.get_info(mode="force").get("State") != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state == "COMPLETED"


def test_submitit_map_array_returns_every_result(slurm_env, tmp_path):
    jobs = _executor(tmp_path).map_array(operator.mul, [1, 2, 3, 4], [10, 20, 30, 40])
    assert len({job.job_id.split("_")[0] for job in jobs}) == 1        # one array
    assert [job.result() for job in jobs] == [10, 40, 90, 160]


def test_submitit_reraises_the_functions_exception(slurm_env, tmp_path):
    job = _executor(tmp_path).submit(math.sqrt, -1.0)
    with pytest.raises(submitit.core.utils.FailedJobError) as info:
        job.result()
    assert "ValueError" in str(info.value) and "math domain error" in str(info.value)


def test_submitit_cancel_cancels(slurm_env, tmp_path):
    job = _executor(tmp_path).submit(time.sleep, 120)
    deadline = time.monotonic() + 30
    while job.state not in ("RUNNING",) and time.monotonic() < deadline:
        time.sleep(0.2)
    job.cancel()
    deadline = time.monotonic() + 30
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state.startswith("CANCELLED")


def test_simple_slurm_submits_a_script_and_waits_for_it(slurm_env, tmp_path):
    out = tmp_path / "simple-%j.out"
    slurm = simple_slurm.Slurm(job_name="simple", output=str(out), time="00:05:00", cpus_per_task=1,
                               chdir=str(tmp_path), wait=True)
    slurm.add_cmd("echo", "hello from", "$SLURM_JOB_ID")
    job_id = slurm.sbatch("exit 0", shell="/bin/bash", verbose=False)   # returns once the job has ended
    assert isinstance(job_id, int) and job_id > 0
    assert open(str(out).replace("%j", str(job_id))).read() == f"hello from {job_id}\n"
    state = subprocess.run(["sacct", "-X", "-n", "-P", "-j", str(job_id), "-o", "State"], capture_output=True,
                           text=True).stdout.strip()
    assert state == "COMPLETED"
