"""The Slurm-compatible commands as scripts and tools drive them: directives and precedence, environment,
filters, cancel, accounting, hold/uhold/release/update (a running job's time limit too), node drain, JSON, and
`jem slurm-path` itself."""

import json
import os
import pwd
import re
import subprocess

import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import JEM, as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for_state

ME = pwd.getpwuid(os.getuid()).pw_name
COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol", "sacct", "srun", "salloc", "sacctmgr", "sprio",
            "sshare", "seff", "sdiag", "sreport", "sstat", "sattach", "sbcast", "strigger", "scrontab")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("slurm_cmds")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def submit(cluster, *args: str, stdin: str = "", env: dict | None = None, cwd: str | None = None) -> str:
    result = slurm(cluster, "sbatch", "--parsable", *args, stdin=stdin, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().isdigit() and result.stderr == ""
    return result.stdout.strip()


def test_slurm_path_holds_every_command_and_is_stable(cluster):
    assert sorted(os.listdir(cluster["path"])) == sorted([*COMMANDS, "jem"])   # (and `jem`, as quick as they are)
    assert all(os.access(os.path.join(cluster["path"], c), os.X_OK) for c in COMMANDS)
    again = subprocess.run([*JEM, "slurm-path", "--state-dir", cluster["state_dir"]], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert again == cluster["path"]
    assert cluster["path"] not in os.environ.get("PATH", "")  # nothing was put on the caller's PATH


def test_submitted_batch_job_line_and_script_arguments(cluster, tmp_path):
    script = tmp_path / "args.sh"
    script.write_text("#!/bin/sh\necho \"args: $1 $2\"\n")
    result = slurm(cluster, "sbatch", "-o", str(tmp_path / "out.txt"), str(script), "one", "two")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("Submitted batch job ") and result.stdout.split()[-1].isdigit()
    wait_for_state(cluster, result.stdout.split()[-1], {"COMPLETED"})
    assert (tmp_path / "out.txt").read_text() == "args: one two\n"


def test_command_line_beats_environment_beats_directives(cluster, tmp_path):
    script = tmp_path / "prec.sh"
    script.write_text('#!/bin/sh\n#SBATCH -J "from script"\n#SBATCH --time=5  # minutes\n'
                      "#SBATCH --nice=7\n\nhostname\n#SBATCH --time=99\n")
    env = dict(cluster["env"], SBATCH_TIMELIMIT="20")
    job = submit(cluster, "-H", str(script), env=env)
    fields = slurm(cluster, "squeue", "-h", "-j", job, "-o", "%j|%l|%y").stdout.strip()
    assert fields == "from script|20:00|7"
    env["SBATCH_JOB_NAME"] = "from env"
    job = submit(cluster, "-H", "-t", "1:00:00", str(script), env=env)
    assert slurm(cluster, "squeue", "-h", "-j", job, "-o", "%j|%l").stdout.strip() == "from env|1:00:00"
    job = submit(cluster, "-H", "-J", "from cli", str(script), env=env)
    assert slurm(cluster, "squeue", "-h", "-j", job, "-o", "%j").stdout.strip() == "from cli"
    assert slurm(cluster, "scancel", "-u", ME, "-t", "PD").returncode == 0


def test_export_none_passes_only_slurm_variables_and_the_named_ones(cluster, tmp_path):
    env = dict(cluster["env"], MY_MARKER="visible")
    out_all, out_none = tmp_path / "all.txt", tmp_path / "none.txt"
    body = "#!/bin/sh\necho \"marker=$MY_MARKER extra=$EXTRA\"\n"
    first = submit(cluster, "-o", str(out_all), stdin=body, env=env)
    second = submit(cluster, "--export=NONE,EXTRA=yes", "-o", str(out_none), stdin=body, env=env)
    for job in (first, second):
        wait_for_state(cluster, job, {"COMPLETED"})
    assert out_all.read_text() == "marker=visible extra=\n"
    assert out_none.read_text() == "marker= extra=yes\n"


@pytest.mark.parametrize("option", ["--nodelist=n1", "--exclude=n2"])
def test_options_jem_lacks_fail_clearly_and_queue_nothing(cluster, option):
    before = slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout
    result = slurm(cluster, "sbatch", option, "--wrap", "true")
    name = option.split("=")[0]
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"sbatch: error: {name} is not supported yet by JEM\n"
    assert slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout == before


def test_slurm_exit_error_replaces_the_exit_code_of_a_refused_submission(cluster):
    env = dict(cluster["env"], SLURM_EXIT_ERROR="7")
    assert slurm(cluster, "sbatch", "-p", "nosuch", "--wrap", "true", env=env).returncode == 7
    assert slurm(cluster, "sbatch", "-t", "abc", "--wrap", "true", env=env).returncode == 255


def test_unreachable_controller_is_one_line_without_traceback(cluster):
    env = dict(cluster["env"], JEM_CONTROLLER="127.0.0.1:1")
    for argv in (["sbatch", "--wrap", "true"], ["squeue"], ["sacct"], ["sinfo"]):
        result = slurm(cluster, *argv, env=env)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"{argv[0]}: error: Unable to contact JEM controller at 127.0.0.1:1")


def test_squeue_filters_sort_and_json(cluster):
    a = submit(cluster, "-H", "-J", "alpha", "-A", "proj1", "--wrap", "true")
    b = submit(cluster, "-H", "-J", "beta", "-A", "proj2", "--nice=10", "--wrap", "true")

    def ids(*args):
        return slurm(cluster, "squeue", "-h", "-o", "%i", *args).stdout.split()

    assert ids("-n", "alpha") == [a]
    assert ids("-A", "proj2") == [b]
    assert set(ids("--me", "-t", "PD")) >= {a, b}
    assert ids("-j", f"{a},{b}", "-S", "-i") == [b, a]
    assert ids("-j", f"{a},{b}", "-S", "j") == [a, b]
    assert ids("-p", "nosuch") == []
    # Slurm 22.05's squeue --json lists every job, whatever the filters
    jobs = json.loads(slurm(cluster, "squeue", "--json", "-j", a).stdout)["jobs"]
    assert {int(a), int(b)} <= {j["job_id"] for j in jobs}
    assert [(j["job_id"], j["name"], j["job_state"], j["account"], j["state_reason"]) for j in jobs
            if j["job_id"] == int(a)] == [(int(a), "alpha", "PENDING", "proj1", "JobHeldUser")]
    assert slurm(cluster, "scancel", a, b).returncode == 0


def test_cancel_a_running_job_and_account_for_it(cluster):
    job = submit(cluster, "-J", "sleeper", "-o", "/dev/null", "--wrap", "sleep 60")
    wait_for_state(cluster, job, {"RUNNING"})
    state, node = slurm(cluster, "squeue", "-h", "-j", job, "-o", "%t %N").stdout.split()
    assert state == "R" and node in ("n1", "n2")
    result = slurm(cluster, "scancel", "-n", "sleeper", "-u", ME)
    assert (result.returncode, result.stderr) == (0, "")
    wait_for_state(cluster, job, {"CANCELLED"})
    rows = slurm(cluster, "sacct", "-P", "-n", "-j", job, "-o", "JobID,State,ExitCode").stdout.splitlines()
    assert rows[0].startswith(f"{job}|CANCELLED by ") and rows[1].startswith(f"{job}.batch|CANCELLED|")


def test_sacct_reports_exit_code_usage_and_json(cluster):
    job = submit(cluster, "-J", "worker", "-o", "/dev/null", "--wrap", "python3 -c 'x = bytearray(30 << 20)'; exit 3")
    wait_for_state(cluster, job, {"FAILED"})
    rows = slurm(cluster, "sacct", "-P", "-j", job, "-o", "JobID,JobName,State,ExitCode,MaxRSS,NodeList,AllocCPUS")
    lines = rows.stdout.splitlines()
    assert lines[0] == "JobID|JobName|State|ExitCode|MaxRSS|NodeList|AllocCPUS"
    job_row, step_row = (line.split("|") for line in lines[1:])
    assert job_row[:4] == [job, "worker", "FAILED", "3:0"] and job_row[4] == ""
    assert step_row[:4] == [f"{job}.batch", "batch", "FAILED", "3:0"]
    assert step_row[4].endswith(("K", "M")) and step_row[5].startswith("n")
    data = json.loads(slurm(cluster, "sacct", "--json", "-j", job).stdout)["jobs"][0]
    assert data["job_id"] == int(job) and data["state"]["current"] == "FAILED"
    assert data["exit_code"] == {"status": "ERROR", "return_code": 3}
    assert data["steps"][0]["step"] == {"job_id": int(job), "het": {"component": None}, "id": "batch", "name": "batch"}
    assert slurm(cluster, "sacct", "-n", "-X", "-j", job, "-s", "CD").stdout == ""


def test_scontrol_hold_release_and_update(cluster):
    job = submit(cluster, "-H", "-t", "5", "--wrap", "true")
    assert slurm(cluster, "scontrol", "update", f"JobId={job}", "TimeLimit=1:00:00", "JobName=renamed").returncode == 0
    shown = slurm(cluster, "scontrol", "show", "job", job).stdout
    assert f"JobId={job} JobName=renamed" in shown and "TimeLimit=01:00:00" in shown
    assert "JobState=PENDING Reason=JobHeldUser" in shown
    assert slurm(cluster, "scontrol", "release", job).returncode == 0
    wait_for_state(cluster, job, {"COMPLETED"})
    assert slurm(cluster, "scontrol", "hold", job).returncode == 1


def test_scontrol_update_of_a_running_jobs_time_limit(cluster):
    """Root raises and lowers a running job's limit, by value and by increments, as Slurm 22.05 does;
    a limit lowered below the time it ran ends it at once, TIMEOUT, with Slurm's line."""
    out = os.path.join(cluster["root"], "limited.out")
    job = submit(cluster, "-t", "10", "-o", out, "--wrap", "sleep 300")
    wait_for_state(cluster, job, {"RUNNING"})

    def update(*words: str) -> tuple[int, str]:
        result = slurm(cluster, "scontrol", "update", *words)
        return result.returncode, result.stderr

    def limit() -> str:
        return slurm(cluster, "squeue", "-h", "-j", job, "-o", "%T %l").stdout.strip()

    for words, shown in (((f"JobId={job}", "TimeLimit=5"), "5:00"), ((f"JobId={job}", "TimeLimit=30"), "30:00"),
                         ((f"JobId={job}", "TimeLimit=+10"), "40:00"), ((f"JobId={job}", "TimeLimit=-15"), "25:00"),
                         ((f"JobId={job}", "TimeLimit+=5"), "30:00"), ((f"JobId={job}", "TimeLimit-=1:00"), "29:00"),
                         ((f"Job={job}", "TimeLimit=UNLIMITED"), "UNLIMITED"), ((f"JobId={job}", "TimeLimit=-5"), "UNLIMITED"),
                         ((f"JobId={job}", "TimeLimit=20"), "20:00")):
        assert update(*words) == (0, ""), words
        assert limit() == f"RUNNING {shown}", words
    assert update(f"JobId={job}", "TimeLimit-=100") == (
        1, "scontrol: error: TimeLimit decrement larger than current time limit (100 > 20)\n")
    assert update("TimeLimit+=5", f"JobId={job}") == (
        1, "scontrol: error: JobId must precede TimeLimit increment or decrement\n")
    assert update(f"JobId={job}", "TimeLimit+=+5") == (
        1, "scontrol: error: Invalid syntax, variations of +=- are not accepted.\n")
    assert update(f"JobId={job}", "Name+=x") == (1, "scontrol: error: Option Name+=x does not accept [+|-]= syntax\n")
    assert update("JobId=999999", "TimeLimit+=5") == (
        1, "scontrol: error: Could not load state information for job 999999: Invalid job id specified\n")
    assert limit() == "RUNNING 20:00"
    assert update(f"JobId={job}", "TimeLimit=0") == (0, "")   # (no minutes: it has run longer)
    assert wait_for_state(cluster, job, {"TIMEOUT"}) == "TIMEOUT"
    with open(out) as f:
        assert re.search(rf"^slurmstepd: error: \*\*\* JOB {job} ON n\d CANCELLED AT \S+ DUE TO TIME LIMIT \*\*\*$",
                         f.read(), re.M)


def test_scontrol_hold_by_root_is_an_admin_hold_and_uhold_a_user_hold(cluster):
    job = submit(cluster, "-H", "--wrap", "true")

    def reason() -> str:
        return slurm(cluster, "squeue", "-h", "-j", job, "-o", "%r").stdout.strip()

    assert reason() == "JobHeldUser"   # (sbatch -H)
    assert slurm(cluster, "scontrol", "hold", job).returncode == 0
    assert reason() == "JobHeldAdmin"   # (root's own job: still an administrator's hold, as Slurm's)
    assert slurm(cluster, "scontrol", "uhold", job).returncode == 0
    assert reason() == "JobHeldUser"
    assert slurm(cluster, "scancel", job).returncode == 0


def test_another_user_lowers_but_may_not_raise_their_running_jobs_limit_nor_release_an_admin_hold(
        cluster, other_user):
    python = python_for_others()
    probe = python and as_user(cluster, other_user, "squeue", python=python)
    if not probe or probe.returncode != 0:
        pytest.skip(f"no Python this checkout runs under that another user may run: {probe and probe.stderr}")

    def theirs(*argv: str) -> tuple[int, str]:
        result = as_user(cluster, other_user, *argv, python=python)
        return result.returncode, result.stderr

    job = as_user(cluster, other_user, "sbatch", "--parsable", "-t", "10", "-o", "/dev/null", "--wrap", "sleep 300",
                  python=python).stdout.strip()
    held = as_user(cluster, other_user, "sbatch", "--parsable", "-H", "--wrap", "true", python=python).stdout.strip()
    try:
        wait_for_state(cluster, job, {"RUNNING"})
        assert theirs("scontrol", "update", f"JobId={job}", "TimeLimit=20") == (
            1, f"Access/permission denied for job {job}\n")
        assert theirs("scontrol", "update", f"JobId={job}", "TimeLimit+=1") == (
            1, f"Access/permission denied for job {job}\n")
        assert theirs("scontrol", "update", f"JobId={job}", "TimeLimit=8") == (0, "")
        assert theirs("scontrol", "update", f"JobId={job}", "TimeLimit-=1") == (0, "")
        assert slurm(cluster, "squeue", "-h", "-j", job, "-o", "%T %l").stdout.strip() == "RUNNING 7:00"
        assert slurm(cluster, "scontrol", "hold", held).returncode == 0
        assert theirs("scontrol", "release", held) == (
            1, f"Access/permission denied for job {held}\nslurm_suspend error: Access/permission denied\n")
        assert theirs("scontrol", "hold", held) == (0, "") and theirs("scontrol", "uhold", held) == (0, "")
        assert slurm(cluster, "squeue", "-h", "-j", held, "-o", "%r").stdout.strip() == "JobHeldAdmin"
    finally:
        slurm(cluster, "scancel", job, held)
        wait_for_state(cluster, job, {"CANCELLED"})


def test_node_drain_and_resume_show_in_sinfo(cluster):
    result = slurm(cluster, "scontrol", "update", "NodeName=n2", "State=DRAIN", "Reason=disk check")
    assert result.returncode == 0, result.stderr
    try:
        reasons = slurm(cluster, "sinfo", "-R", "-h").stdout.split()
        assert reasons[:2] == ["disk", "check"] and reasons[-1] == "n2"
        assert "drain n2" in slurm(cluster, "sinfo").stdout
        assert "State=IDLE+DRAIN" in slurm(cluster, "scontrol", "show", "node", "n2").stdout
    finally:
        assert slurm(cluster, "scontrol", "update", "NodeName=n2", "State=RESUME").returncode == 0
    assert slurm(cluster, "sinfo", "-h", "-o", "%t %N").stdout.split() == ["idle", "n[1-2]"]
    nodes = json.loads(slurm(cluster, "sinfo", "--json").stdout)["nodes"]
    assert [n["name"] for n in nodes] == ["n1", "n2"]


def test_sinfo_prints_a_field_it_does_not_know_as_written_and_says_so(cluster):
    result = slurm(cluster, "sinfo", "-h", "-o", "%.5j %t %A %X:%Y:%Z")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["%.5j", "idle", "0/2", "1:4:1"]
    assert result.stderr == "Invalid node format specification: j\n"


def test_test_only_validates_without_queueing(cluster):
    before = slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout
    result = slurm(cluster, "sbatch", "--test-only", "--wrap", "true")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.startswith("sbatch: Job 0 to start at ") and result.stderr.endswith(" in partition debug\n")
    refused = slurm(cluster, "sbatch", "--test-only", "-c", "64", "--wrap", "true")
    assert refused.returncode == 1 and refused.stderr.endswith(
        "sbatch: error: Batch job submission failed: Requested node configuration is not available\n")
    assert slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout == before


def test_the_commands_jem_does_not_offer_say_so_in_slurms_manner(cluster):
    for command, instead in (("sattach", "srun --pty"), ("sbcast", "shared file system"), ("strigger", "jem watch")):
        refused = slurm(cluster, command, "1.0")
        assert (refused.returncode, refused.stdout) == (1, ""), command
        assert refused.stderr.startswith(f"{command}: error: {command} is not offered by JEM: ")
        assert instead in refused.stderr
        assert slurm(cluster, command, "-V").stdout == "slurm 22.05.8\n"
