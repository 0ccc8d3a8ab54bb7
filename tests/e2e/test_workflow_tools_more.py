"""More workflow tools built for Slurm, installed from PyPI, driving a `jem up` cluster unmodified:
dask-jobqueue (SLURMCluster: worker jobs through sbatch, ended by scancel) and psij-python (its Slurm
executor: sbatch, `squeue -O JobArrayID,StateCompact,Reason -t all --me` polling, `scancel -Q`)."""

import os
import subprocess
import sys
from datetime import timedelta

import psij
import pytest
from dask_jobqueue import SLURMCluster
from distributed import Client
from psij.executors.batch.slurm import SlurmExecutorConfig
from slurm_cluster import start_cluster, stop_cluster, wait_for

ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("tools-more")), n_nodes=2)
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


def _states(job_ids) -> dict[str, str]:
    """Job id -> state, from `squeue -t all` as the tools' user sees it."""
    out = subprocess.run(["squeue", "-t", "all", "-h", "-j", ",".join(job_ids), "-o", "%i %T"],
                         capture_output=True, text=True, timeout=60).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


# ---------------------------------------------------------------- dask-jobqueue

def test_dask_jobqueue_runs_workers_as_jobs_and_cancels_them(slurm_env, tmp_path):
    # Workers connect back to the scheduler over TCP: both on the loopback interface; the worker
    # job runs this interpreter so that it imports distributed; the dashboard on any free port.
    cluster = SLURMCluster(cores=1, processes=1, memory="1GiB", walltime="00:05:00", queue="debug",
                           job_name="dask-worker", python=sys.executable, interface="lo",
                           log_directory=str(tmp_path / "logs"), local_directory=str(tmp_path / "local"),
                           scheduler_options={"dashboard_address": ":0"})
    try:
        assert "#SBATCH -t 00:05:00" in cluster.job_script()
        cluster.scale(jobs=2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            squares = client.map(lambda x: x * x, range(100))
            assert client.submit(sum, squares).result(timeout=60) == sum(x * x for x in range(100))

            job_ids = sorted(job.job_id for job in cluster.workers.values())
            assert len(job_ids) == 2 and all(job_id.isdigit() for job_id in job_ids)
            # Every worker runs inside one of those jobs, and squeue shows them running.
            in_jobs = client.run(lambda: os.environ.get("SLURM_JOB_ID"))
            assert sorted(in_jobs.values()) == job_ids
            assert _states(job_ids) == {job_id: "RUNNING" for job_id in job_ids}
            names = subprocess.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%j"], capture_output=True,
                                   text=True, timeout=60).stdout.split()
            assert names == ["dask-worker", "dask-worker"]
    finally:
        cluster.close()
    # close() scancels the worker jobs (a worker told to close by its scheduler may end first).
    states = wait_for(lambda: (s := _states(job_ids)) and set(s.values()) <= {"CANCELLED", "COMPLETED"} and s,
                      timeout_s=60, what="dask's worker jobs to end")
    assert set(states) == set(job_ids)
    sacct = subprocess.run(["sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", "JobID,JobName"],
                           capture_output=True, text=True, timeout=60).stdout.split()
    assert sorted(sacct) == [f"{job_id}|dask-worker" for job_id in job_ids]


# ---------------------------------------------------------------- psij-python

@pytest.fixture
def executor(slurm_env, tmp_path):
    config = SlurmExecutorConfig(work_directory=tmp_path / "psij", queue_polling_interval=1,
                                 initial_queue_polling_delay=1)
    return psij.JobExecutor.get_instance("slurm", config=config)


def _job(tmp_path, command: str) -> psij.Job:
    spec = psij.JobSpec(executable="/bin/bash", arguments=["-c", command], directory=tmp_path,
                        stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt",
                        attributes=psij.JobAttributes(duration=timedelta(minutes=5)))
    return psij.Job(spec)


def test_psij_job_completes(executor, tmp_path):
    job = _job(tmp_path, 'echo "hello from $SLURM_JOB_ID"')
    executor.submit(job)
    assert job.native_id.isdigit()
    status = job.wait(timeout=timedelta(seconds=90))
    assert status is not None and status.state == psij.JobState.COMPLETED, status
    assert status.exit_code == 0
    assert (tmp_path / "out.txt").read_text() == f"hello from {job.native_id}\n"
    assert job.native_id in executor.list()     # squeue --me -o %i -h -r -t all


def test_psij_failing_job_is_failed_with_its_exit_code(executor, tmp_path):
    job = _job(tmp_path, "echo oops >&2; exit 3")
    executor.submit(job)
    status = job.wait(timeout=timedelta(seconds=90))
    assert status is not None and status.state == psij.JobState.FAILED, status
    assert status.exit_code == 3


def test_psij_cancel_cancels(executor, tmp_path):
    job = _job(tmp_path, "sleep 120")
    executor.submit(job)
    assert job.wait(timeout=timedelta(seconds=60), target_states=[psij.JobState.ACTIVE]) is not None
    job.cancel()                                # scancel -Q
    status = job.wait(timeout=timedelta(seconds=60))
    assert status is not None and status.state == psij.JobState.CANCELED, status
    assert _states([job.native_id]) == {job.native_id: "CANCELLED"}
