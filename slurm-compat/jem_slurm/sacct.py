"""sacct: JEM's job history (the store's ended jobs and the live queue) in Slurm's accounting columns.

Rows are the allocation, its batch step and its srun steps (`-X` for allocations only).
Selection follows sacct: the caller's own jobs unless -a or -u, jobs that
overlap the window -S..-E (default: since midnight; no window with -j),
then states (-s), names, partitions and accounts.
"""

import json
import os
import sys
import time

from jem_slurm import jobview, layout, sacct_fields
from jem_slurm.cluster import cluster_name
from jem_slurm.command import (SLURM_VERSION, Failure, connect, current_user, is_digits, node_names, run,
                               split_list, user_names)
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable
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
    columns = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, width = item.partition("%")
        field = sacct_fields.BY_LOWER.get(name.lower())
        if field is None:
            raise Failure(f'Invalid field requested: "{name}"')
        size = sacct_fields.FIELDS[field][0]
        is_left = field in sacct_fields.LEFT_JUSTIFIED
        if is_digits(width.lstrip("-")):
            size = layout.field_width(width.lstrip("-"))
            is_left = width.startswith("-")   # an explicit width right-justifies even JobID
        columns.append((field, size, is_left))
    return columns


def _cell(value: str, width: int, is_left: bool) -> str:
    if len(value) > width:
        value = value[:width - 1] + "+"
    return value.ljust(width) if is_left else value.rjust(width)


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


def _select(args: dict, client, now: float) -> list:
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
        return []
    nodes = node_names(args["nodelist"]) if "nodelist" in args else ()
    job_filter = jobview.job_filter(
        users=users, states=states, partitions=split_list(args.get("partition", [])), job_ids=job_ids,
        tasks_wanted=tasks_wanted, names=split_list(args.get("name", [])),
        accounts=split_list(args.get("accounts", [])), qos=split_list(args.get("qos", [])), nodes=nodes,
        alive_from=start, alive_until=end)
    jobs = client.list_jobs(job_filter, include_old=True)
    return sorted((j for j in jobs if job_filter.wants_task(j.array_job_id, j.array_task_id)),
                  key=lambda j: j.list_order)


def _has_batch(steps) -> bool:
    """Whether the job ran a batch script of its own (not one made by srun to hold its step)."""
    return not any(step.ends_job for step in steps)


def _rows(job, now: float, steps: list, *, with_steps: bool) -> list:
    return sacct_fields.rows_for(job, now, with_steps=with_steps, steps=steps, has_batch=_has_batch(steps))


def _job_json(job, now: float, steps: list, *, cluster: str) -> dict:
    return sacct_fields.job_as_json(job, now, steps, cluster_name=cluster, has_batch=_has_batch(steps))


def _sacct(argv: list[str]) -> int:
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    args: dict = {}
    for option, value in found:
        if option.name in _LISTS:
            args.setdefault(option.name, []).append(value)
        else:
            args[option.name] = value
    if "help" in args or "usage" in args:
        print("Usage: sacct [-a] [-b] [-j jobs] [-n] [-o fields] [-p|-P] [-s states] [-S time] [-E time] [-u users]\n"
              "             [-X] [--name names] [-r partitions] [-A accounts] [--json]")
        return 0
    if "version" in args:
        print(SLURM_VERSION)
        return 0
    if "helpformat" in args:
        names = list(sacct_fields.FIELDS)
        for i in range(0, len(names), 4):
            print("".join(n.ljust(20) for n in names[i:i + 4]).rstrip())
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
        jobs = _select(args, client, now)
        started = [j.job_id for j in jobs if j.start_time is not None]
        steps_of: dict[int, list] = {}
        if (with_steps or "json" in args) and started:
            for step in client.list_steps(started):
                steps_of.setdefault(step.job_id, []).append(step)
    if "json" in args:
        print(json.dumps({"meta": {"plugin": {"type": "openapi/dbv0.0.38", "name": "JEM slurm-compat"},
                                   "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5},
                                             "release": "22.05.8"}},
                          "errors": [],
                          "jobs": [_job_json(j, now, steps_of.get(j.job_id, []), cluster=cluster) for j in jobs]},
                         indent=2))
        return 0
    rows = [row for job in jobs for row in _rows(job, now, steps_of.get(job.job_id, []), with_steps=with_steps)]
    delimiter = args.get("delimiter", "|")
    is_parsable = "parsable" in args or "parsable2" in args
    trail = delimiter if "parsable" in args else ""
    lines = []
    if "noheader" not in args:
        if is_parsable:
            lines.append(delimiter.join(c[0] for c in columns) + trail)
        else:
            lines.append(" ".join(_cell(name, w, left) for name, w, left in columns) + " ")
            lines.append(" ".join("-" * w for _, w, _ in columns) + " ")
    getters = sacct_fields.getters(cluster)
    for row in rows:
        values = [getters[name](row) for name, _, _ in columns]
        if is_parsable:
            lines.append(delimiter.join(values) + trail)
        else:
            lines.append(" ".join(_cell(v, w, left) for v, (_, w, left) in zip(values, columns)) + " ")
    if lines:
        print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sacct, argv)


if __name__ == "__main__":
    sys.exit(main())
