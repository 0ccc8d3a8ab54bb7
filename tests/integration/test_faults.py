"""Faults the controller must ride out without losing or inventing a job: its store's disk
filling up (a real, small tmpfs under the state directory), and being killed again and
again while jobs flow."""

import errno
import os
import random
import signal
import subprocess
import time

import pytest

from harness import wait_until
from jem.model.errors import StoreUnavailable
from jem.model.states import JobState

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs (needs root)")


@pytest.fixture
def small_disk_cluster(make_cluster):
    cluster = make_cluster()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", cluster.state_dir], check=True)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        subprocess.run(["umount", "-l", cluster.state_dir], check=False)


def _fill(directory: str) -> str:
    """Write a file until the disk under `directory` is full, to the last page; returns its path."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return path


def test_a_full_disk_refuses_work_clearly_loses_nothing_and_service_resumes(small_disk_cluster):
    cluster = small_disk_cluster
    with cluster.client() as root:
        running = root.submit(cluster.spec("#!/bin/sh\nsleep 3\n"))
        cluster.wait_job(root, running, states={JobState.RUNNING})
        filler = _fill(cluster.state_dir)
        with pytest.raises(StoreUnavailable, match="nothing was changed"):
            root.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        assert [j.job_id for j in root.list_jobs()] == [running]   # nothing acknowledged that is not stored
        # The job ends while its end cannot be stored: memory stays as the store has it (RUNNING) ...
        wait_until(lambda: "job restored from the store" in cluster.log("controller.log")
                   or "refused a write" in cluster.log("controller.log"), 30, what="a refused end report")
        assert root.get_job(running).state is JobState.RUNNING
        os.unlink(filler)
        # ... and once there is room again, the agent's report is stored and the job ends.
        assert cluster.wait_job(root, running, timeout_s=60).state is JobState.COMPLETED
        after = root.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        assert cluster.wait_job(root, after).state is JobState.COMPLETED
    cluster.stop_process(cluster.controller, signal.SIGKILL)
    cluster.start_controller()
    with cluster.client() as root:   # what memory showed is what the store kept
        jobs = {j.job_id: j.state for j in root.list_jobs(include_old=True)}
        assert jobs == {running: JobState.COMPLETED, after: JobState.COMPLETED}


def test_controller_killed_at_random_moments_loses_no_job_and_runs_none_twice(make_cluster, tmp_path):
    """1,000 jobs flow through while the controller is SIGKILLed and restarted several times:
    every job ends once, in the state its exit code says (each run appends a line to its file)."""
    seed = int(os.environ.get("JEM_CHAOS_SEED", time.time()))
    chance = random.Random(seed)
    cluster = make_cluster(n_nodes=2, cpus=8).start()
    runs = tmp_path / "runs"
    runs.mkdir()
    script = f"#!/bin/sh\necho run >> {runs}/$SLURM_JOB_ID\nsleep 0.$(($SLURM_JOB_ID % 5))\nexit $(($SLURM_JOB_ID % 7 == 0))\n"
    with cluster.client() as root:   # all queued behind a held gate, then let go at once
        gate = root.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        ids = [root.submit(cluster.spec(script, dependency=f"afterok:{gate}")) for _ in range(1000)]
        root.release(gate)
    for _ in range(4):
        time.sleep(chance.uniform(0.5, 4.0))
        cluster.stop_process(cluster.controller, signal.SIGKILL)
        time.sleep(chance.uniform(0.0, 2.0))   # jobs end while it is down; agents keep their reports
        cluster.start_controller()
    with cluster.client() as root:
        def all_ended():
            jobs = [j for j in root.list_jobs(include_old=True) if j.job_id != gate]
            return jobs if len(jobs) == 1000 and all(j.state.is_terminal for j in jobs) else None
        jobs = wait_until(all_ended, 240, interval_s=1.0, what=f"all 1000 jobs ended (seed {seed})")
    assert sorted(j.job_id for j in jobs) == sorted(ids)
    wrong = [(j.job_id, j.state) for j in jobs
             if j.state is not (JobState.FAILED if j.job_id % 7 == 0 else JobState.COMPLETED)]
    assert not wrong, f"seed {seed}: {wrong[:10]}"
    twice = [p.name for p in runs.iterdir() if p.read_text().count("run") != 1]
    assert not twice, f"seed {seed}: jobs that ran more than once: {twice[:10]}"
    assert sorted(int(p.name) for p in runs.iterdir() if p.name != str(gate)) == sorted(ids)
