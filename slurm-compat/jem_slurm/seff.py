"""seff JOBID: a job's CPU and memory efficiency, as Slurm's contributed `seff` (2.1) prints it.

From the job's record (and its steps' on other nodes): the CPU time its
processes used against its cores times its wall-clock time, and its memory
peak against what it was allocated. Like seff, a pending job shows no
figures, a running one its figures so far with seff's warning, and an unknown
job exits 2 with "Job not found." on stderr. `-v` prints seff's version line
and `-h` its usage, both with exit code 1 as seff does; `-d` adds the raw
figures.
"""

import math
import sys

from jem_slurm import jobview
from jem_slurm.command import Failure, connect, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable, UsageError

PROG = "seff"
VERSION = "seff Version 2.1"
OPTIONS = OptionTable([Option("", "h", NONE, "help"), Option("", "v", NONE, "version"),
                       Option("", "d", NONE, "debug"), Option("", "f", REQUIRED, "file")])
USAGE = ("Usage: seff [Options] <Jobid>\n"
         "       Options:\n"
         "       -h    Help menu\n"
         "       -v    Version\n"
         "       -d    Debug mode: display raw Slurm data")


def duration(seconds: int) -> str:
    """seff's D-HH:MM:SS (no day part under a day).

    >>> duration(59), duration(3661), duration(90061)
    ('00:00:59', '01:01:01', '1-01:01:01')
    """
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}-" * (days > 0) + f"{hours:02d}:{minutes:02d}:{secs:02d}"


def size(kib: float) -> str:
    """seff's memory size from KiB: two decimals in the largest unit it reaches (0.00 MB for none).

    >>> size(0), size(512), size(1536), size(4 * 1024 * 1024)
    ('0.00 MB', '512.00 KB', '1.50 MB', '4.00 GB')
    """
    if kib <= 0:
        return "0.00 MB"
    exponent = min(int(math.log(kib) / math.log(1024)), 5)
    return f"{kib / 1024 ** exponent:.2f} {'KMGTPE'[exponent]}B"


def report(job, steps: list, *, cluster: str, now: float) -> list[str]:
    """seff's lines for `job` (a jem.model Job) and its steps (jem.model JobStep records)."""
    state = job.state.value
    n_nodes = max(1, job.shape.n_nodes)
    n_cpus = max(1, jobview.total_cpus(job))
    lines = [f"Job ID: {job.job_id}"]
    if job.array_task_id is not None:
        lines.append(f"Array Job ID: {job.array_job_id}_{job.array_task_id}")
    lines += [f"Cluster: {cluster}", f"User/Group: {job.user}/{jobview.group_name(job.gid)}",
              f"State: {state}" if state in ("PENDING", "RUNNING") else f"State: {state} (exit code {job.exit_code})"]
    lines += [f"Cores: {n_cpus}"] if n_cpus == 1 else [f"Nodes: {n_nodes}", f"Cores per node: {n_cpus // n_nodes}"]
    if state == "PENDING":
        return lines + ["Efficiency not available for jobs in the PENDING state."]
    wall_s = jobview.elapsed_s(job, now)
    # The job's own usage covers its batch node (step tasks there run in its cgroup); steps
    # that ran only elsewhere add theirs (a step's usage is not split by node: one that also
    # ran on the batch node is counted there). Memory: the largest peak of one part, as seff
    # takes a step's.
    parts = [job.usage, *(step.usage for step in steps if job.nodes and job.nodes[0] not in step.nodes)]
    cpu_s = round(sum(u.cpu_user_us + u.cpu_system_us for u in parts) / 1e6)
    mem_kib = max(u.max_rss_kib for u in parts)
    core_wall_s = wall_s * n_cpus
    alloc_kib = job.shape.per_node.mem_mib * 1024 * n_nodes
    per = (f"{size(alloc_kib / n_cpus)}/core" if job.spec.mem_per_cpu_mib is not None
           else f"{size(alloc_kib / n_nodes)}/node")
    lines += [f"CPU Utilized: {duration(cpu_s)}",
              f"CPU Efficiency: {100 * cpu_s / core_wall_s if core_wall_s else 0.0:.2f}% of "
              f"{duration(core_wall_s)} core-walltime",
              f"Job Wall-clock time: {duration(wall_s)}",
              f"Memory Utilized: {size(mem_kib)}",
              f"Memory Efficiency: {100 * mem_kib / alloc_kib if alloc_kib else 0.0:.2f}% of {size(alloc_kib)} ({per})"]
    if state == "RUNNING":
        lines.append("WARNING: Efficiency statistics can only be obtained after the job has ended as seff tool "
                     "is based on the accounting database data.")
    return lines


def _seff(argv: list[str]) -> int:
    import time

    from jem.model.arrays import parse_job_label
    from jem.model.jobfilter import JobFilter
    from jem_slurm.cluster import cluster_name

    try:
        found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    except UsageError:
        print(USAGE)
        return 1
    given = {option.name for option, _ in found}
    if "version" in given:
        print(VERSION)
        return 1
    if "help" in given or len(operands) != 1:
        print(USAGE)
        return 1
    try:
        job_id, task_ids = parse_job_label(operands[0])
    except ValueError:
        raise Failure("Job not found.", code=2, prefix=None) from None
    if len(task_ids) > 1:
        raise Failure("Job not found.", code=2, prefix=None)
    with connect() as client:
        wanted = JobFilter(job_ids=frozenset([job_id]),
                           array_tasks=frozenset((job_id, task) for task in task_ids))
        jobs = [j for j in client.list_jobs(wanted, include_old=True)
                if not task_ids or j.array_task_id in task_ids]
        if not jobs:
            raise Failure("Job not found.", code=2, prefix=None)
        job = min(jobs, key=lambda j: (j.job_id != job_id, j.job_id))
        steps = client.list_steps([job.job_id]) if job.start_time is not None else []
        cluster = cluster_name(client)
    now = time.time()
    if "debug" in given:
        print(f"Slurm data: JobID ArrayJobID User Group State Clustername Ncpus Nnodes Reqmem Cput Walltime Mem\n"
              f"Slurm data: {job.job_id} {job.array_job_id if job.array_task_id is not None else ''} {job.user} "
              f"{jobview.group_name(job.gid)} {job.state.value} {cluster} {jobview.total_cpus(job)} "
              f"{job.shape.n_nodes} {job.shape.per_node.mem_mib * 1024} "
              f"{round((job.usage.cpu_user_us + job.usage.cpu_system_us) / 1e6)} {jobview.elapsed_s(job, now)} "
              f"{job.usage.max_rss_kib}\n")
    print("\n".join(report(job, steps, cluster=cluster, now=now)))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _seff, argv)


if __name__ == "__main__":
    sys.exit(main())
