"""sacct: JEM's job history (the store's ended jobs and the live queue) in Slurm's accounting columns.

Rows are the allocation, its batch step and its srun steps (`-X` for allocations only); a
requeued job's earlier runs (state REQUEUED) come first with -D, or -s naming REQUEUED, and
always in --json, as Slurm 22.05 lists them (sacct_records).
Selection follows sacct: the caller's own jobs unless -a or -u, jobs that
overlap the window -S..-E (default: since midnight; no window with -j),
then states (-s), names, partitions and accounts. --json writes the same jobs in Slurm
22.05's document (openapi dbv0.0.38).
"""

import json
import os
import signal
import sys
import time

import hostlist

from jem_slurm import jobview, layout, sacct_fields, sacct_records
from jem_slurm.cluster import cluster_name
from jem_slurm.command import (SLURM_VERSION, Failure, connect, current_user, node_names, run,
                               split_list, user_names)
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable, UsageError
from jem_slurm.times import parse_time

PROG = "sacct"
_O = Option
OPTIONS = OptionTable([
    _O("allusers", "a", NONE), _O("accounts", "A", REQUIRED), _O("brief", "b", NONE),
    _O("duplicates", "D", NONE), _O("endtime", "E", REQUIRED), _O("helpformat", "e", NONE),
    _O("jobs", "j", REQUIRED), _O("long", "l", NONE), _O("allclusters", "L", NONE), _O("clusters", "M", REQUIRED),
    _O("nodelist", "N", REQUIRED), _O("noheader", "n", NONE), _O("format", "o", REQUIRED),
    _O("parsable", "p", NONE), _O("parsable2", "P", NONE), _O("partition", "r", REQUIRED),
    _O("starttime", "S", REQUIRED), _O("state", "s", REQUIRED), _O("truncate", "T", NONE),
    _O("user", "u", REQUIRED), _O("uid", "", REQUIRED, "user"), _O("name", "", REQUIRED),
    _O("allocations", "X", NONE), _O("json", "", NONE), _O("noconvert", "", NONE), _O("units", "", REQUIRED),
    _O("verbose", "v", NONE), _O("help", "h", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    _O("qos", "q", REQUIRED), _O("delimiter", "", REQUIRED),
])
_LISTS = {"accounts", "jobs", "nodelist", "partition", "state", "user", "name", "qos"}
_STATE_CODES = {"CA": "CANCELLED", "CD": "COMPLETED", "F": "FAILED", "NF": "NODE_FAIL", "PD": "PENDING",
                "PR": "PREEMPTED", "R": "RUNNING", "RQ": "REQUEUED", "S": "SUSPENDED", "TO": "TIMEOUT",
                "OOM": "OUT_OF_MEMORY", "BF": "BOOT_FAIL", "DL": "DEADLINE", "CG": "COMPLETING", "RS": "RESIZING",
                "RV": "REVOKED"}


def _columns(text: str) -> list[tuple[str, int, bool]]:
    """-o "name[%[-]width],..." -> [(field, width, is_left)]."""
    return layout.accounting_columns(
        text, sacct_fields.BY_LOWER,
        lambda field: (sacct_fields.FIELDS[field][0], field in sacct_fields.LEFT_JUSTIFIED),
        lambda name: Failure(f'Invalid field requested: "{name}"'))


def _states(values: list[str]) -> set[str]:
    from jem.model.states import JobState

    names = set()
    for item in split_list(values):
        name = _STATE_CODES.get(item.upper(), item.upper())
        if name not in JobState.__members__ and name not in _STATE_CODES.values():
            raise Failure(f"unrecognized job state value '{item}'", prefix="fatal: ")
        names.add(name)
    return names


def _window(args: dict, now: float) -> tuple[float, float]:
    def parse(text: str) -> float:
        try:
            return parse_time(text, now=now)
        except ValueError:
            raise Failure(f"Invalid time specification (pos=0): {text}", prefix=None) from None

    if "starttime" in args:
        start = parse(args["starttime"])
    elif "jobs" in args:
        start = 0.0
    else:
        start = parse("midnight")
    end = parse(args["endtime"]) if "endtime" in args else now
    return start, end


def _select(args: dict, client, now: float) -> tuple[list, set]:
    """The jobs to list, in listing order, and the states asked for (-s; empty: any). Asked
    for REQUEUED, every job is listed whatever its state: its earlier runs may be REQUEUED
    (sacct_records filters its records by state)."""
    from jem.model.states import JobState

    try:
        job_ids, tasks_wanted = jobview.job_id_selection(split_list(args.get("jobs", [])))
    except ValueError as exc:
        raise Failure(f"Invalid job id: {exc}", prefix="fatal: ") from None
    users = user_names(args.get("user", []))
    if not users and "allusers" not in args and not job_ids and os.getuid() != 0:
        users = [current_user()]
    start, end = _window(args, now)
    state_names = _states(args.get("state", []))
    states = {JobState[name] for name in state_names if name in JobState.__members__}
    if state_names and not states:   # only states JEM never gives a job (RESIZING, REVOKED)
        return [], states
    nodes = node_names(args["nodelist"]) if "nodelist" in args else ()
    job_filter = jobview.job_filter(
        users=users, states=set() if JobState.REQUEUED in states else states,
        partitions=split_list(args.get("partition", [])), job_ids=job_ids,
        tasks_wanted=tasks_wanted, names=split_list(args.get("name", [])),
        accounts=split_list(args.get("accounts", [])), qos=split_list(args.get("qos", [])), nodes=nodes,
        alive_from=start, alive_until=end)
    jobs = client.list_jobs(job_filter, include_old=True)
    return sorted((j for j in jobs if job_filter.wants_task(j.array_job_id, j.array_task_id)),
                  key=lambda j: j.list_order), states


def _records(args: dict, client, now: float) -> list:
    """The records to list (sacct_records.Record: each job's earlier runs with -D, and its latest),
    with their runs' and steps' records read from the controller."""
    jobs, states = _select(args, client, now)
    requeued = [j.job_id for j in jobs if j.restart_count]
    runs_of: dict[int, list] = {}
    for run in client.list_runs(requeued) if requeued else ():
        runs_of.setdefault(run.job_id, []).append(run)
    # (-X too: an allocation's ExitCode and DerivedExitCode depend on its steps)
    started = [j.job_id for j in jobs if j.start_time is not None or j.restart_count]
    steps_of: dict[int, list] = {}
    for step in client.list_steps(started) if started else ():
        steps_of.setdefault(step.job_id, []).append(step)
    with_duplicates = "duplicates" in args or "json" in args   # (22.05's --json lists every record)
    return [record for job in jobs
            for record in sacct_records.records(job, runs_of.get(job.job_id, []), steps_of.get(job.job_id, []),
                                                with_duplicates=with_duplicates, states=states)]


def _rows(record, now: float, *, with_steps: bool) -> list:
    return sacct_fields.rows_for(record.job, now, with_steps=with_steps, steps=record.steps,
                                 has_batch=not record.job.is_allocation, is_requeued=record.is_requeued)


# ---------------------------------------------------------------- --json (Slurm 22.05's openapi dbv0.0.38)

def _exit_json(status: int) -> dict:
    """An exit code object: SIGNALED with the signal, else SUCCESS (0) or ERROR and the code.

    Slurm 22.05 writes SUCCESS and 0 for every process that exited, whatever its code (its
    dumper's bug, fixed in later versions); JEM writes ERROR and the code, as those do.
    """
    if status & 0x7f:
        sig = status & 0x7f
        name = signal.strsignal(sig) if 0 < sig < signal.NSIG else None
        return {"status": "SIGNALED", "return_code": None,
                "signal": {"signal_id": sig, "name": name or f"Unknown signal {sig}"}}
    code = status >> 8 & 0xff
    return {"status": "ERROR" if code else "SUCCESS", "return_code": code}


def _seconds(us: int) -> dict:
    return {"seconds": us // 1_000_000, "microseconds": us % 1_000_000}


def _tres_json(items: list[tuple[str, str | None, int, int | None]], **extra) -> list[dict]:
    return [{"type": kind, "name": name, "id": tres_id, "count": count, **extra}
            for kind, name, tres_id, count in items]


def _gres_items(job, n_nodes: int) -> list:
    """The job's GRES as TRES list items (id 1001 on: JEM numbers no TRES of its own)."""
    items = [text.partition("=") for text in jobview.gres_tres(job, n_nodes)]
    return [("gres", name.removeprefix("gres/"), 1001 + i, int(count)) for i, (name, _, count) in enumerate(items)]


def _usage_tres(usage, node: str, *, with_where: bool) -> dict:
    """A step's measured TRES as Slurm's requested (usage in) and consumed (usage out) lists: JEM
    measures CPU time and peak memory; energy, disk, virtual memory and pages count 0."""
    where = {"task": 0, "node": node} if with_where else {}
    usage_in = [("cpu", None, 1, (usage.cpu_user_us + usage.cpu_system_us) // 1_000_000),
                ("mem", None, 2, usage.max_rss_kib * 1024), ("energy", None, 3, 0), ("fs", "disk", 6, 0),
                ("vmem", None, 7, 0), ("pages", None, 8, 0)]
    usage_out = [("energy", None, 3, 0), ("fs", "disk", 6, 0)]
    return {"requested": {"max": _tres_json(usage_in, **where), "min": _tres_json(usage_in, **where),
                          "average": _tres_json(usage_in), "total": _tres_json(usage_in)},
            "consumed": {"max": _tres_json(usage_out, **where), "min": _tres_json(usage_out, **where),
                         "average": _tres_json(usage_out), "total": _tres_json(usage_out)}}


def _step_json(row, now: float) -> dict:
    """One step (the batch script or an srun step) as sacct --json shows it."""
    job, record = row.job, row.record
    nodes = list(record.nodes) if record is not None else list(job.nodes[:1])
    usage = record.usage if record is not None else job.usage
    start = record.start_time if record is not None else job.start_time
    end = record.end_time if record is not None else job.end_time
    cpus = record.n_cpus if record is not None else job.shape.per_node.cpus
    frequency = {"min": None, "max": None} if record is not None else {"min": 0, "max": 0}
    return {
        "nodes": {"list": nodes, "count": len(nodes), "range": hostlist.collect_hostlist(nodes)},
        "tres": {**_usage_tres(usage, nodes[0] if nodes else "", with_where=True),
                 "allocated": _tres_json([("cpu", None, 1, cpus),
                                          ("mem", None, 2, job.shape.per_node.mem_mib * len(nodes)),
                                          ("node", None, 4, len(nodes))])},
        "time": {"elapsed": jobview.elapsed_s(record if record is not None else job, now), "end": int(end or 0),
                 "start": int(start or 0), "suspended": 0, "system": _seconds(usage.cpu_system_us),
                 "total": _seconds(usage.cpu_user_us + usage.cpu_system_us), "user": _seconds(usage.cpu_user_us)},
        "exit_code": _exit_json(sacct_fields.exit_status(row)),
        "tasks": {"count": record.n_tasks if record is not None else 1}, "pid": None,
        "CPU": {"requested_frequency": frequency,
                "governor": [] if record is None else ["Conservative", "Performance", "PowerSave", "OnDemand",
                                                        "UserSpace"]},
        "kill_request_user": None, "state": sacct_fields.FIELDS["State"][1](row),
        "statistics": {"CPU": {"actual_frequency": 0}, "energy": {"consumed": 0}},
        "step": {"job_id": job.job_id, "het": {"component": None},
                 "id": "batch" if record is None else record.step_id,
                 "name": "batch" if record is None else record.name},
        "task": {"distribution": "Unknown" if record is None else "Block"},
    }


def _array_json(job) -> dict:
    """The job's array: its id, an array record's throttle and unsplit tasks (a bitmap in hex, as Slurm's)."""
    from jem.model.arrays import accepted_array

    pending = job.array_pending
    return {"job_id": job.array_job_id,
            "limits": {"max": {"running": {"tasks": accepted_array(job.spec.array).max_running if pending else 0}}},
            "task": f"0x{sum(1 << i for i in pending):X}" if pending else None, "task_id": job.array_task_id}


def _job_json(record, now: float, *, cluster: str, with_steps: bool) -> dict:
    """One record of a job as Slurm 22.05's sacct --json shows it (its steps unless -X)."""
    from jem.model.states import JobState

    job, steps = record.job, record.steps
    rows = _rows(record, now, with_steps=with_steps)
    spec, usage, has_run = job.spec, job.usage, job.start_time is not None
    cpus, n_nodes, mem_mib = jobview.total_cpus(job), job.shape.n_nodes, job.shape.per_node.mem_mib
    requested = [("cpu", None, 1, cpus), ("mem", None, 2, mem_mib * n_nodes), ("node", None, 4, n_nodes),
                 ("billing", None, 5, cpus), *_gres_items(job, n_nodes)]
    allocated = [*requested[:2], ("energy", None, 3, None), *requested[2:]] if has_run else []
    return {
        "account": spec.account, "comment": {"administrator": None, "job": None, "system": None},
        "allocation_nodes": len(job.nodes), "array": _array_json(job),
        "association": {"account": spec.account, "cluster": cluster, "partition": None, "user": job.user},
        "cluster": cluster, "constraints": spec.constraint, "container": None,
        "derived_exit_code": _exit_json(jobview.derived_status(steps)),
        "time": {"elapsed": jobview.elapsed_s(job, now),
                 "eligible": 0 if job.held_by and not has_run else int(spec.begin_time or job.submit_time),
                 "end": int(job.end_time or 0), "start": int(job.start_time or job.end_time or 0),
                 "submission": int(job.submit_time), "suspended": 0, "system": _seconds(usage.cpu_system_us),
                 "limit": None if job.time_limit_s is None else job.time_limit_s // 60,
                 "total": _seconds(usage.cpu_user_us + usage.cpu_system_us), "user": _seconds(usage.cpu_user_us)},
        "exit_code": _exit_json(sacct_fields.exit_status(rows[0])),
        "flags": ["CLEAR_SCHEDULING", "STARTED_ON_SCHEDULE"] if has_run else [],
        "group": jobview.group_name(job.gid), "het": {"job_id": 0, "job_offset": None}, "job_id": job.job_id,
        "name": spec.name, "mcs": {"label": ""}, "nodes": jobview.node_list(job) or "None assigned",
        "partition": spec.partition, "priority": job.priority, "qos": spec.qos or "normal",
        "required": {"CPUs": cpus, "memory": spec.mem_per_node_mib if spec.mem_per_node_mib is not None
                     else mem_mib // max(job.shape.per_node.cpus, 1)},
        "kill_request_user": job.user if job.state is JobState.CANCELLED and not record.is_requeued else None,
        "reservation": {"id": 0, "name": 0},   # (22.05 writes the name as a number: always 0)
        "state": {"current": JobState.REQUEUED.value if record.is_requeued else job.state.value,
                  "reason": sacct_fields.FIELDS["Reason"][1](rows[0])},
        "steps": [_step_json(row, now) for row in rows[1:]],
        "tres": {"allocated": _tres_json(allocated), "requested": _tres_json(requested)},
        "user": job.user, "wckey": {"wckey": "", "flags": []}, "working_directory": spec.working_dir,
    }


def _options(argv: list[str]) -> dict:
    try:
        found, _ = OPTIONS.parse(argv, stop_at_operand=False)
    except UsageError as exc:   # sacct prints getopt's line alone: no "Try ... --help" line
        raise Failure(str(exc), prefix="") from None
    args: dict = {}
    for option, value in found:
        if option.name in _LISTS:
            args.setdefault(option.name, []).append(value)
        else:
            args[option.name] = value
    return args


def _sacct(argv: list[str]) -> int:
    args = _options(argv)
    if "help" in args or "usage" in args:
        print("Usage: sacct [-a] [-b] [-j jobs] [-n] [-o fields] [-p|-P] [-s states] [-S time] [-E time] [-u users]\n"
              "             [-X] [--name names] [-r partitions] [-A accounts] [--json]")
        return 0
    if "version" in args:
        print(SLURM_VERSION)
        return 0
    if "helpformat" in args:
        print("\n".join(sacct_fields.help_lines()))
        return 0
    fmt = args.get("format") or os.environ.get("SACCT_FORMAT") or (
        sacct_fields.BRIEF_FORMAT if "brief" in args else
        sacct_fields.LONG_FORMAT if "long" in args else sacct_fields.DEFAULT_FORMAT)
    columns = _columns(fmt)
    now = time.time()
    with_steps = "allocations" not in args
    wants_cluster = "json" in args or any(name == "Cluster" for name, _, _ in columns)
    with connect() as client:
        cluster = cluster_name(client) if wants_cluster else ""
        records = _records(args, client, now)
    if "json" in args:
        print(json.dumps({"meta": {"plugin": {"type": "openapi/dbv0.0.38", "name": "Slurm OpenAPI DB v0.0.38"},
                                   "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5},
                                             "release": "22.05.8"}},
                          "errors": [],
                          "jobs": [_job_json(r, now, cluster=cluster, with_steps=with_steps) for r in records]},
                         indent=2))
        return 0
    rows = [row for record in records for row in _rows(record, now, with_steps=with_steps)]
    delimiter = args.get("delimiter", "|")
    is_parsable = "parsable" in args or "parsable2" in args
    trail = delimiter if "parsable" in args else ""
    lines = []
    if "noheader" not in args:
        if is_parsable:
            lines.append(delimiter.join(c[0] for c in columns) + trail)
        else:
            lines.append(" ".join(layout.accounting_cell(name, w, left) for name, w, left in columns) + " ")
            lines.append(" ".join("-" * w for _, w, _ in columns) + " ")
    getters = sacct_fields.getters(cluster)
    for row in rows:
        values = [getters[name](row) for name, _, _ in columns]
        if is_parsable:
            lines.append(delimiter.join(values) + trail)
        else:
            lines.append(" ".join(layout.accounting_cell(v, w, left) for v, (_, w, left) in zip(values, columns)) + " ")
    if lines:
        print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sacct, argv)


if __name__ == "__main__":
    sys.exit(main())
