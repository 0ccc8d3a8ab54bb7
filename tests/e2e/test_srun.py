"""srun end to end, as batch scripts and tools (submitit) run it: steps inside a
job across its nodes, outside a job, output files, labels, exit codes, Slurm's
messages, signals, and the steps in sacct."""

import os
import signal
import subprocess
import time

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for, wait_for_state


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("srun")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def batch(cluster, tmp_path, body: str, *options: str) -> tuple[str, str]:
    """Run `body` as a batch script to its end; returns (job id, its output)."""
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\n" + body)
    out = tmp_path / "out.txt"
    result = slurm(cluster, "sbatch", "--parsable", "-o", str(out), *options, str(script), cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    wait_for_state(cluster, job_id, {"COMPLETED", "FAILED", "CANCELLED"})
    return job_id, out.read_text()


def test_srun_in_a_batch_job_spreads_labelled_tasks_over_its_nodes(cluster, tmp_path):
    job_id, out = batch(cluster, tmp_path, "srun -l sh -c 'echo $SLURMD_NODENAME $SLURM_LOCALID'\n"
                                           "srun -n 1 -J one true 2>&1\n", "-N", "2", "-n", "4")
    lines = out.splitlines()
    assert sorted(lines[:4]) == ["0: n1 0", "1: n1 1", "2: n2 0", "3: n2 1"]
    assert lines[4:] == ["srun: Warning: can't run 1 processes on 2 nodes, setting nnodes to 1"]   # Slurm's words
    rows = slurm(cluster, "sacct", "-j", job_id, "-P", "-n", "-o",
                 "JobID,JobName,NTasks,AllocCPUS,NodeList,State,ExitCode").stdout.splitlines()
    assert rows == [f"{job_id}|job.sh||4|n[1-2]|COMPLETED|0:0", f"{job_id}.batch|batch|1|2|n1|COMPLETED|0:0",
                    f"{job_id}.0|sh|4|4|n[1-2]|COMPLETED|0:0", f"{job_id}.1|one|1|2|n1|COMPLETED|0:0"]
    assert slurm(cluster, "sacct", "-X", "-j", job_id, "-P", "-n", "-o", "JobID").stdout.split() == [job_id]


def test_the_highest_exit_code_and_slurms_lines_for_failed_tasks(cluster, tmp_path):
    job_id, out = batch(cluster, tmp_path, "srun -n 3 sh -c 'exit $SLURM_PROCID' 2>&1\necho rc=$?\n"
                                           "srun -n 2 sh -c 'kill -9 $$' 2>&1\necho rc=$?\n", "-N", "2", "-n", "4")
    lines = out.splitlines()
    assert sorted(lines[:2]) == ["srun: error: n1: task 1: Exited with exit code 1",   # in the order they end
                                 "srun: error: n2: task 2: Exited with exit code 2"]
    assert lines[2] == "rc=2"
    # As Slurm: a task killed by SIGKILL ends the step CANCELLED, and srun says so.
    assert sorted(lines[3:5]) == ["srun: error: n1: task 0: Killed", "srun: error: n2: task 1: Killed"]
    assert lines[5:] == [f"srun: Force Terminated StepId={job_id}.1", "rc=137"]
    states = slurm(cluster, "sacct", "-j", f"{job_id}", "-P", "-n", "-o", "JobID,State,ExitCode").stdout.split()
    assert states[2:] == [f"{job_id}.0|FAILED|2:0", f"{job_id}.1|CANCELLED|0:9"]


def test_a_step_larger_than_the_job_is_refused_in_slurms_words(cluster, tmp_path):
    job_id, out = batch(cluster, tmp_path, "srun -n 5 true 2>&1\necho rc=$?\n", "-n", "2")
    assert out == (f"srun: error: Unable to create step for job {job_id}: More processors requested than "
                   f"permitted\nrc=1\n")


def test_submitits_srun_line_writes_one_log_per_task(cluster, tmp_path):
    # submitit's batch script runs exactly this form, then reads the files.
    logs = tmp_path / "logs"
    logs.mkdir()
    program = ("import os, sys; e = os.environ; print(e['SLURM_PROCID'], e['SLURM_LOCALID'], e['SLURM_NTASKS'], "
               "e['SLURM_JOB_NODELIST'], e['SLURM_NODEID'], e['SLURM_JOB_NUM_NODES']); print('oops', file=sys.stderr)")
    job_id, out = batch(cluster, tmp_path, f"srun --unbuffered --output {logs}/%j_%t_log.out --error "
                                           f"{logs}/%j_%t_log.err python3 -u -c \"{program}\"\n",
                        "-N", "2", "--ntasks-per-node", "1")
    assert out == ""
    for task in (0, 1):
        assert (logs / f"{job_id}_{task}_log.out").read_text() == f"{task} 0 2 n[1-2] {task} 2\n"
        assert (logs / f"{job_id}_{task}_log.err").read_text() == "oops\n"


def test_srun_outside_a_job_makes_one_and_ends_it_with_the_step(cluster, tmp_path):
    result = slurm(cluster, "srun", "-n", "2", "-J", "named", "sh", "-c", "echo hi $SLURM_PROCID; exit 3",
                   cwd=str(tmp_path))
    assert result.returncode == 3
    assert sorted(result.stdout.splitlines()) == ["hi 0", "hi 1"]
    assert result.stderr == "srun: error: n1: tasks 0-1: Exited with exit code 3\n"
    assert os.listdir(tmp_path) == []   # the allocation's own script leaves no slurm-N.out
    job_id = slurm(cluster, "squeue", "-t", "all", "-h", "-n", "named", "-o", "%i").stdout.split()[-1]
    rows = slurm(cluster, "sacct", "-j", job_id, "-P", "-n", "-o", "JobID,JobName,NTasks,State,ExitCode").stdout
    assert rows.splitlines() == [f"{job_id}|named||FAILED|3:0", f"{job_id}.0|named|2|FAILED|3:0"]


def test_srun_outside_a_job_says_when_it_had_to_wait(cluster, tmp_path):
    blocker = slurm(cluster, "sbatch", "--parsable", "-N", "2", "-c", "4", "-o", "/dev/null", "--wrap",
                    "sleep 300").stdout.strip()
    wait_for_state(cluster, blocker, {"RUNNING"})
    srun = subprocess.Popen(["srun", "echo", "ran"], env=cluster["env"], cwd=str(tmp_path), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    slurm(cluster, "scancel", blocker)
    out, err = srun.communicate(timeout=60)
    job_id = err.split()[2]
    assert srun.returncode == 0 and out == "ran\n"
    assert err == (f"srun: job {job_id} queued and waiting for resources\n"
                   f"srun: job {job_id} has been allocated resources\n")


def test_sigterm_to_srun_kills_the_step(cluster, tmp_path):
    marker = tmp_path / "started"
    srun = subprocess.Popen(["srun", "sh", "-c", f"touch {marker}; sleep 300"], env=cluster["env"],
                            cwd=str(tmp_path), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    srun.send_signal(signal.SIGTERM)
    _, err = srun.communicate(timeout=30)
    assert srun.returncode == 128 + signal.SIGTERM
    assert "srun: Force Terminated StepId=" in err
    job_id = err.split("StepId=")[1].split(".")[0]
    assert wait_for_state(cluster, job_id, {"CANCELLED"}) == "CANCELLED"
    rows = slurm(cluster, "sacct", "-j", f"{job_id}", "-P", "-n", "-o", "JobID,State,ExitCode").stdout.splitlines()
    assert rows == [f"{job_id}|CANCELLED by {os.getuid()}|0:15", f"{job_id}.0|CANCELLED|0:15"]


def test_srun_without_a_command_and_with_a_bad_option(cluster):
    result = slurm(cluster, "srun", "-n", "2")
    assert (result.returncode, result.stderr) == (1, "srun: fatal: No command given to execute.\n")
    result = slurm(cluster, "srun", "--bogus", "true")
    assert (result.returncode, result.stderr) == (
        255, "srun: unrecognized option '--bogus'\nTry \"srun --help\" for more information\n")


def test_srun_pty_gives_the_task_a_terminal_typed_into_with_the_callers_window_size(cluster):
    pexpect = pytest.importorskip("pexpect")
    env = cluster["env"] | {"PS1": "PROMPT$ "}
    child = pexpect.spawn("srun", ["--pty", "/bin/sh"], env=env, cwd=cluster["root"], timeout=30, encoding="utf-8",
                          dimensions=(33, 101))
    child.expect_exact("PROMPT$ ")
    child.sendline("tty; stty size; echo node=$SLURMD_NODENAME")
    child.expect(r"(/dev/pts/\d+)\r\n33 101\r\nnode=n1\r\n")
    child.setwinsize(40, 120)   # srun passes the new size on (TIOCSWINSZ there): poll until it arrived

    def size_seen() -> bool:
        child.sendline("stty size")
        child.expect(r"\r\n(\d+ \d+)\r\n")
        return child.match.group(1) == "40 120"

    wait_for(size_seen, what="the new window size on the node")
    child.sendline("sleep 60")
    child.sendcontrol("c")      # the tty's own ^C, in raw mode, interrupts the task's foreground job
    child.expect_exact("PROMPT$ ")
    child.sendline("exit 4")
    child.expect_exact("srun: error: n1: task 0: Exited with exit code 4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4
    wait_for(lambda: slurm(cluster, "squeue", "-h").stdout == "", what="srun's allocation to end")


def test_srun_pty_without_a_terminal_runs_without_one_in_slurms_words(cluster):
    result = slurm(cluster, "srun", "--pty", "sh", "-c", "tty; true")
    assert result.stdout == "not a tty\n"
    assert result.stderr == ("srun: error: ioctl(TIOCGWINSZ): Inappropriate ioctl for device\n"
                             "srun: error: Not using a pseudo-terminal, disregarding --pty option\n")
