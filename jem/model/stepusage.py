"""Live usage of a running job's steps (sstat): what each task used so far, as its
node's agent measured it, and the per-step figures merged from them.

A task is one process tree: a step task, or the batch script (the step "batch",
one task). Its figures are the tree's now: CPU time (the reaped descendants'
included), resident and virtual size with their peaks, major page faults and
bytes read and written. A step's figures are over its tasks: the largest and
smallest with the task and node that had it, the average per task and the total,
as Slurm's sstat prints them (MaxRSS, MaxRSSNode, MaxRSSTask, AveRSS, MinCPU...).
"""

from dataclasses import dataclass
from enum import Enum

BATCH_STEP = -1   # the step id of a job's batch script


@dataclass(frozen=True, slots=True)
class TaskUsage:
    """One task's usage so far on its node."""

    step_id: int                 # BATCH_STEP for the batch script
    task_id: int                 # the step's global task id (0 for the batch script)
    node: str
    cpu_us: int = 0              # user + system, reaped descendants included
    rss_kib: int = 0             # resident now, the tree's sum
    max_rss_kib: int = 0         # peak resident: the larger of now and any one process's peak
    vmsize_kib: int = 0          # virtual size now, the tree's sum
    max_vmsize_kib: int = 0      # peak virtual size, the tree's sum of each process's peak
    pages: int = 0               # major page faults
    read_bytes: int = 0          # read from storage (or the page cache where the kernel counts only that)
    write_bytes: int = 0
    pids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Figure:
    """One measure over a step's tasks: the largest and smallest task's value, where, and the
    average per task and total."""

    max: int = 0
    max_node: str = ""
    max_task: int = 0
    min: int = 0
    min_node: str = ""
    min_task: int = 0
    ave: float = 0.0
    total: int = 0


# The measures a step's figures are taken of: name -> the task's value.
MEASURES = {
    "cpu_us": lambda t: t.cpu_us,
    "rss_kib": lambda t: t.max_rss_kib,
    "ave_rss_kib": lambda t: t.rss_kib,
    "vmsize_kib": lambda t: t.max_vmsize_kib,
    "ave_vmsize_kib": lambda t: t.vmsize_kib,
    "pages": lambda t: t.pages,
    "read_bytes": lambda t: t.read_bytes,
    "write_bytes": lambda t: t.write_bytes,
}


@dataclass(frozen=True, slots=True)
class StepUsage:
    """A running step's usage so far, merged from its tasks on every node that answered."""

    job_id: int
    step_id: int
    n_tasks: int
    nodes: tuple[str, ...]
    pids: tuple[int, ...]
    figures: dict[str, Figure]   # keyed by MEASURES' names


class UsageProblem(Enum):
    """Why a job asked for has no usage rows."""

    NOT_FOUND = "not_found"        # unknown (or another's under PrivateData=jobs)
    NOT_RUNNING = "not_running"    # pending or ended: no steps run
    NOT_PERMITTED = "not_permitted"   # another user's job


@dataclass(frozen=True, slots=True)
class JobUsageReport:
    steps: tuple[StepUsage, ...] = ()
    problems: tuple[tuple[int, UsageProblem], ...] = ()   # (job id, why) for jobs without rows


def figure(tasks: list[TaskUsage], value) -> Figure:
    """The figure of one measure (`value(task)`) over `tasks`; the first task wins ties."""
    if not tasks:
        return Figure()
    values = [value(t) for t in tasks]
    top = max(range(len(tasks)), key=lambda i: (values[i], -i))
    low = min(range(len(tasks)), key=lambda i: (values[i], i))
    total = sum(values)
    return Figure(max=values[top], max_node=tasks[top].node, max_task=tasks[top].task_id,
                  min=values[low], min_node=tasks[low].node, min_task=tasks[low].task_id,
                  ave=total / len(tasks), total=total)


def merge(job_id: int, tasks: list[TaskUsage]) -> list[StepUsage]:
    """Each step's usage from its tasks (on any nodes), the batch step first, then by step id."""
    by_step: dict[int, list[TaskUsage]] = {}
    for task in tasks:
        by_step.setdefault(task.step_id, []).append(task)
    steps = []
    for step_id in sorted(by_step):
        own = sorted(by_step[step_id], key=lambda t: (t.task_id, t.node))
        nodes = tuple(dict.fromkeys(t.node for t in own))
        steps.append(StepUsage(job_id=job_id, step_id=step_id, n_tasks=len(own), nodes=nodes,
                               pids=tuple(pid for t in own for pid in t.pids),
                               figures={name: figure(own, value) for name, value in MEASURES.items()}))
    return steps
