"""A job's missing output directories are made by its user before it starts (tools such as submitit
make a job's log directory just after sbatch returns, and JEM starts jobs within milliseconds), and
only where that user may make them: never by the agent's root."""

import os
import shutil
import stat
import tempfile

import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for_state

ENDED = {"COMPLETED", "FAILED", "CANCELLED"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("outdirs")), n_nodes=1)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def test_missing_directories_of_stdout_and_stderr_are_made(cluster, tmp_path):
    out = tmp_path / "logs" / "%j" / "out.txt"
    err = tmp_path / "errs" / "deeper" / "err.txt"
    done = slurm(cluster, "sbatch", "--parsable", "-o", str(out), "-e", str(err), "--wrap", "echo hi; echo oops >&2")
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert wait_for_state(cluster, job_id, ENDED) == "COMPLETED"
    assert (tmp_path / "logs" / job_id / "out.txt").read_text() == "hi\n"
    assert err.read_text() == "oops\n"


def test_a_user_makes_them_only_where_that_user_may(cluster, other_user):
    python = python_for_others()
    probe = python and as_user(cluster, other_user, "squeue", python=python)
    if not probe or probe.returncode != 0:
        pytest.skip(f"no Python this checkout runs under that another user may run: {probe and probe.stderr}")
    locked = tempfile.mkdtemp(prefix="jem-outdirs-")   # (root's, in /tmp: the user may look in, not write)
    os.chmod(locked, 0o755)
    try:
        check_only_where_the_user_may(cluster, other_user, python, locked)
    finally:
        shutil.rmtree(locked)


def check_only_where_the_user_may(cluster, other_user, python: str, locked: str) -> None:
    home = other_user.pw_dir
    submitted = [as_user(cluster, other_user, "sbatch", "--parsable", "-o", path, "--wrap", "echo mine",
                         python=python)
                 for path in (f"{home}/runs/a/out.txt", f"{locked}/new/out.txt")]
    assert [s.returncode for s in submitted] == [0, 0], [s.stderr for s in submitted]
    allowed, refused = (s.stdout.strip() for s in submitted)
    assert wait_for_state(cluster, allowed, ENDED) == "COMPLETED"
    made = os.stat(f"{home}/runs/a")
    assert (made.st_uid, stat.S_ISDIR(made.st_mode)) == (other_user.pw_uid, True)
    assert open(f"{home}/runs/a/out.txt").read() == "mine\n"
    assert wait_for_state(cluster, refused, ENDED) == "FAILED"
    assert not os.path.exists(f"{locked}/new")
