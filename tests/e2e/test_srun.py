"""srun end to end, as batch scripts and tools (submitit) run it: steps inside a
job across its nodes, outside a job, output files, labels, exit codes, Slurm's
messages, signals, and the steps in sacct."""

import os
import re
import signal
import subprocess
import time

import psutil
import pytest
from slurm_cluster import (as_user, other_user, python_for_others, slurm, start_cluster, stop_cluster,  # noqa: F401
                           wait_for, wait_for_state)


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
    child.expect_exact("PROMPT$ ")   # (the prompt after the last size: none may be left to match below)
    child.sendline("sleep 6061")
    # Only once the sleep runs: a ^C that reaches the shell before it forks interrupts nothing.
    wait_for(lambda: any(p.info["cmdline"] == ["sleep", "6061"] for p in psutil.process_iter(["cmdline"])),
             what="the task's sleep to start")
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


# ---------------------------------------------------------------- srun as Slurm 22.05 (issue 12)

def sh(cluster, script: str, *, stdin: str = "", cwd: str | None = None):
    """`script` run by sh with the cluster's commands first on PATH."""
    return slurm(cluster, "sh", "-c", script, stdin=stdin, cwd=cwd)


def test_a_tasks_own_exit_code_and_slurms_line_for_a_program_that_is_not_there(cluster, other_user):
    result = slurm(cluster, "srun", "-n2", "sh", "-c", "exit 66")
    assert (result.returncode, result.stderr) == (66, "srun: error: n1: tasks 0-1: Exited with exit code 66\n")
    result = slurm(cluster, "srun", "no-such-program")
    assert (result.returncode, result.stderr) == (
        2, "slurmstepd-n1: error: execve(): no-such-program: No such file or directory\n"
           "srun: error: n1: task 0: Exited with exit code 2\n")
    python = python_for_others()
    if python is None:
        pytest.skip("no Python other users may run")
    result = as_user(cluster, other_user, "srun", "-n2", "sh", "-c", "exit 66", python=python)
    assert (result.returncode, result.stderr) == (66, "srun: error: n1: tasks 0-1: Exited with exit code 66\n")


def test_the_tasks_get_slurms_variables(cluster):
    names = ("SLURM_LAUNCH_NODE_IPADDR SLURM_SRUN_COMM_HOST SLURM_SRUN_COMM_PORT SLURM_STEP_LAUNCHER_PORT "
             "SLURM_TASK_PID SLURM_UMASK SLURM_CPUS_ON_NODE SLURM_JOB_CPUS_PER_NODE SLURM_JOB_PARTITION "
             "SLURM_JOB_QOS SLURM_JOB_UID SLURM_JOB_USER SLURM_SUBMIT_DIR SLURM_SUBMIT_HOST SLURM_CLUSTER_NAME "
             "SLURM_TOPOLOGY_ADDR SLURM_TOPOLOGY_ADDR_PATTERN SLURM_PRIO_PROCESS SRUN_DEBUG TMPDIR").split()
    script = "; ".join(f'echo "{name}=${{{name}-MISSING}}"' for name in names) + "; echo pid=$$"
    result = slurm(cluster, "srun", "-n1", "sh", "-c", script)
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert "MISSING" not in env.values(), env
    assert env["SLURM_TASK_PID"] == env["pid"] and env["SLURM_LAUNCH_NODE_IPADDR"] == "127.0.0.1"
    assert env["SLURM_SRUN_COMM_PORT"] == env["SLURM_STEP_LAUNCHER_PORT"] and env["SRUN_DEBUG"] == "3"
    assert (env["SLURM_TOPOLOGY_ADDR"], env["SLURM_TOPOLOGY_ADDR_PATTERN"]) == ("n1", "node")
    out = slurm(cluster, "srun", "-n1", "sh", "-c", "env | grep -c '^SLURM_RLIMIT_\\|^JEM_STDIN_TOKEN' || true")
    assert out.stdout == "0\n"   # applied on the node and not shown, as Slurm's; the relay's secret kept back


def test_stdin_goes_to_every_task_or_the_one_i_names_and_output_where_o_says(cluster, tmp_path):
    result = sh(cluster, "srun -N2 -n3 -l cat | sort", stdin="hi\n")
    assert result.stdout == "0: hi\n1: hi\n2: hi\n"
    result = sh(cluster, "srun -n3 -l -i 1 cat", stdin="hi\n")
    assert result.stdout == "1: hi\n"
    result = slurm(cluster, "srun", "-N2", "-n4", "-l", "-o", "out.%j.%s.txt", "sh", "-c",
                   "echo o$SLURM_PROCID; echo e$SLURM_PROCID >&2", cwd=str(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    [name] = os.listdir(tmp_path)   # one file, every task's lines in it, written by srun
    assert name.endswith(".0.txt") and sorted((tmp_path / name).read_text().splitlines()) == [
        f"{t}: {s}{t}" for t in range(4) for s in "eo"]
    result = slurm(cluster, "srun", "-n3", "-l", "-o", "1", "sh", "-c", "echo o; echo e >&2")
    assert (sorted(result.stdout.splitlines()), result.stderr) == (["1: e", "1: o"], "")
    result = slurm(cluster, "srun", "-n2", "-o", "none", "sh", "-c", "echo o; echo e >&2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_multi_prog_runs_each_tasks_line_with_labels(cluster, tmp_path):
    conf = tmp_path / "silly.conf"
    conf.write_text("# srun multiple program configuration\n4-5 echo host\n1,6 echo task:%t\n0,2-3 echo offset:%o\n"
                    "* echo rest '%t'\n")
    result = sh(cluster, f"srun -N2 -n8 -l --multi-prog {conf} | sort")
    assert result.stdout == ("0: offset:0\n1: task:1\n2: offset:1\n3: offset:2\n4: host\n5: host\n6: task:6\n"
                             "7: rest %t\n")
    conf.write_text("0 echo zero\n")
    result = slurm(cluster, "srun", "-n2", "--multi-prog", str(conf))
    assert (result.returncode, result.stderr) == (1, f"srun: error: Configuration file {conf} invalid, no record "
                                                     f"for task id 1\n")


def test_wait_and_kill_on_bad_exit_end_the_rest_of_the_step_in_slurms_words(cluster):
    result = slurm(cluster, "srun", "-n2", "-W", "1", "sh", "-c", "[ $SLURM_PROCID = 0 ] || sleep 60")
    lines = re.sub(r"\bn\d\b", "n1", result.stderr).splitlines()   # (whichever node the job got)
    assert result.returncode == 137
    step = lines[1].split()[1]
    assert lines[:4] == ["srun: First task exited 1s ago", f"srun: {step} task 1: running",
                         f"srun: {step} task 0: exited", f"srun: launch/slurm: _step_signal: Terminating {step}"]
    assert lines[4].startswith(f"slurmstepd-n1: error: *** STEP {step[7:]} ON n1 CANCELLED AT ")
    assert lines[5:] == ["srun: Job step aborted: Waiting up to 4 seconds for job step to finish.",
                         "srun: error: n1: task 1: Killed"]
    result = slurm(cluster, "srun", "-n3", "-K", "sh", "-c", "[ $SLURM_PROCID != 1 ] || exit 5; sleep 60")
    lines = re.sub(r"\bn\d\b", "n1", result.stderr).splitlines()
    assert result.returncode == 143 and lines[0] == "srun: error: n1: task 1: Exited with exit code 5"
    assert lines[1].startswith("srun: launch/slurm: _step_signal: Terminating StepId=")
    assert lines[3:] == ["srun: error: n1: tasks 0,2: Terminated", f"srun: Force Terminated {lines[1].split()[-1]}"]


def test_the_shells_umask_and_soft_limits_reach_steps_and_batch_jobs(cluster, tmp_path):
    report = "umask; ulimit -S -n; ulimit -S -c; env | grep -c ^SLURM_UMASK"
    result = sh(cluster, f"umask 027; ulimit -S -n 512; ulimit -S -c 0; srun -n2 -l sh -c '{report}' | sort")
    assert result.stdout.split("\n") == [f"{t}: {v}" for t in (0, 1) for v in ("0", "0027", "1", "512")] + [""]
    result = sh(cluster, f"ulimit -S -n 512; srun -n1 --propagate=CORE sh -c 'ulimit -S -n'")
    assert result.stdout != "512\n"
    assert sh(cluster, "srun --propagate=BOGUS true").stderr == ("srun: error: Bad rlimit name: BOGUS\n"
                                                                "srun: error: --propagate=BOGUS is not valid.\n")
    out = tmp_path / "batch.out"
    result = sh(cluster, f"umask 027; ulimit -S -n 512; sbatch --wait -o {out} --wrap "
                         f"'umask; ulimit -S -n; env | grep -c \"^SLURM_UMASK\\|^SLURM_RLIMIT\"; srun sh -c \"{report}\"'")
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == ["0027", "512", "0", "0027", "512", "0", "1"]   # (no SLURM_UMASK in the batch)
    assert oct(out.stat().st_mode & 0o777) == "0o640"


def test_overcommit_for_allocations_and_steps(cluster, tmp_path):
    out = tmp_path / "o.out"
    result = slurm(cluster, "sbatch", "-O", "-N1", "-n40", "--wait", "-o", str(out), "--wrap",
                   "echo $SLURM_NTASKS $SLURM_CPUS_ON_NODE $SLURM_TASKS_PER_NODE $SLURM_OVERCOMMIT; "
                   "srun hostname | wc -l")
    assert result.returncode == 0 and out.read_text() == "40 1 40 1\n40\n"
    result = sh(cluster, "srun -O -N1 -n20 -c2 sh -c 'echo $SLURM_CPUS_ON_NODE $SLURM_OVERCOMMIT' | sort | uniq -c")
    assert result.stdout.split() == ["20", "2", "1"]
    result = slurm(cluster, "srun", "-N1", "-n20", "true")
    assert (result.returncode, result.stderr) == (
        1, "srun: error: Unable to allocate resources: Requested node configuration is not available\n")


def test_task_prolog_and_epilog(cluster, tmp_path):
    prolog, epilog = tmp_path / "prolog.sh", tmp_path / "epilog.sh"
    prolog.write_text("#!/bin/sh\necho \"export FOO=bar baz\"\necho \"print hello from $SLURM_PROCID\"\n")
    epilog.write_text("#!/bin/sh\necho epilog >&2\nexit 3\n")
    prolog.chmod(0o755)
    epilog.chmod(0o755)
    result = slurm(cluster, "srun", "-n1", f"--task-prolog={prolog}", f"--task-epilog={epilog}", "sh", "-c",
                   "echo FOO=$FOO; exit 4")
    assert (result.returncode, result.stdout) == (4, "hello from 0\nFOO=bar baz\n")
    assert result.stderr == ("epilog\nslurmstepd-n1: error: TaskEpilog failed status=768\n"
                             "srun: error: n1: task 0: Exited with exit code 4\n")
    result = slurm(cluster, "srun", "-n1", "--task-prolog=prolog.sh", "true")
    assert result.returncode == 1 and result.stderr.splitlines()[0] == (
        "slurmstepd-n1: error: run_command: user task_prolog is not fully qualified pathname (prolog.sh)")


def test_immediate_and_the_options_for_allocations_only(cluster):
    blocker = slurm(cluster, "sbatch", "--parsable", "-N", "2", "-c", "4", "-o", "/dev/null", "--wrap",
                    "sleep 300").stdout.strip()
    wait_for_state(cluster, blocker, {"RUNNING"})
    try:
        result = slurm(cluster, "srun", "-I", "true")
        assert (result.returncode, result.stderr) == (
            1, "srun: error: Unable to allocate resources: Requested nodes are busy\n")
        result = slurm(cluster, "srun", "-I", "true", env=cluster["env"] | {"SLURM_EXIT_IMMEDIATE": "7"})
        assert result.returncode == 7
    finally:
        slurm(cluster, "scancel", blocker)
    result = slurm(cluster, "srun", "--mincpus=2", "true")
    assert (result.returncode, result.stderr) == (1, "srun: error: --mincpus is not supported by JEM: JEM's jobs "
                                                     "have no per-node CPU minimum beyond their tasks' CPUs\n")
    result = slurm(cluster, "srun", "--mincpus=abc", "true")
    assert (result.returncode, result.stderr) == (1, 'srun: error: Invalid numeric value "abc" for --mincpus.\n')
    job_id = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 300").stdout.strip()
    wait_for_state(cluster, job_id, {"RUNNING"})
    result = slurm(cluster, "srun", "--jobid", job_id, "--mincpus=1", "--tmp=10", "true")
    assert (result.returncode, result.stderr) == (0, "")   # (inside an allocation Slurm ignores them too)
    slurm(cluster, "scancel", job_id)
