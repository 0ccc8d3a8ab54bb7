"""What the commands show about a job, computed once from a jem.model Job: times, counts, node lists, states.

Times print as Slurm prints them: local ISO 8601 without a zone
(2026-11-26T23:44:23), durations as M:SS / H:MM:SS / D-HH:MM:SS.
"""

import datetime as dt
import functools

import hostlist

from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.model.tres import job_tres


def iso(t: float | None, missing: str = "N/A") -> str:
    if not t:
        return missing
    whole_s = int(t)
    # fromtimestamp rounds to the microsecond, so only a time in the last microsecond of a
    # second can print as the next one: those take the uncached way.
    if t - whole_s < 0.999999:
        return _iso_of_second(whole_s)
    return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=4096)  # jobs listed together were often submitted in the same second
def _iso_of_second(t: int) -> str:
    return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def elapsed_s(job, now: float) -> int:
    if job.start_time is None:
        return 0
    end = job.end_time if job.end_time is not None else now
    return int(max(0.0, end - job.start_time))


def total_cpus(job) -> int:
    return job.shape.n_nodes * job.shape.per_node.cpus


def node_list(job) -> str:
    return hostlist.collect_hostlist(list(job.nodes)) if job.nodes else ""


def exit_code(job) -> str:
    return f"{job.exit_code}:{job.exit_signal}"


def wait_status(exit_code: int, exit_signal: int) -> int:
    """The wait(2) status Slurm keeps for a process: the exit code << 8, or the signal that killed it.

    >>> wait_status(3, 0), wait_status(0, 9)
    (768, 9)
    """
    return exit_code << 8 if exit_code else exit_signal & 0x7f


def status_text(status: int) -> str:
    """A wait status as sacct's ExitCode prints it, "code:signal".

    >>> status_text(1280), status_text(15)
    ('5:0', '0:15')
    """
    return f"{status >> 8 & 0xff}:{status & 0x7f}"


# The status slurmstepd gives a step whose processes the kernel killed for memory (Slurm's SIG_OOM):
# sacct prints it 0:125, and squeue --json's exit_code 253, whatever the script's own status was.
SIG_OOM_STATUS = 253


def batch_status(job) -> int:
    """The batch script's wait status as Slurm keeps it: SIG_OOM for a job ended OUT_OF_MEMORY."""
    return batch_status_of(job.state, job.exit_code, job.exit_signal)


@functools.lru_cache(maxsize=1024)   # (squeue --json asks for every job; they end a few ways)
def batch_status_of(state: JobState, exit_code: int, exit_signal: int) -> int:
    if state is JobState.OUT_OF_MEMORY:
        return SIG_OOM_STATUS
    return wait_status(exit_code, exit_signal)


def derived_status(steps) -> int:
    """DerivedExitCode's wait status: the highest of the job's srun steps (not its batch
    script), 0 for none (man sacct; slurmctld keeps the MAX of the steps' statuses)."""
    return max((wait_status(step.exit_code, step.exit_signal) for step in steps if step.end_time is not None),
               default=0)


# Slurm's words for the reasons JEM's controller names otherwise: Slurm 22.05 gives a batch
# script killed by a signal FAIL_LAUNCH ("JobLaunchFailure"; job_complete() keeps FAIL_SIGNAL,
# "RaisedSignal", for other uses), and NodeFail is an older record's NodeDown.
_SLURM_REASON_NAMES = {JobReason.RAISED_SIGNAL: "JobLaunchFailure", JobReason.LAUNCH_FAILED: "JobLaunchFailure",
                       JobReason.NODE_FAIL: "NodeDown"}
REASON_NAMES = {reason: _SLURM_REASON_NAMES.get(reason, reason.value) for reason in JobReason}


def reason_name(job) -> str:
    """The job's reason as Slurm names it (squeue's %r, scontrol's Reason=)."""
    return REASON_NAMES[job.reason]


@functools.lru_cache(maxsize=256)  # squeue --json asks once per job, of a few groups
def group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def expected_end(job) -> float | None:
    """The end time Slurm shows: the real one, else start + limit for a running job."""
    if job.end_time is not None:
        return job.end_time
    if job.start_time is not None and job.time_limit_s is not None:
        return job.start_time + job.time_limit_s
    return None


def dependency_text(job) -> str:
    """squeue's %E / scontrol's Dependency=: each unmet term marked as Slurm marks it, or (null)."""
    if not job.dependency:
        return "(null)"
    from jem.model.dependency import parse_dependency

    dependency = parse_dependency(job.dependency)
    mark = "(failed)" if job.reason is JobReason.DEPENDENCY_NEVER_SATISFIED else "(unfulfilled)"
    return ("?" if dependency.is_any else ",").join(f"{term}{mark}" for term in dependency.terms)


def array_task_text(job) -> str:
    """squeue's %K / sacct's ArrayTaskID: the task index, an array record's unsplit ranges, or N/A:
    what follows the `_` of the job's label (`12_3`, `12_[4-9%2]`; none in `12`), which a
    listed job has at hand (jem.model.lazyjob)."""
    return task_text_of_label(job.label)


def task_text_of_label(label: str) -> str:
    return label.partition("_")[2].strip("[]") or "N/A"


def gres_text(gpus: int, gres: "dict[str, int] | tuple[tuple[str, int], ...]", *, gpu_type: str = "") -> str:
    """Slurm's Gres list, "gpu:2,nvme:1" ("gpu:a100:2" for typed GPUs), or "(null)" when there is none."""
    gpu = f"gpu:{gpu_type}:{gpus}" if gpu_type else f"gpu:{gpus}"
    items = ([gpu] if gpus else []) + [f"{name}:{count}" for name, count in dict(gres).items() if count]
    return ",".join(items) or "(null)"


def tres_per_node(job) -> str:
    """Slurm 22.05's TresPerNode of a job, "gres:gpu:a100:2,gres:nvme:1", or "" when it asks for no GRES."""
    return tres_per_node_of(job.shape.per_node.gpus, job.spec.gres_per_node, job.spec.gpu_type)


@functools.lru_cache(maxsize=1024)   # listed jobs ask for a few kinds (squeue --json asks for every job)
def tres_per_node_of(gpus: int, gres_per_node: tuple, gpu_type: str) -> str:
    per_node = gres_text(gpus, gres_per_node, gpu_type=gpu_type)
    return "" if per_node == "(null)" else ",".join(f"gres:{item}" for item in per_node.split(","))


def gres_tres(job, n_nodes: int) -> list[str]:
    """The job's GRES as TRES items over `n_nodes` nodes, as limits count them (jem.model.tres):
    ["gres/gpu=2", "gres/gpu:a100=2"] for a typed request, both names."""
    tres = job_tres(cpus=0, mem_mib=0, n_nodes=n_nodes, gpus=job.shape.per_node.gpus, gpu_type=job.spec.gpu_type,
                    gres=job.spec.gres_per_node)
    return [f"{name}={amount}" for name, amount in tres.items() if name.startswith("gres/")]


def tres_text(job) -> str:
    """The job's TRES as Slurm's job record lists them: "cpu=4,mem=400M,node=1,billing=4", then its GRES."""
    return tres_text_of(job.shape, job.spec.gpu_type, job.spec.gres_per_node)


@functools.lru_cache(maxsize=1024)   # listed jobs share a few shapes (squeue --json asks for every job)
def tres_text_of(shape, gpu_type: str, gres_per_node: tuple) -> str:
    from jem.model.units import format_mem_mib

    cpus = shape.n_nodes * shape.per_node.cpus
    tres = job_tres(cpus=0, mem_mib=0, n_nodes=shape.n_nodes, gpus=shape.per_node.gpus, gpu_type=gpu_type,
                    gres=gres_per_node)
    return ",".join([f"cpu={cpus},mem={format_mem_mib(shape.per_node.mem_mib * shape.n_nodes)},"
                     f"node={shape.n_nodes},billing={cpus}",
                     *(f"{name}={amount}" for name, amount in tres.items() if name.startswith("gres/"))])


def features_text(features: "tuple[str, ...] | list[str]") -> str:
    return ",".join(features) or "(null)"


def job_id_selection(texts: list[str]) -> tuple[list[int], dict[int, set[int]]]:
    """-j values (`12`, `12_3`, `12_[1-4]`): the job ids to ask for, and per array id the
    tasks wanted (arrays named without tasks: all). ValueError names a malformed value."""
    from jem.model.arrays import parse_job_label

    job_ids: list[int] = []
    tasks_wanted: dict[int, set[int]] = {}
    for text in texts:
        job_id, task_ids = parse_job_label(text)
        job_ids.append(job_id)
        if task_ids:
            tasks_wanted.setdefault(job_id, set()).update(task_ids)
    return job_ids, tasks_wanted


def job_filter(*, users=(), states=(), partitions=(), job_ids=(), tasks_wanted=None, accounts=(), names=(), qos=(),
               nodes=(), alive_from: float | None = None, alive_until: float | None = None):
    """The JobFilter of a command's selection options (the controller applies it)."""
    from jem.model.jobfilter import JobFilter

    return JobFilter(
        users=frozenset(users), states=frozenset(states), partitions=frozenset(partitions),
        job_ids=frozenset(job_ids), accounts=frozenset(accounts), names=frozenset(names), qos=frozenset(qos),
        nodes=frozenset(nodes), alive_from=alive_from, alive_until=alive_until,
        array_tasks=frozenset((array, task) for array, tasks in (tasks_wanted or {}).items() for task in tasks))
