"""A job event as it was committed: the job's facts that a mail or a webhook tells, copied when
the event was committed (the job record itself changes on).

Times are epoch seconds; `end_time` is the event's time for an end event. Nothing secret is
copied: no script, no environment.
"""

from dataclasses import dataclass

from jem.model.arrays import accepted_array
from jem.model.job import Job
from jem.model.mail import MailType, mail_types_of
from jem.model.reasons import JobReason
from jem.model.states import JobEvent, JobState


@dataclass(frozen=True, slots=True)
class JobNotice:
    """One committed event of one job (`seq`: the store's order of events)."""

    seq: int
    time: float
    event: JobEvent
    job_id: int
    name: str
    user: str
    uid: int
    gid: int
    account: str
    partition: str
    reservation: str
    constraint: str
    state: JobState
    reason: JobReason
    submit_time: float
    start_time: float | None
    end_time: float | None
    exit_code: int
    exit_signal: int
    nodes: tuple[str, ...]
    cpus_per_node: int
    time_limit_s: int | None
    restart_count: int
    working_dir: str
    stdout_pattern: str
    stderr_pattern: str
    stdin_path: str
    array_job_id: int              # 0 outside arrays
    array_task_id: int | None      # None outside arrays and for a record standing for several tasks
    n_array_tasks: int             # tasks this record stands for: 1, or an unsplit record's count
    array_size: int                # tasks in the whole array (0 outside arrays)
    mail_types: frozenset[MailType]
    mail_user: str

    @property
    def label(self) -> str:
        """The id as Slurm prints it: 12, or a task 12_3."""
        return f"{self.array_job_id}_{self.array_task_id}" if self.array_task_id is not None else str(self.job_id)


def notice_of(job: Job, event: JobEvent, time: float, seq: int) -> JobNotice:
    """The facts of `job` just after `event` was committed (quick: called under the controller's lock)."""
    spec = job.spec
    return JobNotice(
        seq=seq, time=time, event=event, job_id=job.job_id, name=spec.name, user=job.user, uid=job.uid, gid=job.gid,
        account=spec.account, partition=spec.partition, reservation=spec.reservation, constraint=spec.constraint,
        state=job.state, reason=job.reason, submit_time=job.submit_time, start_time=job.start_time,
        end_time=job.end_time, exit_code=job.exit_code, exit_signal=job.exit_signal, nodes=job.nodes,
        cpus_per_node=job.shape.per_node.cpus, time_limit_s=job.time_limit_s, restart_count=job.restart_count,
        working_dir=spec.working_dir, stdout_pattern=spec.stdout_pattern, stderr_pattern=spec.stderr_pattern,
        stdin_path=spec.stdin_path, array_job_id=job.array_job_id, array_task_id=job.array_task_id,
        n_array_tasks=len(job.array_pending) or 1,
        array_size=len(accepted_array(spec.array).indices) if spec.array else 0,
        mail_types=mail_types_of(spec.mail_type),
        mail_user=spec.mail_user,
    )
