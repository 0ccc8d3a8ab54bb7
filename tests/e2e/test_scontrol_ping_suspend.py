"""`scontrol ping` and `jem ping` against a running and an unreachable controller, the cluster's
name where the commands print one (asked of the controller: this cluster is renamed, so a name
written into a command would show), and `scontrol suspend|resume`: its job lists, Slurm's
refusals, and jobs and array tasks stopped and let go on.

The ping lines and exit codes are Slurm 22.05's, taken from the real scontrol: `Slurmctld(primary)
at HOST is UP` (exit 0); `... is DOWN` and the RESTORE banner, all on stdout (exit 1).
"""

import json
import os
import socket
import subprocess

import psutil
import pytest
from slurm_cluster import JEM, slurm, start_cluster, stop_cluster, wait_for_state

CLUSTER_NAME = "tpingclu"
UNREACHABLE = "127.0.0.1:1"
DOWN = ("Slurmctld(primary) at 127.0.0.1 is DOWN\n"
        "*****************************************\n"
        "** RESTORE SLURMCTLD DAEMON TO SERVICE **\n"
        "*****************************************\n")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A `jem up` cluster whose controller was restarted as cluster CLUSTER_NAME (`jem up` names
    its clusters "local"; a second `jem up` resumes the killed controller)."""
    cluster = start_cluster(str(tmp_path_factory.mktemp("ping")), n_nodes=1)
    try:
        with open(os.path.join(cluster["state_dir"], "pids")) as f:
            controller = psutil.Process(json.load(f)["controller"])
        controller.kill()
        controller.wait(30)
        path = os.path.join(cluster["state_dir"], "jem.toml")
        with open(path) as f:
            text = f.read()
        assert 'name = "local"' in text
        with open(path, "w") as f:
            f.write(text.replace('name = "local"', f'name = "{CLUSTER_NAME}"', 1))
        resumed = subprocess.run([*JEM, "up", "--state-dir", cluster["state_dir"]], capture_output=True, text=True,
                                 timeout=120)
        assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def job(cluster):
    """A running job, cancelled (and waited for) at the end."""
    result = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 300")
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    wait_for_state(cluster, job_id, {"RUNNING"})
    try:
        yield job_id
    finally:
        slurm(cluster, "scancel", job_id)
        wait_for_state(cluster, job_id, {"CANCELLED"})


def _unreachable(cluster) -> dict:
    return dict(cluster["env"], JEM_CONTROLLER=UNREACHABLE)


def test_scontrol_ping_names_the_controllers_host_when_up(cluster):
    result = slurm(cluster, "scontrol", "ping")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"Slurmctld(primary) at {socket.gethostname()} is UP\n", "")


def test_scontrol_ping_says_down_with_slurms_banner_and_exit_1(cluster):
    result = slurm(cluster, "scontrol", "ping", env=_unreachable(cluster))
    assert (result.returncode, result.stdout, result.stderr) == (1, DOWN, "")
    result = slurm(cluster, "scontrol", "ping", "now")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "too many arguments for keyword:ping\n")


def test_jem_ping_reports_who_answers_in_json_and_down_with_exit_1(cluster):
    result = subprocess.run([*JEM, "ping", "--json"], capture_output=True, text=True, env=cluster["env"], timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    answer = json.loads(result.stdout)
    assert (answer["up"], answer["cluster_name"], answer["host"]) == (True, CLUSTER_NAME, socket.gethostname())
    assert answer["address"] == cluster["env"]["JEM_CONTROLLER"] and answer["version"]
    assert answer["server_time"] > 0 and answer["round_trip_ms"] >= 0
    text = subprocess.run([*JEM, "ping"], capture_output=True, text=True, env=cluster["env"], timeout=60)
    assert text.returncode == 0 and f" of cluster {CLUSTER_NAME} is UP: host {socket.gethostname()}," in text.stdout
    down = subprocess.run([*JEM, "ping", "--json"], capture_output=True, text=True, env=_unreachable(cluster),
                          timeout=60)
    assert down.returncode == 1 and down.stderr == ""
    assert json.loads(down.stdout)["up"] is False and json.loads(down.stdout)["address"] == UNREACHABLE


def test_every_command_prints_the_controllers_cluster_name(cluster, job):
    config = slurm(cluster, "scontrol", "show", "config").stdout
    assert f"\nClusterName             = {CLUSTER_NAME}\n" in config
    # (the controller's own settings, where Slurm's defaults differ: MaxJobCount 10000, MinJobAge 300)
    assert "\nMaxJobCount             = 100000\n" in config and "\nSchedulerType           = sched/backfill\n" in config
    assert slurm(cluster, "squeue", "-h", "-j", job, "-O", "JobID:8,Cluster:10").stdout == \
        f"{job:<8}{CLUSTER_NAME:<10}\n"
    assert json.loads(slurm(cluster, "squeue", "--json").stdout)["jobs"][0]["cluster"] == CLUSTER_NAME
    assert slurm(cluster, "sacct", "-X", "-n", "-j", job, "-o", "JobID,Cluster").stdout.split() == [job, CLUSTER_NAME]
    assert json.loads(slurm(cluster, "sacct", "--json", "-j", job).stdout)["jobs"][0]["cluster"] == CLUSTER_NAME
    shares = slurm(cluster, "sshare", "-a", "-P", "-o", "Account,Cluster").stdout.splitlines()
    assert shares[0] == "Account|Cluster" and shares[1] == f"root|{CLUSTER_NAME}"
    assoc = slurm(cluster, "sacctmgr", "-P", "-n", "show", "assoc", "format=Cluster,Account")
    assert assoc.stdout.splitlines()[0] == f"{CLUSTER_NAME}|root"
    other = slurm(cluster, "sacctmgr", "-P", "-n", "show", "assoc", "cluster=elsewhere", "format=Cluster,Account")
    assert (other.returncode, other.stdout) == (0, "")   # (another cluster's: none)
    refused = slurm(cluster, "sacctmgr", "-i", "add", "account", "tpa", "cluster=elsewhere")
    assert (refused.returncode, refused.stderr) == (
        1, " This cluster 'elsewhere' doesn't exist.\n        Contact your admin to add it to accounting.\n")


def test_suspend_job_lists_refused_before_the_controller_acts(cluster, job):
    cases = [  # (argv, stderr): Slurm 22.05's lines
        (["suspend"], "too few arguments for keyword:suspend\n"),
        (["resume", "abc"], "Invalid job id specified for job abc\n"),
        (["suspend", f"{job}.0"], f"Invalid job id specified for job {job}.0\n"),
        # A task of a job that is no array: no such job (Slurm: `15147_1: Invalid job id specified`).
        (["suspend", f"{job}_1"], f"{job}_1: Invalid job id specified\n"),
        (["resume", f"{job}_[2-3]"], f"{job}_2: Invalid job id specified\n{job}_3: Invalid job id specified\n"),
    ]
    for argv, stderr in cases:
        result = slurm(cluster, "scontrol", *argv)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr), argv
    assert wait_for_state(cluster, job, {"RUNNING"}) == "RUNNING"   # nothing was asked of it


def _submit(cluster, *args: str) -> str:
    result = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_suspend_and_resume_jobs_and_array_tasks(cluster, job):
    single = _submit(cluster, "--wrap", "sleep 300")
    array = _submit(cluster, "--array=1-2", "--wrap", "sleep 300")
    held = _submit(cluster, "-H", "--wrap", "true")
    tasks = [f"{array}_1", f"{array}_2"]
    try:
        for running in (single, *tasks):
            wait_for_state(cluster, running, {"RUNNING"})

        def scontrol(*argv: str) -> tuple[int, str, str]:
            result = slurm(cluster, "scontrol", *argv)
            return result.returncode, result.stdout, result.stderr

        assert scontrol("suspend", single) == (0, "", "")   # (success is silent)
        wait_for_state(cluster, single, {"SUSPENDED"})
        assert scontrol("resume", single) == (0, "", "")
        wait_for_state(cluster, single, {"RUNNING"})
        assert scontrol("resume", single) == (1, "", f"Job is not suspended for job {single}\n")
        assert scontrol("suspend", held) == (1, "", f"Job is pending execution for job {held}\n")
        assert scontrol("suspend", array) == (0, "", "")   # (an array's id: every task of it)
        for task in tasks:
            wait_for_state(cluster, task, {"SUSPENDED"})
        assert scontrol("resume", ",".join(tasks), "abc") == (1, "", "Invalid job id specified for job abc\n")
        for task in tasks:
            wait_for_state(cluster, task, {"RUNNING"})
    finally:
        slurm(cluster, "scancel", single, array, held)
        for ended in (single, *tasks, held):
            wait_for_state(cluster, ended, {"CANCELLED"})
