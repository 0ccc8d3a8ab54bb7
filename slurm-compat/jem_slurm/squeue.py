"""squeue: list JEM's jobs in Slurm's columns, formats (-o/-O), filters, sort orders and --json."""

import gc
import os
import sys
import time

from jem.listedjobs import JobTable
from jem.model.states import JobState

from jem_slurm import jobview, jsonrows, layout, squeue_fields
from jem_slurm.cluster import cluster_name
from jem_slurm.command import SLURM_VERSION, Failure, connect, current_user, is_digits, node_names, run, split_list
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable
from jem_slurm.states import SLURM_STATE_NAMES, parse_states

PROG = "squeue"
DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
START_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"

# --usage: Slurm 22.05's text, byte for byte (its last line starts with a tab).
USAGE = """\
Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]
              [-n name] [-o format] [-p partitions] [--qos qos]
              [--reservation reservation] [--sort fields] [--start]
              [--step step_id] [-t states] [-u user_name] [--usage]
              [-L licenses] [-w nodes] [--federation] [--local] [--sibling]
\t      [-ahjlrsv]
"""

_O = Option
OPTIONS = OptionTable([
    _O("account", "A", REQUIRED), _O("all", "a", NONE), _O("array", "r", NONE), _O("noheader", "h", NONE),
    _O("jobs", "j", REQUIRED), _O("long", "l", NONE), _O("name", "n", REQUIRED), _O("format", "o", REQUIRED),
    _O("Format", "O", REQUIRED), _O("partition", "p", REQUIRED), _O("qos", "q", REQUIRED),
    _O("sort", "S", REQUIRED), _O("start", "", NONE), _O("states", "t", REQUIRED), _O("user", "u", REQUIRED),
    _O("me", "", NONE), _O("json", "", NONE), _O("nodelist", "w", REQUIRED), _O("verbose", "v", NONE),
    _O("noconvert", "", NONE), _O("help", "", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    _O("steps", "s", OPTIONAL), _O("iterate", "i", REQUIRED), _O("federation", "", NONE), _O("local", "", NONE),
])
# The states squeue lists when -t is not given.
DEFAULT_STATES = (JobState.PENDING, JobState.RUNNING, JobState.SUSPENDED, JobState.COMPLETING)
# What the last call listed and made (~200,000 objects for 10,000 jobs), kept until the next call
# or the process's end. A command server's child answers its caller once the command returns and
# then leaves by os._exit, which frees no object one by one: freeing them as the command returned
# held the answer back some 15 ms.
_last_listing: list = []


def _long_format(text: str) -> tuple[list, dict[str, str]]:
    """-O fields "name[:[.]width]" -> (layout parts, header per letter)."""
    parts, headers = [], {}
    for item in text.split(","):
        if not item:
            continue
        name, _, size = item.partition(":")
        entry = squeue_fields.LONG_FIELDS.get(name.lower())
        if entry is None:
            raise Failure(f"Invalid job format specification: {name}")
        letter, header = entry
        is_right = size.startswith(".")
        digits = size.lstrip(".")
        parts.append(layout.Field(letter, layout.field_width(digits, default=20), is_right))
        headers[letter] = header or squeue_fields.FIELDS[letter][0]
    return parts, headers


def _sort_key(spec: str, now: float):
    """A key function for -S: comma list of field letters, `-` for descending."""
    keys = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        letter = item.lstrip("+-")[:1]
        keys.append((letter, descending))

    numeric = {"i", "A", "D", "C", "Q", "p", "U", "G", "y"}
    raw = {"V": lambda j: j.submit_time, "S": lambda j: _start_key(j, now),
           "M": lambda j: (j.end_time or now) - j.start_time if j.start_time else 0,
           "l": lambda j: j.time_limit_s if j.time_limit_s is not None else 1 << 62,
           "t": lambda j: j.state.compact, "T": lambda j: j.state.value,
           "p": lambda j: j.priority, "i": lambda j: j.list_order}

    def key_column(letter: str, table) -> list | None:
        if letter in raw:
            return list(map(raw[letter], table.jobs))
        if letter in squeue_fields.FIELDS:
            texts = squeue_fields.FIELDS[letter][1](table, now)
            return list(map(_as_number, texts)) if letter in numeric else list(texts)
        return None

    def sort(table):
        return table.take(_order(len(table), [(key_column(letter, table), descending) for letter, descending in keys]))

    return sort


def _order(n_jobs: int, keys: list[tuple[list | None, bool]]) -> list[int]:
    """The positions of `n_jobs` jobs sorted by `keys` [(each job's key, is descending)], the first
    the most significant, ties in the given order (None: a key not sorted by). One stable sort
    per key of the positions by the key's list, from the least significant on: each compares
    keys of one type in C, where a tuple per job compared field by field cost several times
    more. A key the same for every job (one partition, every job pending) changes nothing and
    is not sorted by."""
    order = range(n_jobs)
    for column, descending in reversed(keys):
        if column and column.count(column[0]) != len(column):
            order = sorted(order, key=column.__getitem__, reverse=descending)
    return list(order)


def _start_key(job, now: float) -> float:
    """-S S as Slurm's squeue sorts: a job with no start (N/A) last, a pending job whose
    planned start has passed at `now`."""
    start = job.start_time if job.start_time is not None else job.planned_start
    if not start:
        return float(0xffffffff)
    return max(start, now) if job.is_pending else start


def _as_number(text) -> tuple:
    """A numeric column's sort key: numbers by value, before anything else ("N/A") by text."""
    try:
        return (0, float(text or 0), "")
    except ValueError:
        return (1, 0.0, str(text))


def _default_sort(table):
    """Slurm's default order "P,t,-p": partition, then the state's code as text, then priority,
    highest first, then job id."""
    now = 0.0   # (the columns sorted by do not depend on the time)
    keys = [(list(squeue_fields.FIELDS[letter][1](table, now)), False) for letter in "Pt"]
    return table.take(_order(len(table), keys + [(table.column("priority"), True), (table.column("job_id"), False)]))


def _checked(args: dict) -> tuple:
    """The -t states (None for all), the -j selection and the -w nodes, or Failure with Slurm's words
    for a value squeue refuses (it refuses them with --json too)."""
    parsed = None
    if "states" in args:
        try:
            parsed = parse_states(",".join(args["states"]))
        except ValueError as exc:
            raise Failure(f"Invalid job state specified: {exc}",
                          f"Valid job states include: {SLURM_STATE_NAMES}\n") from None
    try:
        selection = jobview.job_id_selection(split_list(args.get("jobs", [])))
    except ValueError as exc:
        raise Failure(f"Invalid job id: {exc}") from None
    return parsed, selection, node_names(args["nodelist"]) if "nodelist" in args else ()


def _select(args: dict, client) -> JobTable:
    import pwd

    users = []
    for name in split_list(args.get("user", [])):
        if is_digits(name):
            try:
                name = pwd.getpwuid(int(name)).pw_name
            except KeyError:
                pass
        else:
            try:
                pwd.getpwnam(name)
            except KeyError:
                print(f"{PROG}: error: Invalid user: {name}\n", file=sys.stderr)
                return JobTable([])
        users.append(name)
    if "me" in args:
        users.append(current_user())
    states = DEFAULT_STATES
    parsed, (job_ids, tasks_wanted), nodes = _checked(args)
    if "states" in args:
        states = () if parsed is None else tuple(parsed)
        if parsed is not None and not parsed:
            return JobTable([])
    job_filter = jobview.job_filter(
        users=users, states=states, partitions=split_list(args.get("partition", [])), job_ids=job_ids,
        tasks_wanted=tasks_wanted, accounts=split_list(args.get("account", [])),
        names=split_list(args.get("name", [])), qos=split_list(args.get("qos", [])), nodes=nodes)
    table = client.listing(job_filter)
    if len(job_ids) == 1 and not len(table):
        raise Failure("slurm_load_jobs error: Invalid job id specified", prefix=None)
    if "array" in args or tasks_wanted:
        return JobTable([task for j in table.jobs for task in _one_row_per_task(j)
                         if job_filter.wants_task(task.array_job_id, task.array_task_id)])
    return table


def _one_row_per_task(job) -> list:
    """squeue -r: an array's unsplit tasks, one row each."""
    if not job.array_pending:
        return [job]
    import dataclasses

    return [dataclasses.replace(job, array_task_id=i, array_pending=()) for i in job.array_pending]


def _options(argv: list[str]) -> dict:
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    if operands:
        from jem_slurm.getopt import UsageError

        raise UsageError(f"unrecognized argument '{operands[0]}'")
    args: dict = {}
    for option, value in found:
        if option.name in ("account", "jobs", "name", "partition", "states", "user", "nodelist", "qos"):
            args.setdefault(option.name, []).append(value)
        else:
            args[option.name] = value
    return args


def _layout(args: dict) -> tuple[list, dict[str, str]]:
    """(the layout parts, the header per letter) of -O, -o, their variables or the default format."""
    text_format = args.get("format") or os.environ.get("SQUEUE_FORMAT")
    long_format = args.get("Format") or (None if text_format else os.environ.get("SQUEUE_FORMAT2"))
    if long_format and not args.get("format"):
        return _long_format(long_format)
    fmt = text_format or (START_FORMAT if "start" in args else LONG_FORMAT if "long" in args else DEFAULT_FORMAT)
    if "-" in fmt and "%-" in fmt:
        print(f"{PROG}: error: Invalid job format specification: -", file=sys.stderr)
    parts = layout.parse_format(fmt)
    headers = {p.letter: squeue_fields.FIELDS[p.letter][0] for p in parts
               if isinstance(p, layout.Field) and p.letter in squeue_fields.FIELDS}
    return parts, headers


def _print_json(now: float) -> int:
    """--json: every job the controller keeps, ended ones too, as Slurm 22.05's squeue --json
    prints them (its filters and formats do not apply there), by job id."""
    with connect() as client:
        table = client.listing(jobview.job_filter())
        cluster = cluster_name(client)
        started = [job_id for job_id, start in zip(table.column("job_id"), table.column("start_time"))
                   if start is not None]
        steps_of: dict[int, list] = {}
        for step in client.list_steps(started) if started else ():
            steps_of.setdefault(step.job_id, []).append(step)
    table = table.in_listing_order()
    meta = {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
            "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}}
    columns = squeue_fields.json_columns(table, squeue_fields.JsonContext(now, cluster, steps_of))
    text = jsonrows.encode_table({"meta": meta, "errors": []}, "jobs", squeue_fields.JSON_NAMES, columns)
    _write_ascii(text)
    _last_listing[:] = [table, columns, text]
    return 0


def _write_ascii(text) -> None:
    """`text` (ASCII bytes, or a buffer of them) and a newline on stdout: as it is to its bytes, or
    as text to a stdout that has none (a caller's StringIO)."""
    sys.stdout.flush()
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        print(bytes(text).decode("ascii"))
        return
    binary.write(text)
    binary.write(b"\n")


def _squeue(argv: list[str]) -> int:
    args = _options(argv)
    if "usage" in args:
        print(USAGE, end="")
        return 0
    if "help" in args:
        print("Usage: squeue [-A account] [--me] [-j jobs] [-n name] [-o format] [-O Format] [-p partitions]\n"
              "              [-S fields] [--start] [-t states] [-u users] [-w nodes] [-h] [-l] [--json]")
        return 0
    if "version" in args:
        print(SLURM_VERSION)
        return 0
    if "steps" in args or "iterate" in args:
        raise Failure(f"--{'steps' if 'steps' in args else 'iterate'} is not supported yet by JEM")
    if "start" in args:   # (Slurm's --start: --states=PENDING --sort=S, each unless given)
        args.setdefault("states", ["PD"])
        args.setdefault("sort", "S")
    parts, headers = ([], {}) if "json" in args else _layout(args)
    wants_cluster = any(isinstance(p, layout.Field) and p.letter == "cluster" for p in parts)
    now = time.time()
    if "json" in args:
        _checked(args)
        return _print_json(now)
    with connect() as client:
        jobs = _select(args, client)
        cluster = cluster_name(client) if wants_cluster else ""
    jobs = _default_sort(jobs)
    if "sort" in args:
        jobs = _sort_key(args["sort"], now)(jobs)
    out = []
    if "long" in args:
        out.append(time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now)))
    if "noheader" not in args:
        out.append(layout.render(parts, headers))
    columns = squeue_fields.columns(cluster) if wants_cluster else squeue_fields.COLUMNS
    out.extend(layout.lines(parts, columns, jobs, now))
    if out:
        print("\n".join(out))
    _last_listing[:] = [jobs, out]
    return 0


def main(argv: list[str] | None = None) -> int:
    # A listing of 10,000 jobs allocates some 100,000 objects that all live until the output is
    # written; the cyclic collector would walk them again and again and find no garbage (a few ms).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return run(PROG, _squeue, argv)
    finally:
        if was_enabled:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
