"""A pending job's planned start as the commands show it: its time, the nodes held for it
(Slurm's SchedNodes) and its basis, a reservation or an estimate.

JEM plans two kinds of start (`Job.planned_start_is_estimate`): a reservation, which the
scheduler holds (the nodes stay set aside for the job from that time), and an estimate, what
a conservative plan of the queue gives, with nothing held. Slurm's columns have no place for
the difference, and tools parse those columns, so the difference shows where Slurm's meaning
allows it and in fields of JEM's own:

- START_TIME (squeue `%S`) and StartTime= (scontrol) show the time of either kind, as Slurm
  shows its backfill's expected starts there;
- SCHEDNODES (`%Y`, `-O SchedNodes`) and SchedNodeList= name the nodes of a reservation only:
  an estimate holds none, so it shows what Slurm shows for a job without sched nodes
  (`(null)`, and no SchedNodeList= key);
- the basis itself: squeue `-O StartBasis` and scontrol's StartBasis= (RESERVATION, ESTIMATE, or
  FORECAST: an estimate made coarser, for a job beyond the exact estimates' time budget).

Times are epoch seconds.
"""

from jem.model.node import node_list

RESERVATION = "RESERVATION"
ESTIMATE = "ESTIMATE"
FORECAST = "FORECAST"


def has_planned_start(job) -> bool:
    """Whether the job waits with a planned start (a started job's planned fields mean nothing)."""
    return job.is_pending and job.planned_start is not None


def sched_nodes(job) -> str:
    """The nodes held for the job as a Slurm hostlist (`n[1-3]`); "" when none are held."""
    if not has_planned_start(job) or job.planned_start_is_estimate or not job.planned_nodes:
        return ""
    return node_list(job.planned_nodes)


def basis(job) -> str:
    """RESERVATION, ESTIMATE or FORECAST; "" for a job without a planned start."""
    if not has_planned_start(job):
        return ""
    if job.planned_start_is_forecast:
        return FORECAST
    return ESTIMATE if job.planned_start_is_estimate else RESERVATION


def planned_end(job) -> float | None:
    """Slurm's EndTime of a waiting job: its planned start plus its time limit (None without either).

    E.g. planned to start at 12:00 with a 30-minute limit: it ends by 12:30.
    """
    if not has_planned_start(job) or job.time_limit_s is None:
        return None
    return job.planned_start + job.time_limit_s
