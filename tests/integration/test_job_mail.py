"""Job mail on a real cluster: the controller runs the site's mail program (here a stand-in that
records each run: its argv, uid, groups, environment and standard input) as slurmctld runs
MailProg. BEGIN, END, FAIL, ALL and NONE give exactly the mails Slurm 22.05 sends, with its
subject lines; an array is mailed as a whole; the time-limit mails come once each; the program
runs as the unprivileged account, never root, with nothing but the job's SLURM_* variables; and a
hostile job name or mail user cannot add an option or a header line. sbatch's --mail-type and
--mail-user travel through the gRPC API; scontrol show config shows MailProg and MailDomain."""

import json
import os
import pwd
import re
import shutil
import tempfile

import pytest

from harness import LocalCluster, command, wait_until
from jem.model.errors import InvalidJobSpec
from jem.model.states import JobState

pytestmark = pytest.mark.integration

DOMAIN = "example.org"
RUN = r"\d\d:\d\d:\d\d"
STAND_IN = """#!/usr/bin/python3 -I
# A mail program stand-in: records how it was run, one JSON line per run.
import json, os, sys
with open("/proc/self/environ", "rb") as f:   # (the environment it was given, before Python's own changes)
    env = dict(item.decode().split("=", 1) for item in f.read().split(b"\\0") if item)
record = {"argv": sys.argv[1:], "uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups(),
          "env": env, "stdin": sys.stdin.read(), "cwd": os.getcwd()}
with open(%r, "a") as f:
    f.write(json.dumps(record) + "\\n")
"""


class MailBox:
    """The stand-in program and what it recorded: a directory the unprivileged account can use."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="jem-test-mail-")
        os.chmod(self.root, 0o755)
        records = os.path.join(self.root, "records")
        os.mkdir(records)
        os.chmod(records, 0o777)
        self.path = os.path.join(records, "mail.jsonl")
        self.program = os.path.join(self.root, "mail")
        with open(self.program, "w") as f:
            f.write(STAND_IN % self.path)
        os.chmod(self.program, 0o755)

    def all(self) -> list[dict]:
        try:
            with open(self.path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def of(self, job_id: int) -> list[dict]:
        """The runs about job `job_id` (or an array with that id)."""
        return [r for r in self.all() if r["env"].get("SLURM_JOB_ID") == str(job_id)]

    def subjects(self, job_id: int) -> list[str]:
        return [r["argv"][1] for r in self.of(job_id)]

    def wait_for(self, job_id: int, n: int) -> list[dict]:
        return wait_until(lambda: len(self.of(job_id)) >= n and self.of(job_id), 30, what=f"{n} mails of job {job_id}")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def mailbox():
    box = MailBox()
    yield box
    box.remove()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, mailbox):
    c = LocalCluster(str(tmp_path_factory.mktemp("mail")), n_nodes=1, cpus=4,
                     extra_config=f'\n[mail]\nprogram = "{mailbox.program}"\ndomain = "{DOMAIN}"\n')
    try:
        c.start()
        yield c
    finally:
        c.stop()


def run_job(cluster, client, script: str, **fields) -> int:
    job_id = client.submit(cluster.spec(script, **fields))
    cluster.wait_job(client, job_id)
    return job_id


def sentinel(cluster, client, mailbox) -> None:
    """Wait until every mail of the jobs ended so far has been sent: one queue, in commit order,
    so a mail asked for after them comes after theirs."""
    job_id = run_job(cluster, client, "#!/bin/sh\ntrue\n", name="sentinel", mail_type="END")
    mailbox.wait_for(job_id, 1)


def test_mail_types_send_slurms_mails_as_the_unprivileged_account(cluster, mailbox):
    with cluster.client() as client:
        begin_end = run_job(cluster, client, "#!/bin/sh\ntrue\n", name="be", mail_type="BEGIN,END")
        fail = run_job(cluster, client, "#!/bin/sh\nexit 3\n", name="f", mail_type="FAIL",
                       mail_user="someone@mail.example.org")
        everything = run_job(cluster, client, "#!/bin/sh\nexit 3\n", name="all",
                             mail_type="INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT")
        end_of_failure = run_job(cluster, client, "#!/bin/sh\nexit 1\n", name="e", mail_type="END")
        none = run_job(cluster, client, "#!/bin/sh\ntrue\n", name="n")
        sentinel(cluster, client, mailbox)
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(begin_end)] == [
        f"Slurm Job_id={begin_end} Name=be Began, Queued time T",
        f"Slurm Job_id={begin_end} Name=be Ended, Run time T, COMPLETED, ExitCode 0"]
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(fail)] == [
        f"Slurm Job_id={fail} Name=f Failed, Run time T, FAILED, ExitCode 3"]
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(everything)] == [
        f"Slurm Job_id={everything} Name=all Began, Queued time T",
        f"Slurm Job_id={everything} Name=all Failed, Run time T, FAILED, ExitCode 3"]
    assert mailbox.of(end_of_failure) == [] and mailbox.of(none) == []   # (END alone: silent about a failure)

    nobody = pwd.getpwnam("nobody")
    for record in mailbox.all():
        assert record["argv"][0] == "-s" and len(record["argv"]) == 3
        assert record["uid"] == record["euid"] == nobody.pw_uid != 0
        assert record["groups"] in ([], [nobody.pw_gid]) and record["stdin"] == "" and record["cwd"] == "/"
        assert all(name.startswith("SLURM_") for name in record["env"]), record["env"]
    assert mailbox.of(fail)[0]["argv"][2] == "someone@mail.example.org"
    assert mailbox.of(begin_end)[0]["argv"][2] == f"root@{DOMAIN}"   # (the submitter, with MailDomain)
    env = mailbox.of(fail)[0]["env"]
    assert (env["SLURM_JOB_NAME"], env["SLURM_JOB_STATE"], env["SLURM_JOB_MAIL_TYPE"]) == ("f", "FAILED", "Failed")
    assert env["SLURM_JOB_EXIT_CODE_MAX"] == "3" and env["SLURM_JOB_USER"] == "root"
    assert env["SLURM_JOB_NODELIST"] == "n1"


def test_hostile_job_names_and_mail_users_add_no_option_or_line(cluster, mailbox):
    with cluster.client() as client:
        for user in ("-oQ/tmp/evil", "root -oQ/tmp/evil", "root\nBcc: eve@evil.org", "|/bin/sh", "a,eve@evil.org"):
            with pytest.raises(InvalidJobSpec, match="mail_user"):
                client.submit(cluster.spec("#!/bin/sh\ntrue\n", mail_type="BEGIN", mail_user=user))
        hostile = run_job(cluster, client, "#!/bin/sh\ntrue\n", mail_type="BEGIN",
                          name="-oQ/tmp/evil\nBcc: eve@evil.org\r\nSubject: owned")
        sentinel(cluster, client, mailbox)
    [record] = mailbox.of(hostile)
    assert len(record["argv"]) == 3 and record["argv"][0] == "-s" and record["argv"][2] == f"root@{DOMAIN}"
    subject = record["argv"][1]
    assert "\n" not in subject and "\r" not in subject
    assert re.fullmatch(rf"Slurm Job_id={hostile} Name=-oQ/tmp/evil Bcc: eve@evil.org  Subject: owned Began, "
                        rf"Queued time {RUN}", subject)
    assert record["env"]["SLURM_JOB_NAME"] == "-oQ/tmp/evil\nBcc: eve@evil.org\r\nSubject: owned"


def test_an_array_is_mailed_once_as_a_whole(cluster, mailbox):
    with cluster.client() as client:
        array_id = client.submit(cluster.spec("#!/bin/sh\nexit $SLURM_ARRAY_TASK_ID\n", name="arr", array="0-2",
                                              mail_type="BEGIN,END,FAIL"))
        wait_until(lambda: all(j.state.is_terminal for j in client.list_jobs() if j.array_job_id == array_id)
                   and len([j for j in client.list_jobs() if j.array_job_id == array_id]) == 3, 60,
                   what="the array's tasks to end")
        sentinel(cluster, client, mailbox)
    assert mailbox.subjects(array_id) == [f"Slurm Array Summary Job_id={array_id}_* ({array_id}) Name=arr Began",
                                          f"Slurm Array Summary Job_id={array_id}_* ({array_id}) Name=arr Failed, "
                                          f"Mixed, ExitCode [0-2]"]


def test_time_limit_mails_come_once_each_before_the_timeout_mail(cluster, mailbox):
    with cluster.client() as client:
        job_id = run_job(cluster, client, "#!/bin/sh\nsleep 60\n", name="tl", time_limit_s=4,
                         mail_type="TIME_LIMIT_50,TIME_LIMIT,FAIL")
        assert client.get_job(job_id).state is JobState.TIMEOUT
        sentinel(cluster, client, mailbox)
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(job_id)] == [
        f"Slurm Job_id={job_id} Name=tl Reached 50% of time limit, Run time T",
        f"Slurm Job_id={job_id} Name=tl Reached time limit, Run time T",
        f"Slurm Job_id={job_id} Name=tl Failed, Run time T, TIMEOUT, ExitCode 0"]


def test_sbatch_mail_options_reach_the_mail_program(cluster, mailbox):
    done = command(cluster, "sbatch", "--parsable", "--mail-type=begin", "--mail-type=END",
                   "--mail-user=ops@example.org", "-J", "sb", "--wrap", "true")
    assert done.returncode == 0, done.stderr
    job_id = int(done.stdout)
    with cluster.client() as client:
        cluster.wait_job(client, job_id)
        assert client.get_job(job_id).spec.mail_type == "BEGIN,END"
        sentinel(cluster, client, mailbox)
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(job_id)] == [
        f"Slurm Job_id={job_id} Name=sb Began, Queued time T",
        f"Slurm Job_id={job_id} Name=sb Ended, Run time T, COMPLETED, ExitCode 0"]
    assert {r["argv"][2] for r in mailbox.of(job_id)} == {"ops@example.org"}
    bad = command(cluster, "sbatch", "--mail-type=sometimes", "--wrap", "true")
    assert (bad.returncode, bad.stderr) == (255, "sbatch: error: Invalid --mail-type specification\n")
    refused = command(cluster, "sbatch", "--mail-type=END", "--mail-user=-oQ/tmp/x", "--wrap", "true")
    assert refused.returncode == 1 and "Invalid job specification" in refused.stderr and "mail_user" in refused.stderr


def test_jem_submit_mail_options_reach_the_mail_program(cluster, mailbox):
    done = command(cluster, "submit", "--parsable", "--mail-type=fail,REQUEUE", "--mail-user=ops", "-J", "js",
                   "--wrap", "exit 2")
    assert done.returncode == 0, done.stderr
    job_id = int(done.stdout)
    with cluster.client() as client:
        cluster.wait_job(client, job_id)
        assert (client.get_job(job_id).spec.mail_type, client.get_job(job_id).spec.mail_user) == ("FAIL,REQUEUE", "ops")
        sentinel(cluster, client, mailbox)
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(job_id)] == [
        f"Slurm Job_id={job_id} Name=js Failed, Run time T, FAILED, ExitCode 2"]
    assert mailbox.of(job_id)[0]["argv"][2] == "ops"


def test_scontrol_show_config_shows_mailprog_and_maildomain(cluster, mailbox):
    done = command(cluster, "scontrol", "show", "config")
    assert done.returncode == 0, done.stderr
    assert f"MailProg                = {mailbox.program}\n" in done.stdout
    assert f"MailDomain              = {DOMAIN}\n" in done.stdout


def test_a_requeued_job_is_mailed_requeued_with_its_run_then_ended(cluster, mailbox):
    runs = os.path.join(cluster.workdir, "mail-runs")
    script = f"#!/bin/sh\necho run >> {runs}\n[ \"$(wc -l < {runs})\" -ge 2 ] || sleep 60\n"
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(script, name="rq", mail_type="END,REQUEUE"))
        wait_until(lambda: os.path.exists(runs), what="the first run")
        client.requeue(job_id)
        assert cluster.wait_job(client, job_id).state is JobState.COMPLETED
        sentinel(cluster, client, mailbox)
    assert [re.sub(RUN, "T", s) for s in mailbox.subjects(job_id)] == [
        f"Slurm Job_id={job_id} Name=rq Requeued, Run time T",
        f"Slurm Job_id={job_id} Name=rq Ended, Run time T, COMPLETED, ExitCode 0"]
    assert mailbox.of(job_id)[0]["env"]["SLURM_JOB_STATE"] == "PENDING"
    assert mailbox.of(job_id)[1]["env"]["SLURM_JOB_RESTART_COUNT"] == "1"
