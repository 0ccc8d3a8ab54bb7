"""salloc end to end against a `jem up` cluster: an interactive shell in a real
pseudo-terminal, a command and its exit status, --no-shell, srun inside the
allocation, and a scancel that revokes it; Slurm 22.05's lines on stderr."""

import re
import signal
import subprocess

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for_state

pexpect = pytest.importorskip("pexpect")

ENDED = {"COMPLETED", "FAILED", "CANCELLED"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("salloc")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def spawn(cluster, *argv: str):
    env = cluster["env"] | {"PS1": "PROMPT$ ", "SHELL": "/bin/sh"}
    child = pexpect.spawn(argv[0], list(argv[1:]), env=env, cwd=cluster["root"], timeout=30, encoding="utf-8",
                          dimensions=(30, 100))
    return child


def finish(child) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def granted_job(child) -> str:
    child.expect(r"salloc: Granted job allocation (\d+)")
    return child.match.group(1)


def test_salloc_runs_a_shell_typed_into_and_gives_the_allocation_back(cluster):
    child = spawn(cluster, "salloc", "-N", "1")
    job_id = granted_job(child)
    child.expect_exact("PROMPT$ ")
    child.sendline("echo id=$SLURM_JOB_ID nodes=$SLURM_JOB_NODELIST n=$SLURM_NNODES; exit")
    child.expect(r"id=(\d+) nodes=(n\d) n=1")
    assert child.match.group(1) == job_id
    child.expect_exact(f"salloc: Relinquishing job allocation {job_id}")
    assert finish(child) == 0
    assert wait_for_state(cluster, job_id, ENDED) == "COMPLETED"


def test_salloc_gives_bash_job_control_of_the_terminal(cluster):
    child = spawn(cluster, "salloc", "-N", "1")
    job_id = granted_job(child)
    child.expect_exact("PROMPT$ ")   # (sh's)
    child.sendline("exec bash --norc --noprofile -i")
    child.expect_exact("PROMPT$ ")   # (bash's: PS1 comes from the environment)
    assert "no job control" not in child.before
    child.sendline("echo tpgid=$(ps -o tpgid= -p $$) pgid=$(ps -o pgid= -p $$); exit")
    child.expect(r"tpgid=\s*(\d+) pgid=\s*(\d+)")
    assert child.match.group(1) == child.match.group(2)   # bash is the terminal's foreground group
    child.expect_exact(f"salloc: Relinquishing job allocation {job_id}")
    finish(child)


def test_salloc_runs_a_command_with_slurms_variables_and_passes_its_status_on(cluster, tmp_path):
    result = slurm(cluster, "salloc", "-N", "2", "-n", "3", "-J", "env",
                   "sh", "-c", "env | grep ^SLURM_ | sort; exit 3", cwd=str(tmp_path))
    assert result.returncode == 3
    job_id = re.match(r"salloc: Granted job allocation (\d+)\n", result.stderr).group(1)
    assert result.stderr.endswith(f"salloc: Relinquishing job allocation {job_id}\n")
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert {k: env[k] for k in ("SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NODELIST", "SLURM_NODELIST",
                                "SLURM_JOB_NUM_NODES", "SLURM_NNODES", "SLURM_NTASKS", "SLURM_NPROCS",
                                "SLURM_JOB_NAME", "SLURM_SUBMIT_DIR", "SLURM_TASKS_PER_NODE")} == {
        "SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id, "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_NODELIST": "n[1-2]",
        "SLURM_JOB_NUM_NODES": "2", "SLURM_NNODES": "2", "SLURM_NTASKS": "3", "SLURM_NPROCS": "3",
        "SLURM_JOB_NAME": "env", "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_TASKS_PER_NODE": "2,1"}
    assert env["SLURM_CLUSTER_NAME"] and env["SLURM_CPUS_PER_TASK"] == "1"
    assert wait_for_state(cluster, job_id, ENDED) == "FAILED"
    row = slurm(cluster, "sacct", "-X", "-j", job_id, "-P", "-n", "-o", "State,ExitCode").stdout.split()
    assert row == ["FAILED|3:0"]


def test_srun_inside_salloc_runs_in_its_allocation(cluster):
    result = slurm(cluster, "salloc", "-N", "2", "sh", "-c", "srun -l hostname >/dev/null && srun --jobid "
                   "$SLURM_JOB_ID sh -c 'echo $SLURM_JOB_ID $SLURM_STEP_ID' | sort")
    assert result.returncode == 0, result.stderr
    job_id = re.match(r"salloc: Granted job allocation (\d+)", result.stderr).group(1)
    assert result.stdout.splitlines() == [f"{job_id} 1", f"{job_id} 1"]
    # In sacct, the allocation and the command's two steps, as Slurm shows them: no step of salloc's own.
    assert wait_for_state(cluster, job_id, ENDED) == "COMPLETED"
    rows = slurm(cluster, "sacct", "-j", job_id, "-P", "-n", "-o", "JobID,JobName,State").stdout.splitlines()
    assert rows == [f"{job_id}|interactive|COMPLETED", f"{job_id}.0|hostname|COMPLETED", f"{job_id}.1|sh|COMPLETED"]


def test_salloc_no_shell_leaves_the_allocation_until_scancel(cluster):
    result = slurm(cluster, "salloc", "--no-shell", "-N", "1")
    assert result.returncode == 0 and result.stdout == ""
    job_id = re.fullmatch(r"salloc: Granted job allocation (\d+)\n", result.stderr).group(1)
    assert wait_for_state(cluster, job_id, {"RUNNING"}) == "RUNNING"
    assert slurm(cluster, "squeue", "-h", "-j", job_id, "-o", "%j").stdout.strip() == "no-shell"
    assert " BatchFlag=0 " in slurm(cluster, "scontrol", "show", "job", job_id).stdout   # (no batch script)
    # srun --jobid joins it from outside.
    joined = slurm(cluster, "srun", "--jobid", job_id, "sh", "-c", "echo $SLURM_JOB_ID")
    assert joined.stdout == f"{job_id}\n"
    assert slurm(cluster, "scancel", job_id).returncode == 0
    assert wait_for_state(cluster, job_id, ENDED) == "CANCELLED"


def test_scancel_of_the_allocation_ends_the_salloc_shell(cluster):
    child = spawn(cluster, "salloc", "-N", "1")
    job_id = granted_job(child)
    child.expect_exact("PROMPT$ ")
    assert slurm(cluster, "scancel", job_id).returncode == 0
    child.expect_exact(f"salloc: Job allocation {job_id} has been revoked.")
    assert finish(child) == 0   # as Slurm 22.05's salloc
    assert wait_for_state(cluster, job_id, ENDED) == "CANCELLED"


def test_a_waiting_salloc_says_so_and_immediate_gives_up(cluster):
    hold = slurm(cluster, "salloc", "--no-shell", "-N", "2", "--exclusive")
    holder = re.search(r"allocation (\d+)", hold.stderr).group(1)
    try:
        result = slurm(cluster, "salloc", "-N", "1", "-I1", "true")
        assert result.returncode == 1
        job_id = re.match(r"salloc: Pending job allocation (\d+)\n", result.stderr).group(1)
        assert result.stderr == (f"salloc: Pending job allocation {job_id}\n"
                                 f"salloc: job {job_id} queued and waiting for resources\n"
                                 f"salloc: error: Unable to allocate resources: Connection timed out\n"
                                 f"salloc: Job allocation {job_id} has been revoked.\n")
        wait_for_state(cluster, job_id, ENDED)
    finally:
        slurm(cluster, "scancel", holder)
        wait_for_state(cluster, holder, ENDED)


def test_a_signal_cancels_a_salloc_waiting_for_its_grant(cluster):
    # The wait is a GetJob the controller holds (through the command server's call relay): a
    # signal must still end it, and the cancel after it must be answered as its own call.
    hold = slurm(cluster, "salloc", "--no-shell", "-N", "2", "--exclusive")
    holder = re.search(r"allocation (\d+)", hold.stderr).group(1)
    waiting = subprocess.Popen(["salloc", "-N", "1", "-J", "signalled", "true"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster["env"],
                               cwd=cluster["root"], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        said = waiting.stderr.readline() + waiting.stderr.readline()   # then it waits at the controller
        job_id = re.match(r"salloc: Pending job allocation (\d+)\n", said).group(1)
        waiting.send_signal(signal.SIGINT)
        _, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 1, err
        assert err.endswith("salloc: Job aborted due to signal\n"
                            f"salloc: Job allocation {job_id} has been revoked.\n"), err
        assert wait_for_state(cluster, job_id, ENDED) == "CANCELLED"
    finally:
        waiting.kill()
        slurm(cluster, "scancel", holder)
        wait_for_state(cluster, holder, ENDED)


def test_salloc_refuses_what_can_never_run_in_slurms_words(cluster):
    result = slurm(cluster, "salloc", "-N", "9", "true")
    assert result.returncode == 1
    assert result.stderr == "salloc: error: Unable to allocate resources: Requested node configuration is not available\n"
