"""scrontab end to end, through the Slurm-named command on a `jem up` cluster: a crontab installed,
listed back, run at its minute and queued again for the next under the same id, kept across a
controller restart; scancel disabling an entry's lines; -r; -e with an editor script on a
terminal; bad lines and refused entries reported with their line numbers, nothing installed;
another Unix user kept from root's crontab; and hostile requests over the gRPC API refused with
typed errors. One test waits for a minute boundary (at most about a minute): every assertion
that needs a run is in it."""

import json
import os
import pty
import re
import subprocess
import time

import psutil
import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import JEM, as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for

from jem.model.crontab import EntryRequest
from jem.model.errors import (CrontabEntryRefused, InvalidArgument, InvalidCrontab, InvalidJobSpec,
                              ParameterTooLong, UnknownPartition)
from jem.model.job import JobSpec
from jem.v1 import jobs_pb2

NO_CRONTAB = "no crontab for root\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("scrontab")), n_nodes=1)
    try:
        yield cluster
    finally:
        slurm(cluster, "scrontab", "-r")
        stop_cluster(cluster)


def install(cluster, text: str, *args: str):
    path = os.path.join(cluster["root"], "crontab.txt")
    with open(path, "w") as f:
        f.write(text)
    return slurm(cluster, "scrontab", *args, path)


def jobs(cluster) -> dict[str, tuple[str, str]]:
    """Job id -> (state, reason) of every job squeue lists (-t all)."""
    out = slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i %T %r").stdout
    return {fields[0]: (fields[1], fields[2]) for fields in (line.split() for line in out.splitlines())}


def show(cluster, job_id: str) -> dict[str, str]:
    text = slurm(cluster, "scontrol", "show", "job", job_id).stdout
    return dict(re.findall(r"(\w+)=(\"[^\"]*\"|\S*)", text))


def cron_job_ids(cluster) -> list[str]:
    return sorted((job_id for job_id in jobs(cluster) if show(cluster, job_id).get("CronJob") == "Yes"), key=int)


def test_an_entry_runs_at_its_minute_recurs_under_its_id_and_survives_a_controller_restart(cluster):
    out = os.path.join(cluster["root"], "runs")
    text = (f"# every minute, and once a year\nOUT={out}\n#SCRON -o {cluster['root']}/cron-%j.out\n#SCRON -t 1\n"
            "* * * * * echo ran >> $OUT\n@yearly echo yearly\n")
    before = time.time()
    result = install(cluster, text)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    listed = slurm(cluster, "scrontab", "-l")
    assert (listed.returncode, listed.stdout) == (0, text)
    every, yearly = cron_job_ids(cluster)[-2:]
    assert jobs(cluster)[every] == jobs(cluster)[yearly] == ("PENDING", "BeginTime")
    record = show(cluster, every)
    assert record["CrontabSpec"] == '"* * * * *"' and show(cluster, yearly)["CrontabSpec"] == '"0 0 1 1 *"'
    first_begin = record["EligibleTime"]
    assert first_begin.endswith(":00") and first_begin > time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(before))

    # It runs at that minute, and is queued again, same id, for the next one.
    wait_for(lambda: os.path.exists(out) and "ran" in open(out).read(), timeout_s=120, what="the entry's first run")
    wait_for(lambda: show(cluster, every).get("Restarts") == "1" and jobs(cluster)[every] == ("PENDING", "BeginTime"),
             timeout_s=30, what="the entry queued again")
    assert show(cluster, every)["EligibleTime"] > first_begin
    accounted = slurm(cluster, "sacct", "-j", every, "-D", "-n", "-X", "-o", "JobID,State").stdout.split()
    assert "REQUEUED" in accounted   # (the run: sacct -D)

    # The controller restarts: the crontab and its jobs are as they were.
    with open(os.path.join(cluster["state_dir"], "pids")) as f:
        controller = psutil.Process(json.load(f)["controller"])
    controller.kill()
    controller.wait(30)
    resumed = subprocess.run([*JEM, "up", "--state-dir", cluster["state_dir"]], capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr
    assert slurm(cluster, "scrontab", "-l").stdout == text
    assert cron_job_ids(cluster)[-2:] == [every, yearly]
    assert jobs(cluster)[yearly] == ("PENDING", "BeginTime")


def test_scancel_disables_the_entrys_lines_and_r_removes_the_crontab_cancelling_its_jobs(cluster):
    text = "#SCRON -t 1\n@hourly echo hourly\n\n@daily echo daily\n"
    assert install(cluster, text).returncode == 0
    hourly, daily = cron_job_ids(cluster)[-2:]
    assert slurm(cluster, "scancel", hourly).returncode == 0
    disabled = "#DISABLED: #SCRON -t 1\n#DISABLED: @hourly echo hourly\n\n@daily echo daily\n"
    wait_for(lambda: slurm(cluster, "scrontab", "-l").stdout == disabled, what="the cancelled entry's lines disabled")
    assert jobs(cluster)[hourly][0] == "CANCELLED" and jobs(cluster)[daily][0] == "PENDING"
    removed = slurm(cluster, "scrontab", "-r")
    assert (removed.returncode, removed.stdout, removed.stderr) == (0, "", "")
    assert jobs(cluster)[daily][0] == "CANCELLED"
    listed = slurm(cluster, "scrontab", "-l")
    assert (listed.returncode, listed.stdout) == (1, NO_CRONTAB)
    assert slurm(cluster, "scrontab", "-r").returncode == 0   # (no crontab: nothing to do, as Slurm)


def _on_terminal(cluster, argv: list[str], env: dict, answer: bytes = b"") -> tuple[int, str]:
    """Run a command with a terminal on its stdin (and `answer` typed there); (exit code, stdout)."""
    master, replica = pty.openpty()
    try:
        os.write(master, answer)
        result = subprocess.run(argv, stdin=replica, capture_output=True, text=True, env=env, timeout=60,
                                cwd=cluster["root"])
    finally:
        os.close(replica)
        os.close(master)
    return result.returncode, result.stdout + result.stderr


def test_e_installs_what_the_editor_leaves_and_a_bad_edit_answered_no_installs_nothing(cluster):
    editor = os.path.join(cluster["root"], "editor.sh")
    with open(editor, "w") as f:   # appends an entry (or, with BAD set, a bad line) to the file it is given
        f.write('#!/bin/sh\nif [ -n "$BAD" ]; then echo "61 * * * * x" >> "$1"; exit 0; fi\n'
                'echo "@weekly echo weekly" >> "$1"\n')
    os.chmod(editor, 0o755)
    env = dict(cluster["env"], EDITOR=editor, VISUAL="")
    assert install(cluster, "@daily echo daily\n").returncode == 0
    assert _on_terminal(cluster, ["scrontab", "-e"], env) == (0, "")
    assert slurm(cluster, "scrontab", "-l").stdout == "@daily echo daily\n@weekly echo weekly\n"
    code, output = _on_terminal(cluster, ["scrontab", "-e"], dict(env, BAD="1"), answer=b"n\n")
    assert code == 0 and "There are errors in your crontab.\nThe failed line(s) is commented out with #BAD:\n" \
        "Do you want to retry the edit? (y/n) " in output and "line 3:" in output
    assert slurm(cluster, "scrontab", "-l").stdout == "@daily echo daily\n@weekly echo weekly\n"
    no_terminal = slurm(cluster, "scrontab", "-e", env=env)
    assert (no_terminal.returncode, no_terminal.stderr) == (1, "scrontab: fatal: Standard input is not a TTY\n")
    failing = _on_terminal(cluster, ["scrontab", "-e"], dict(env, EDITOR="false"))
    assert failing == (1, "scrontab: fatal: editor returned non-zero exit code\n")


def test_a_bad_line_or_refused_entry_is_named_by_its_lines_and_nothing_is_installed(cluster):
    assert install(cluster, "@daily echo kept\n").returncode == 0
    bad = install(cluster, "# fine\n@hourly echo ok\n*/1 * * * * echo bad\n")
    assert (bad.returncode, bad.stdout) == (1, "There are errors in your crontab.\n")
    assert bad.stderr.startswith("scrontab: error: line 3: ") and "bad step value" in bad.stderr
    refused = install(cluster, "@hourly echo ok\n#SCRON -p nosuch\n#SCRON -t 1\n@daily echo there\n")
    assert refused.returncode == 1 and refused.stdout.startswith(
        "There was an issue with the job submission on lines 2-4\n"
        "The error code return was: Invalid partition name specified\nThe error message was: ")
    option = install(cluster, "#SCRON --array=1-2\n@daily x\n")
    assert (option.returncode, option.stderr) == (
        1, "scrontab: error: line 1: Invalid option found in #SCRON line: --array\n")
    nul = install(cluster, "@daily echo a\0b\n")
    assert nul.returncode == 1
    assert slurm(cluster, "scrontab", "-l").stdout == "@daily echo kept\n"
    usage = slurm(cluster, "scrontab", "-l", "extra")
    assert usage.returncode == 1 and usage.stderr.startswith("usage:\tscrontab [-u user] file\n")
    nobody = slurm(cluster, "scrontab", "-u", "nosuchuser0", "-l")
    assert (nobody.returncode, nobody.stderr) == (1, "scrontab: fatal: Could not find user nosuchuser0\n")


def test_another_user_may_not_read_or_change_roots_crontab_but_keeps_their_own(cluster, other_user):
    python = python_for_others()
    probe = python and as_user(cluster, other_user, "scrontab", "-l", python=python)
    if not probe or probe.returncode not in (0, 1) or "no crontab" not in probe.stdout:
        pytest.skip(f"no Python this checkout runs under that another user may run: {probe and probe.stderr}")
    assert install(cluster, "@daily echo roots\n").returncode == 0
    theirs = os.path.join(other_user.pw_dir, "tab")
    with open(theirs, "w") as f:
        f.write("@weekly echo mine\n")
    os.chown(theirs, other_user.pw_uid, other_user.pw_gid)

    read = as_user(cluster, other_user, "scrontab", "-u", "root", "-l", python=python)
    assert (read.returncode, read.stdout, read.stderr) == (
        1, "", "scrontab: fatal: slurm_request_crontab failed: Invalid user id\n")
    replace = as_user(cluster, other_user, "scrontab", "-u", "root", theirs, python=python)
    assert replace.returncode == 1 and replace.stdout.startswith(
        "There was an issue with the job submission on lines (null)\nThe error code return was: Invalid user id\n")
    remove = as_user(cluster, other_user, "scrontab", "-u", "root", "-r", python=python)
    assert (remove.returncode, remove.stderr) == (1, "scrontab: fatal: slurm_remove_crontab failed: Invalid user id\n")
    assert slurm(cluster, "scrontab", "-l").stdout == "@daily echo roots\n"

    assert as_user(cluster, other_user, "scrontab", theirs, python=python).returncode == 0
    assert as_user(cluster, other_user, "scrontab", "-l", python=python).stdout == "@weekly echo mine\n"
    assert slurm(cluster, "scrontab", "-u", other_user.pw_name, "-l").stdout == "@weekly echo mine\n"   # (root's -u)
    (job_id,) = [j for j in cron_job_ids(cluster) if show(cluster, j).get("UserId", "").startswith(other_user.pw_name)]
    assert as_user(cluster, other_user, "scrontab", "-r", python=python).returncode == 0
    assert jobs(cluster)[job_id][0] == "CANCELLED"


def test_hostile_requests_over_the_api_are_refused_with_typed_errors(cluster, monkeypatch):
    for name in ("JEM_CONFIG", "JEM_CONTROLLER"):
        monkeypatch.setenv(name, cluster["env"][name])
    from jem.client import Client

    def plain(schedule: str = "@hourly") -> EntryRequest:
        return EntryRequest(schedule, JobSpec(script="#!/bin/sh\ntrue\n"))

    with Client() as client:
        before = client.get_crontab()
        huge = "# " + "x" * (300 * 1024) + "\n@hourly true\n"
        many = "".join(f"@hourly echo {n}\n" for n in range(201))
        attacks = [
            (ParameterTooLong, lambda: client.set_crontab(huge, [plain()])),
            (ParameterTooLong, lambda: client.set_crontab(many, [plain()] * 201)),
            (InvalidCrontab, lambda: client.set_crontab("@hourly a\0b\n", [plain()])),
            (InvalidCrontab, lambda: client.set_crontab("@hourly true\n", [plain("* * * * *")])),
            (InvalidCrontab, lambda: client.set_crontab("@hourly true\n", [plain(), plain()])),
            (InvalidCrontab, lambda: client.set_crontab("*/0 * * * * true\n", [plain("*/0 * * * *")])),
            (InvalidJobSpec, lambda: client.submit(JobSpec(script="#!/bin/sh\n", cron_schedule="* * * * *"))),
        ]
        for error, attack in attacks:
            with pytest.raises(error):
                attack()
        refused = EntryRequest("@hourly", JobSpec(script="#!/bin/sh\ntrue\n", partition="nosuch"))
        with pytest.raises(CrontabEntryRefused) as caught:
            client.set_crontab("# one\n@hourly true\n", [refused])
        assert (caught.value.lines, caught.value.cause) == ("2-2", UnknownPartition)
        with pytest.raises(InvalidArgument):   # (a removal that carries a text: no client method sends one)
            client._call(client._jobs.SetCrontab, jobs_pb2.SetCrontabRequest(remove=True, text="x"))
        assert client.get_crontab() == before
