"""Job mail as Slurm 22.05 sends it: --mail-type parsing, --mail-user checks (the attacks a
hostile user would try), subject lines and environment (agent.c's mail_job_info), and which
mails each job event calls for (job_completion_logger, _first_array_task, the time checks)."""

import dataclasses

import pytest

from jem.model.errors import InvalidJobSpec
from jem.model.job import Job, JobShape, JobSpec
from jem.model.mail import (MailType, check_mail_user, mail_recipient, mail_type_text, mail_types_of,
                            parse_mail_type)
from jem.model.mailmessage import ArraySummary, MailContext, job_mail, summary_mail, time_text
from jem.model.mailplan import MailPlan
from jem.model.notice import JobNotice, notice_of
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState

CONTEXT = MailContext(recipient="ann@example.org", cluster="c1", group="staff", now=0.0)


def notice(*, mail_type="ALL", **fields) -> JobNotice:
    spec = JobSpec(script="#!/bin/sh\n", name="x", account="physics", partition="debug",
                   mail_type=mail_type_text(parse_mail_type(mail_type)), working_dir="/home/ann")
    job = Job(job_id=12, spec=spec, user="ann", uid=1000, gid=1000, submit_time=1000.0,
              shape=JobShape(1, 1, Resources(2, 100, 0)), time_limit_s=100)
    return dataclasses.replace(notice_of(job, JobEvent.SUBMIT, 1000.0, 1), **fields)


def started(**fields) -> JobNotice:
    return notice(event=JobEvent.START, state=JobState.RUNNING, start_time=1001.0, nodes=("n1",), **fields)


def ended(event: JobEvent, state: JobState, *, exit_code=0, exit_signal=0, **fields) -> JobNotice:
    return notice(event=event, state=state, start_time=1001.0, end_time=1006.0, nodes=("n1",), exit_code=exit_code,
                  exit_signal=exit_signal, time=1006.0, **fields)


# ---------------------------------------------------------------- --mail-type and --mail-user

def test_mail_type_reads_as_slurms_parse_mail_type():
    assert parse_mail_type("begin,END") == {MailType.BEGIN, MailType.END}
    assert mail_type_text(parse_mail_type("ALL")) == "INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT"
    assert parse_mail_type("NONE") == frozenset() and parse_mail_type("BEGIN,NONE,END") == frozenset()
    assert parse_mail_type("fail,bogus") == {MailType.FAIL}
    assert mail_type_text(parse_mail_type("TIME_LIMIT,ARRAY_TASKS,TIME_LIMIT_50")) == \
        "ARRAY_TASKS,TIME_LIMIT_50,TIME_LIMIT"
    for bad in ("bogus", "", ","):
        with pytest.raises(ValueError):
            parse_mail_type(bad)


def test_a_spec_with_an_unknown_mail_type_is_refused():
    assert mail_types_of("BEGIN,END") == {MailType.BEGIN, MailType.END}
    with pytest.raises(InvalidJobSpec, match="mail_type"):
        JobSpec(script="#!/bin/sh\n", mail_type="BEGIN,ALL").validate()


@pytest.mark.parametrize("user", ["ann", "ann@example.org", "a.b+tag@mail.example.org", "u_1=x%y@h-1.org"])
def test_plain_addresses_and_user_names_are_mail_users(user):
    check_mail_user(user)
    JobSpec(script="#!/bin/sh\n", mail_user=user).validate()


@pytest.mark.parametrize("user", [
    "-oQ/tmp/evil",                 # an option of the mail program
    "--", "-s",
    "ann bob", "ann\tbob",          # a second recipient, or an option after a space
    "ann\nBcc: eve@evil.org",       # a header line
    "ann\rX: y", "ann\x00",
    "|/bin/sh -c id",               # a pipe recipient
    "/etc/passwd",                  # a file recipient
    "ann,eve@evil.org",             # a list
    ".ann", "ann@-host", "ann@host-", "ann@@host", "a@b@c", "ann@", "@host",
    "\"ann\"@host", "ann<eve@evil.org>",
    "a" * 255,
])
def test_hostile_mail_users_are_refused(user):
    with pytest.raises(ValueError):
        check_mail_user(user)
    with pytest.raises(InvalidJobSpec, match="mail_user"):
        JobSpec(script="#!/bin/sh\n", mail_user=user).validate()


def test_the_recipient_is_the_submitter_with_the_mail_domain_unless_given():
    assert mail_recipient("", "ann", "") == "ann"
    assert mail_recipient("", "ann", "example.org") == "ann@example.org"
    assert mail_recipient("bo@x.org", "ann", "example.org") == "bo@x.org"


# ---------------------------------------------------------------- subjects and environment

def test_time_text_is_slurms_secs2time_str():
    assert [time_text(s) for s in (0, 5, 3599, 86399, 86400, 90061)] == \
        ["00:00:00", "00:00:05", "00:59:59", "23:59:59", "1-00:00:00", "1-01:01:01"]


def test_single_job_subjects_are_slurms():
    assert job_mail(started(), MailType.BEGIN, context=CONTEXT).subject == \
        "Slurm Job_id=12 Name=x Began, Queued time 00:00:01"
    assert job_mail(ended(JobEvent.COMPLETE, JobState.COMPLETED), MailType.END, context=CONTEXT).subject == \
        "Slurm Job_id=12 Name=x Ended, Run time 00:00:05, COMPLETED, ExitCode 0"
    assert job_mail(ended(JobEvent.FAIL, JobState.FAILED, exit_code=1), MailType.FAIL, context=CONTEXT).subject == \
        "Slurm Job_id=12 Name=x Failed, Run time 00:00:05, FAILED, ExitCode 1"
    # Killed by a signal: no exit code, as WIFEXITED is false.
    assert job_mail(ended(JobEvent.OUT_OF_MEMORY, JobState.OUT_OF_MEMORY, exit_signal=9), MailType.FAIL,
                    context=CONTEXT).subject == "Slurm Job_id=12 Name=x Failed, Run time 00:00:05, OUT_OF_MEMORY"
    # Ends the controller decides are mailed before the job's exit status is known: ExitCode 0.
    assert job_mail(ended(JobEvent.TIMEOUT, JobState.TIMEOUT, exit_signal=15), MailType.FAIL,
                    context=CONTEXT).subject == \
        "Slurm Job_id=12 Name=x Failed, Run time 00:00:05, TIMEOUT, ExitCode 0"
    cancelled_pending = notice(event=JobEvent.CANCEL, state=JobState.CANCELLED, end_time=1003.0)
    assert job_mail(cancelled_pending, MailType.END, context=CONTEXT).subject == \
        "Slurm Job_id=12 Name=x Ended, Run time 00:00:00, CANCELLED, ExitCode 0"
    requeued = notice(event=JobEvent.REQUEUE, state=JobState.PENDING)
    assert job_mail(requeued, MailType.REQUEUE, context=CONTEXT, started=1001.0, ended=1004.0).subject == \
        "Slurm Job_id=12 Name=x Requeued, Run time 00:00:03"
    assert job_mail(started(), MailType.TIME_LIMIT_50, context=dataclasses.replace(CONTEXT, now=1051.0)).subject == \
        "Slurm Job_id=12 Name=x Reached 50% of time limit, Run time 00:00:50"
    assert job_mail(notice(event=JobEvent.CANCEL, state=JobState.CANCELLED, end_time=1003.0),
                    MailType.INVALID_DEPEND, context=CONTEXT).subject == "Slurm Job_id=12 Name=x Invalid dependency"


def test_array_subjects_are_slurms():
    task = ended(JobEvent.COMPLETE, JobState.COMPLETED, job_id=23, array_job_id=20, array_task_id=3)
    assert job_mail(task, MailType.END, context=CONTEXT).subject == \
        "Slurm Array Task Job_id=20_3 (23) Name=x Ended, Run time 00:00:05, COMPLETED, ExitCode 0"
    record = notice(job_id=20, array_job_id=20, state=JobState.COMPLETED)
    ok = ArraySummary(0, 0, False, JobState.COMPLETED)
    mixed = ArraySummary(0, 1 << 8, False, JobState.COMPLETED)
    signalled = ArraySummary(0, 9, True, JobState.CANCELLED)
    assert summary_mail(record, MailType.BEGIN, summary=None, context=CONTEXT).subject == \
        "Slurm Array Summary Job_id=20_* (20) Name=x Began"
    assert summary_mail(record, MailType.END, summary=ok, context=CONTEXT).subject == \
        "Slurm Array Summary Job_id=20_* (20) Name=x Ended, COMPLETED, ExitCode [0-0]"
    assert summary_mail(record, MailType.FAIL, summary=mixed, context=CONTEXT).subject == \
        "Slurm Array Summary Job_id=20_* (20) Name=x Failed, Mixed, ExitCode [0-1]"
    assert summary_mail(record, MailType.END, summary=signalled, context=CONTEXT).subject == \
        "Slurm Array Summary Job_id=20_* (20) Name=x Ended, Mixed, MaxSignal [9], with requeued tasks"


def test_the_environment_is_slurms_mail_environment_and_nothing_else():
    message = job_mail(ended(JobEvent.FAIL, JobState.FAILED, exit_code=2), MailType.FAIL, context=CONTEXT)
    env = message.environment
    assert env["SLURM_JOB_ID"] == env["SLURM_JOBID"] == "12" and env["SLURM_JOB_NAME"] == "x"
    assert env["SLURM_JOB_USER"] == "ann" and env["SLURM_JOB_UID"] == "1000" and env["SLURM_JOB_GROUP"] == "staff"
    assert env["SLURM_JOB_STATE"] == "FAILED" and env["SLURM_JOB_MAIL_TYPE"] == "Failed"
    assert env["SLURM_JOB_RUN_TIME"] == "00:00:05" and env["SLURM_JOB_EXIT_CODE_MAX"] == "2"
    assert env["SLURM_JOB_EXIT_CODE"] == "512" and env["SLURM_JOB_EXIT_CODE2"] == "2:0"
    assert env["SLURM_JOB_NODELIST"] == "n1" and env["SLURM_CLUSTER_NAME"] == "c1"
    assert env["SLURM_JOB_ACCOUNT"] == "physics" and env["SLURM_JOB_PARTITION"] == "debug"
    assert env["SLURM_JOB_WORK_DIR"] == "/home/ann"
    assert all(name.startswith("SLURM_") for name in env) and "PATH" not in env
    assert job_mail(started(), MailType.BEGIN, context=CONTEXT).environment["SLURM_JOB_QUEUED_TIME"] == "00:00:01"


def test_a_hostile_job_name_stays_on_the_subject_line():
    hostile = started(name="x\nBcc: eve@evil.org\r\n\r\nbody")
    subject = job_mail(hostile, MailType.BEGIN, context=CONTEXT).subject
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Slurm Job_id=12 Name=x Bcc: eve@evil.org    body Began, Queued time 00:00:01"


# ---------------------------------------------------------------- which mails

def kinds(mails) -> list[tuple[str, bool]]:
    return [(m.kind.value, m.is_summary) for m in mails]


def test_all_sends_begin_then_end_and_end_alone_is_silent_about_a_failure():
    plan = MailPlan()
    assert kinds(plan.plan(started())) == [("BEGIN", False)]
    assert kinds(plan.plan(ended(JobEvent.COMPLETE, JobState.COMPLETED))) == [("END", False)]
    plan.plan(started(mail_type="END"))
    assert plan.plan(ended(JobEvent.FAIL, JobState.FAILED, exit_code=1, mail_type="END")) == []
    plan.plan(started(mail_type="ALL"))
    assert kinds(plan.plan(ended(JobEvent.FAIL, JobState.FAILED, exit_code=1))) == [("FAIL", False)]
    assert kinds(plan.plan(ended(JobEvent.CANCEL, JobState.CANCELLED, mail_type="FAIL"))) == []
    assert plan.plan(started(mail_type="NONE")) == []


def test_requeue_mail_tells_the_last_run():
    plan = MailPlan()
    plan.plan(started(mail_type="REQUEUE"))
    [mail] = plan.plan(notice(event=JobEvent.REQUEUE, state=JobState.PENDING, time=1004.0, mail_type="REQUEUE"))
    assert (mail.kind, mail.started, mail.ended) == (MailType.REQUEUE, 1001.0, 1004.0)


def test_invalid_dependency_mail_comes_before_the_end_mail():
    plan = MailPlan()
    cancelled = notice(event=JobEvent.CANCEL, state=JobState.CANCELLED, end_time=1003.0,
                       reason=JobReason.DEPENDENCY_NEVER_SATISFIED)
    assert kinds(plan.plan(cancelled)) == [("INVALID_DEPEND", False), ("END", False)]


def test_time_limit_mails_fall_due_once_and_the_owed_go_out_at_the_timeout():
    plan = MailPlan()
    types = "TIME_LIMIT_50,TIME_LIMIT_80,TIME_LIMIT_90,TIME_LIMIT,FAIL"
    plan.plan(started(mail_type=types))
    assert plan.due(1050.0) == []
    assert kinds(plan.due(1051.0)) == [("TIME_LIMIT_50", False)]
    assert plan.due(1052.0) == []
    plan.plan(notice(event=JobEvent.SUSPEND, state=JobState.SUSPENDED, start_time=1001.0, time=1060.0,
                     mail_type=types))
    assert plan.due(1100.0) == []   # (suspended: its clock stops)
    plan.plan(notice(event=JobEvent.RESUME, state=JobState.RUNNING, start_time=1001.0, time=1100.0,
                     mail_type=types))
    assert kinds(plan.due(1121.0)) == [("TIME_LIMIT_80", False)]   # (20 s + 59 s before the suspension)
    timed_out = ended(JobEvent.TIMEOUT, JobState.TIMEOUT, mail_type=types)
    assert kinds(plan.plan(timed_out)) == [("TIME_LIMIT", False), ("TIME_LIMIT_90", False), ("FAIL", False)]
    assert not plan.has_runs()


def array_task(job_id: int, task_id: int, **fields) -> dict:
    return dict(job_id=job_id, array_job_id=20, array_task_id=task_id, array_size=3, **fields)


def test_an_array_is_mailed_as_a_whole_without_array_tasks():
    plan = MailPlan()
    plan.plan(notice(job_id=20, array_job_id=20, array_size=3, n_array_tasks=3))
    assert kinds(plan.plan(started(**array_task(21, 0)))) == [("BEGIN", True)]
    assert plan.plan(started(**array_task(22, 1))) == []   # (only the first task's start)
    assert plan.plan(ended(JobEvent.COMPLETE, JobState.COMPLETED, **array_task(21, 0))) == []
    assert plan.plan(started(**array_task(20, 2))) == []
    assert plan.plan(ended(JobEvent.FAIL, JobState.FAILED, exit_code=3, **array_task(22, 1))) == []
    [mail] = plan.plan(ended(JobEvent.COMPLETE, JobState.COMPLETED, **array_task(20, 2)))
    assert (mail.kind, mail.is_summary, mail.notice.job_id) == (MailType.FAIL, True, 20)
    assert mail.summary == ArraySummary(0, 3 << 8, False, JobState.COMPLETED)


def test_array_tasks_mails_each_task():
    plan = MailPlan()
    for job_id, task_id in ((21, 0), (22, 1)):
        assert kinds(plan.plan(started(mail_type="BEGIN,END,ARRAY_TASKS", **array_task(job_id, task_id)))) == \
            [("BEGIN", False)]
        assert kinds(plan.plan(ended(JobEvent.COMPLETE, JobState.COMPLETED, mail_type="BEGIN,END,ARRAY_TASKS",
                                     **array_task(job_id, task_id)))) == [("END", False)]


def test_a_cancelled_unsplit_array_ends_for_all_its_tasks():
    plan = MailPlan()
    record = notice(event=JobEvent.CANCEL, state=JobState.CANCELLED, end_time=1003.0, job_id=20, array_job_id=20,
                    array_size=3, n_array_tasks=3)
    [mail] = plan.plan(record)
    assert (mail.kind, mail.is_summary, mail.summary.max_status) == (MailType.END, True, 9)


def test_sbatch_mail_types_add_up_across_directives_variables_and_command_line():
    from jem_slurm import sbatch_options as opts

    settings: dict = {}
    found, _ = opts.OPTIONS.parse(opts.directive_args("#!/bin/sh\n#SBATCH --mail-type=BEGIN\n"), stop_at_operand=True)
    opts.apply_settings(settings, found)
    found, _ = opts.OPTIONS.parse(["--mail-type=fail", "--mail-type=NONE", "--mail-user=ops"], stop_at_operand=True)
    opts.apply_settings(settings, found)
    assert mail_type_text(settings["mail_type"]) == "BEGIN,FAIL" and settings["mail_user"] == "ops"


@pytest.mark.parametrize("mail_type, mail_user, domain, line", [
    ("ALL", "", "", " MailUser=ann MailType=INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT"),
    ("end,begin", "", "example.org", " MailUser=ann@example.org MailType=BEGIN,END"),
    ("FAIL", "bo@x.org", "example.org", " MailUser=bo@x.org MailType=FAIL"),
    ("NONE", "bo@x.org", "", None),
])
def test_scontrol_show_job_has_slurms_mail_line_after_power(mail_type, mail_user, domain, line):
    """Slurm 22.05's job_info.c: `MailUser=%s MailType=%s` (print_mail_type's order) on a line of its
    own after Power=, only for a job with mail types; its user is _get_mail_user's."""
    from jem_slurm import scontrol_show

    spec = JobSpec(script="#!/bin/sh\n", name="x", partition="debug", working_dir="/home/ann",
                   mail_type=mail_type_text(parse_mail_type(mail_type)) if mail_type != "NONE" else "",
                   mail_user=mail_user)
    job = Job(job_id=12, spec=spec, user="ann", uid=1000, gid=1000, submit_time=1000.0,
              shape=JobShape(1, 1, Resources(2, 100, 0)), time_limit_s=100)
    record = scontrol_show.job_record(job, 2000.0, mail_domain=domain)
    if line is None:
        assert "MailUser=" not in record and record.rstrip().endswith("Power=")
    else:
        assert record.rstrip().endswith(f"   Power=\n   {line.strip()}")
