"""The mails slurmctld sends about a job, worded as Slurm 22.05 words them: the subject line
(agent.c's mail_job_info) and the environment MailProg runs with (job_mgr.c's
job_common_env_vars, and the mail's own SLURM_JOB_STATE, SLURM_JOB_MAIL_TYPE, times and exit codes).

    Slurm Job_id=12 Name=x Began, Queued time 00:00:01
    Slurm Job_id=12 Name=x Ended, Run time 00:00:05, COMPLETED, ExitCode 0
    Slurm Job_id=12 Name=x Failed, Run time 00:00:05, FAILED, ExitCode 1
    Slurm Array Task Job_id=20_3 (23) Name=x Ended, Run time 00:00:02, COMPLETED, ExitCode 0
    Slurm Array Summary Job_id=20_* (20) Name=x Failed, Mixed, ExitCode [0-1]

Exit codes are wait statuses, as Slurm keeps them: an exit code N is N << 8, a signal S is S.
A job the controller ended (cancelled, timed out, preempted, its node failed) is mailed with exit
code 0, as Slurm mails it at that moment, before the job's own exit status is known. Times are
whole seconds (Slurm's time_t), printed HH:MM:SS or D-HH:MM:SS. The user's text (the job name)
goes into the subject with its control characters made spaces: it cannot add a header line.
"""

from dataclasses import dataclass, field

from jem.model.mail import MailType
from jem.model.node import node_list
from jem.model.notice import JobNotice
from jem.model.states import JobEvent, JobState

# _mail_type_str: the words each kind of mail says.
KIND_WORDS = {
    MailType.INVALID_DEPEND: "Invalid dependency", MailType.BEGIN: "Began", MailType.END: "Ended",
    MailType.FAIL: "Failed", MailType.REQUEUE: "Requeued", MailType.STAGE_OUT: "StageOut/Teardown",
    MailType.TIME_LIMIT: "Reached time limit", MailType.TIME_LIMIT_90: "Reached 90% of time limit",
    MailType.TIME_LIMIT_80: "Reached 80% of time limit", MailType.TIME_LIMIT_50: "Reached 50% of time limit",
}
_TIME_LIMITS = (MailType.TIME_LIMIT, MailType.TIME_LIMIT_90, MailType.TIME_LIMIT_80, MailType.TIME_LIMIT_50)
# Ends the controller decides (Slurm mails them before the job's exit status comes back).
_CONTROLLER_ENDS = (JobEvent.CANCEL, JobEvent.TIMEOUT, JobEvent.PREEMPT, JobEvent.NODE_FAIL)


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One run of the mail program: `program -s subject recipient`, with `environment` alone."""

    job_id: int
    kind: MailType
    recipient: str
    subject: str
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArraySummary:
    """What an array's mails summarize (Slurm's array_recs): the least and greatest wait status of
    its ended tasks, whether any was requeued, and the state of the array's own record."""

    min_status: int
    max_status: int
    has_requeued: bool
    state: JobState


@dataclass(frozen=True, slots=True)
class MailContext:
    """What a mail says beyond the job: its recipient, the cluster, the job's group name, now."""

    recipient: str
    cluster: str
    group: str
    now: float


def time_text(seconds: float) -> str:
    """Slurm's secs2time_str.

    >>> time_text(5), time_text(90061), time_text(-1)
    ('00:00:05', '1-01:01:01', 'INVALID')
    """
    seconds = int(seconds)
    if seconds < 0:
        return "INVALID"
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def wait_status(exit_code: int, exit_signal: int) -> int:
    """The wait status Slurm keeps for an exit code or a signal (a signal wins)."""
    return exit_signal & 0x7F if exit_signal else (exit_code & 0xFF) << 8


def _has_exited(status: int) -> bool:
    return status & 0x7F == 0


def _signal_of(status: int) -> int:
    return status & 0x7F if status & 0x7F not in (0, 0x7F) else 0


def mail_status(notice: JobNotice) -> int:
    """The wait status a job's end mail reports (0 for the ends the controller decides)."""
    return 0 if notice.event in _CONTROLLER_ENDS else wait_status(notice.exit_code, notice.exit_signal)


def job_mail(notice: JobNotice, kind: MailType, *, context: MailContext, started: float | None = None,
             ended: float | None = None) -> MailMessage:
    """The mail of `kind` about one job or one array task. `started`/`ended` stand for the run
    when the notice no longer holds it (a requeued job's last run)."""
    start = notice.start_time if started is None else started
    end = ended if ended is not None else notice.end_time if notice.state.is_terminal else None
    if start is None and end is not None:
        start = end   # (a job ended before it started: Slurm sets its start to its end)
    env = _common_environment(notice, context, is_complete=kind in (MailType.END, MailType.FAIL))
    env["SLURM_JOB_STATE"], env["SLURM_JOB_MAIL_TYPE"] = notice.state.value, KIND_WORDS[kind]
    when = ""
    if kind is MailType.BEGIN and start is not None:
        when = ", Queued time " + time_text(int(start) - int(notice.submit_time))
        env["SLURM_JOB_QUEUED_TIME"] = when.rpartition(" ")[2]
    elif kind in (MailType.END, MailType.FAIL, MailType.REQUEUE) and start is not None and end is not None:
        when = ", Run time " + time_text(int(end) - int(start))
        env["SLURM_JOB_RUN_TIME"] = when.rpartition(" ")[2]
    elif kind in _TIME_LIMITS and start is not None:
        when = ", Run time " + time_text(int(context.now) - int(start))
        env["SLURM_JOB_RUN_TIME"] = when.rpartition(" ")[2]
    outcome = ""
    if kind in (MailType.END, MailType.FAIL):
        status = mail_status(notice)
        outcome = f", {notice.state.value}" + (f", ExitCode {status >> 8}" if _has_exited(status) else "")
        env["SLURM_JOB_EXIT_CODE_MAX"] = str(status >> 8 if _has_exited(status) else 0)
    if notice.array_task_id is not None:
        head = f"Slurm Array Task Job_id={notice.array_job_id}_{notice.array_task_id} ({notice.job_id})"
    else:
        head = f"Slurm Job_id={notice.job_id}"
    subject = f"{head} Name={_plain(notice.name)} {KIND_WORDS[kind]}{when}{outcome}"
    return MailMessage(notice.job_id, kind, context.recipient, subject, env)


def summary_mail(record: JobNotice, kind: MailType, *, summary: ArraySummary | None,
                 context: MailContext) -> MailMessage:
    """The mail of `kind` about a whole array (no ARRAY_TASKS): `record` is the array's own
    record (its latest notice), `summary` its tasks' outcome (for END and FAIL)."""
    env = _common_environment(record, context, is_complete=kind in (MailType.END, MailType.FAIL))
    env["SLURM_JOB_STATE"] = (summary.state if summary is not None else record.state).value
    env["SLURM_JOB_MAIL_TYPE"] = KIND_WORDS[kind]
    outcome = ""
    if kind in (MailType.END, MailType.FAIL) and summary is not None:
        outcome, exit_env = _summary_outcome(summary)
        env.update(exit_env)
    subject = (f"Slurm Array Summary Job_id={record.array_job_id}_* ({record.array_job_id}) "
               f"Name={_plain(record.name)} {KIND_WORDS[kind]}{outcome}")
    return MailMessage(record.array_job_id, kind, context.recipient, subject, env)


def _summary_outcome(summary: ArraySummary) -> tuple[str, dict[str, str]]:
    low, high = summary.min_status, summary.max_status
    if _has_exited(low) and _has_exited(high):
        state = "Mixed" if low >> 8 == 0 and high >> 8 > 0 else summary.state.value
        text, env = (f", {state}, ExitCode [{low >> 8}-{high >> 8}]",
                     {"SLURM_JOB_EXIT_CODE_MIN": str(low >> 8), "SLURM_JOB_EXIT_CODE_MAX": str(high >> 8)})
    elif _signal_of(high):
        text, env = f", Mixed, MaxSignal [{_signal_of(high)}]", {"SLURM_JOB_TERM_SIGNAL_MAX": str(_signal_of(high))}
    elif _has_exited(high):
        text, env = f", Mixed, MaxExitCode [{high >> 8}]", {"SLURM_JOB_EXIT_CODE_MAX": str(high >> 8)}
    else:
        text, env = f", {summary.state.value}", {"SLURM_JOB_EXIT_CODE_MAX": "0"}
    return text + (", with requeued tasks" if summary.has_requeued else ""), env


def _common_environment(notice: JobNotice, context: MailContext, *, is_complete: bool) -> dict[str, str]:
    """job_common_env_vars: what MailProg (and Slurm's PrologSlurmctld) is told of the job."""
    env = {"SLURM_JOB_ACCOUNT": notice.account}
    if is_complete:
        status = mail_status(notice)
        env["SLURM_JOB_DERIVED_EC"] = str(status)
        env["SLURM_JOB_EXIT_CODE2"] = f"{status >> 8 if _has_exited(status) else 0}:{_signal_of(status)}"
        env["SLURM_JOB_EXIT_CODE"] = str(status)
    if notice.array_task_id is not None:
        env["SLURM_ARRAY_JOB_ID"] = str(notice.array_job_id)
        env["SLURM_ARRAY_TASK_ID"] = str(notice.array_task_id)
    env["SLURM_CLUSTER_NAME"] = context.cluster
    env["SLURM_JOB_GID"], env["SLURM_JOB_GROUP"] = str(notice.gid), context.group
    env["SLURM_JOBID"] = env["SLURM_JOB_ID"] = str(notice.job_id)
    env["SLURM_JOB_NAME"] = notice.name
    env["SLURM_JOB_NODELIST"] = node_list(notice.nodes) if notice.nodes else "(null)"
    if notice.nodes:
        n_nodes = len(notice.nodes)
        env["SLURM_JOB_CPUS_PER_NODE"] = f"{notice.cpus_per_node}" + (f"(x{n_nodes})" if n_nodes > 1 else "")
        env["SLURM_JOB_NUM_NODES"] = str(n_nodes)
    env["SLURM_JOB_PARTITION"] = notice.partition
    if notice.reservation:
        env["SLURM_JOB_RESERVATION"] = notice.reservation
    env["SLURM_JOB_RESTART_COUNT"] = str(notice.restart_count)
    env["SLURM_JOB_UID"], env["SLURM_JOB_USER"] = str(notice.uid), notice.user
    for name, value in (("SLURM_JOB_CONSTRAINTS", notice.constraint), ("SLURM_JOB_STDERR", notice.stderr_pattern),
                        ("SLURM_JOB_STDIN", notice.stdin_path), ("SLURM_JOB_STDOUT", notice.stdout_pattern),
                        ("SLURM_JOB_WORK_DIR", notice.working_dir)):
        if value:
            env[name] = value
    return env


def _plain(text: str) -> str:
    """`text` with every control character a space: one line, whatever the user sent."""
    return "".join(" " if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in text)
