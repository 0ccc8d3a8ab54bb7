"""squeue's job fields: each `%` letter's header and value, the `-O/--Format` names for them,
and the keys of a job in `--json`.

Values come from jem.model Jobs and the time `now` (epoch seconds), a field's for all the
jobs listed at once (see "columns" below). Where JEM
keeps nothing for a field (comment, wckey, ...) or the job sets nothing (no QOS,
features or reservation) it shows what Slurm shows for an unset one.
"""

import functools
import itertools
import operator
from typing import Any, Callable, Iterable, NamedTuple

from jem.listedjobs import JobTable
from jem.model.arrays import accepted_array, format_ranges
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.model.units import format_duration, format_mem_mib

from jem_slurm import jobview, jsonrows, startplan


def reason_text(job) -> str:
    """The reason as squeue prints it: Slurm shows a job's state description in its place when
    there is one ("Nodes required for job are DOWN, DRAINED or ..." for ReqNodeNotAvail)."""
    if job.reason is JobReason.REQ_NODE_NOT_AVAIL and job.reason_detail:
        return job.reason_detail
    return jobview.REASON_NAMES[job.reason]


# The states whose NODELIST(REASON) is the reason, as Slurm's _print_job_reason_list picks them: a
# pending job, and one that ended in one of these (FAILED: NonZeroExitCode, TIMEOUT: TimeLimit, ...);
# every other job shows its nodes (none for one cancelled while pending).
_REASON_STATES = frozenset({JobState.PENDING, JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY,
                            JobState.DEADLINE})


def _reason_or_nodes(job, now) -> str:
    if job.state in _REASON_STATES:
        return f"({reason_text(job)})"
    return jobview.node_list(job)


def _min_memory(job) -> str:
    spec = job.spec
    return format_mem_mib(spec.mem_per_cpu_mib if spec.mem_per_cpu_mib else job.shape.per_node.mem_mib)


def _time_left(job, now) -> str:
    if job.time_limit_s is None:
        return "UNLIMITED"
    return format_duration(max(0, job.time_limit_s - jobview.elapsed_s(job, now)))


def _end(job) -> str:
    if job.end_time is None and job.start_time is not None and job.time_limit_s is None:
        return "NONE"
    return jobview.iso(_expected_end(job))


def _expected_end(job) -> float | None:
    """The end Slurm shows: the real or expected one of a started job, else start + limit of a planned one."""
    end = jobview.expected_end(job)
    return end if end is not None else startplan.planned_end(job)


# Most listed jobs show one of a few durations (every pending job 0:00): a C-level cache
# answers those without formatting each again.
_duration = functools.lru_cache(maxsize=4096)(format_duration)


# ---------------------------------------------------------------- columns
# A field's value is a column: (jobs, now) -> each job's text, in order (for --json,
# (jobs, JsonContext) -> each job's value), where `jobs` is a JobTable (squeue's: a listing
# whose fields' values come a column at a time, from the wire) or a list of jobs. squeue
# prints 10,000 lines at times, and a Python call per cell was most of its time, so the
# common fields take the table's columns and convert them in C-level loops (map over
# dicts' methods, lru_caches), fields with logic skip the call for the jobs most of a queue
# are (pending, no nodes), and the rest call a function per job (`_each`). For a job `j`,
# FIELDS[x][1]([j], now) yields its one text (`value`).
Column = Callable[[Any, Any], Iterable]
_COMPACT = {state: state.compact for state in JobState}
_STATE_NAME = {state: state.value for state in JobState}
_PENDING_REASON = {reason: f"({name})" for reason, name in jobview.REASON_NAMES.items()}
_NOT_STARTED = _duration(0)


def table_of(jobs) -> JobTable:
    """`jobs` as a table: itself if it is one, else the table over the list."""
    return jobs if isinstance(jobs, JobTable) else JobTable(jobs)


def _each(value: Callable[[Any, Any], Any]) -> Column:
    """The column of value(job, now): a Python call per job, for fields with logic of their own
    that needs the time (for --json, value(job, JsonContext))."""
    return lambda jobs, now: map(value, table_of(jobs).jobs, itertools.repeat(now))


def _per_job(value: Callable[[Any], Any]) -> Column:
    """The column of value(job): a Python call per job, for fields with logic of their own."""
    return lambda jobs, now: map(value, table_of(jobs).jobs)


def _attr(path: str, *, unset: str | None = None) -> Column:
    """The column of an attribute (a dotted path), as it is; `unset` in place of an empty text."""
    if unset is None:
        return lambda jobs, now: table_of(jobs).column(path)
    instead = {"": unset, None: unset}.get   # (instead(v, v): `unset` for an empty v, else v; in C)

    def column(jobs, now):
        texts = table_of(jobs).column(path)
        return map(instead, texts, texts)

    return column


def _if_set(path: str, value: Callable[[Any, Any], Any], otherwise) -> Column:
    """The column of value(job, context) for jobs whose `path` is set (true), `otherwise` without a
    call for the others (most jobs of a long queue have no nodes, no array, no dependency)."""
    def column(jobs, context):
        table = table_of(jobs)
        is_set = table.column(path)
        return _where(table, is_set, value, [otherwise] * len(is_set), context)

    return column


def _where(table, mask: Iterable, value: Callable[[Any, Any], Any], base: list, context) -> list:
    """`base` (a list of its own) with value(job, context) in place at the positions where `mask`
    is true: only those jobs are made and called for (in a listing, the jobs of a long queue
    that have nodes, a dependency, ... are few)."""
    positions = list(itertools.compress(range(len(base)), mask))
    for position, job in zip(positions, table.take(positions).jobs if positions else ()):
        base[position] = value(job, context)
    return base


def _is_set(values: list) -> Iterable[bool]:
    """Whether each value is not None, in a C-level loop."""
    return map(operator.is_not, values, itertools.repeat(None))


def _through(path: str, convert: Callable) -> Column:
    """The column of convert(an attribute): in C when `convert` is (a dict's lookup, str, int, an lru_cache)."""
    return lambda jobs, context: map(convert, table_of(jobs).column(path))


def _combined(convert: Callable, *paths: str) -> Column:
    """The column of convert(attribute, attribute, ...) of each job: in C when `convert` is."""
    return lambda jobs, context: map(convert, *map(table_of(jobs).column, paths))


def _fixed(text: str) -> Column:
    """A column of one text: what Slurm prints for something JEM does not keep."""
    return lambda jobs, now: itertools.repeat(text, len(jobs))


def _time_used(jobs, now: float) -> Iterable[str]:
    """TIME: 0:00 for a job not started (most of a long queue: no call for those)."""
    table = table_of(jobs)
    starts = table.column("start_time")
    return _where(table, _is_set(starts), lambda job, now: _duration(jobview.elapsed_s(job, now)),
                  [_NOT_STARTED] * len(starts), now)


def _starts(jobs, now: float) -> Iterable[str]:
    """START_TIME: when the job started, else its planned start (N/A for none)."""
    table = table_of(jobs)
    return map(jobview.iso, [planned if start is None else start
                             for start, planned in zip(table.column("start_time"), table.column("planned_start"))])


def _reasons_or_nodes(jobs, now: float) -> list[str]:
    """NODELIST(REASON): a pending job's reason from a table (no call), others as _reason_or_nodes."""
    table = table_of(jobs)
    states, reasons = table.column("state"), table.column("reason")
    from_table = [state is JobState.PENDING and reason is not JobReason.REQ_NODE_NOT_AVAIL
                  for state, reason in zip(states, reasons)]
    return _where(table, map(operator.not_, from_table), _reason_or_nodes,
                  list(map(_PENDING_REASON.__getitem__, reasons)), now)


def value(letter: str, job, now: float) -> str:
    """One job's text of the field `letter`."""
    return next(iter(FIELDS[letter][1]([job], now)))


# letter -> (header, column)
FIELDS: dict[str, tuple[str, Column]] = {
    "i": ("JOBID", _attr("label")),
    "A": ("JOBID", _through("job_id", str)),
    "F": ("ARRAY_JOB_ID", _combined(lambda array_id, job_id: str(array_id or job_id), "array_job_id", "job_id")),
    "K": ("ARRAY_TASK_ID", _through("label", jobview.task_text_of_label)),
    "j": ("NAME", _attr("spec.name")),
    "u": ("USER", _attr("user")),
    "U": ("UID", _through("uid", str)),
    "g": ("GROUP", _through("gid", jobview.group_name)),
    "G": ("GROUP", _through("gid", str)),
    "t": ("ST", _through("state", _COMPACT.__getitem__)),
    "T": ("STATE", _through("state", _STATE_NAME.__getitem__)),
    "M": ("TIME", _time_used),
    "l": ("TIME_LIMIT", _through("time_limit_s", format_duration)),
    "L": ("TIME_LEFT", _each(_time_left)),
    "D": ("NODES", _through("shape.n_nodes", str)),
    "R": ("NODELIST(REASON)", _reasons_or_nodes),
    "r": ("REASON", _per_job(reason_text)),
    "P": ("PARTITION", _attr("spec.partition")),
    "N": ("NODELIST", _per_job(jobview.node_list)),
    "B": ("EXEC_HOST", _per_job(lambda j: j.nodes[0] if j.nodes else "n/a")),
    "C": ("CPUS", _combined(lambda n_nodes, cpus: str(n_nodes * cpus), "shape.n_nodes", "shape.per_node.cpus")),
    "c": ("MIN_CPUS", _through("shape.per_node.cpus", str)),
    "m": ("MIN_MEMORY", _per_job(_min_memory)),
    "d": ("MIN_TMP_DISK", _fixed("0")),
    "b": ("TRES_PER_NODE", _combined(lambda *request: jobview.tres_per_node_of(*request) or "N/A",
                                     "shape.per_node.gpus", "spec.gres_per_node", "spec.gpu_type")),
    "V": ("SUBMIT_TIME", _through("submit_time", jobview.iso)),
    "S": ("START_TIME", _starts),
    "e": ("END_TIME", _per_job(_end)),
    "Q": ("PRIORITY", _through("priority", str)),
    "p": ("PRIORITY", _per_job(lambda j: f"{j.priority / 4294967295:.14f}")),
    "y": ("NICE", _through("spec.nice", str)),
    "a": ("ACCOUNT", _attr("spec.account", unset="(null)")),
    "q": ("QOS", _attr("spec.qos", unset="normal")),
    "k": ("COMMENT", _fixed("(null)")),
    "o": ("COMMAND", _fixed("(null)")),
    "Z": ("WORK_DIR", _attr("spec.working_dir")),
    "E": ("DEPENDENCY", _if_set("dependency", lambda j, now: jobview.dependency_text(j), "(null)")),
    "f": ("FEATURES", _attr("spec.constraint", unset="(null)")),
    "v": ("RESERVATION", _attr("spec.reservation", unset="(null)")),
    "w": ("WCKEY", _fixed("(null)")),
    "h": ("OVER_SUBSCRIBE", _per_job(lambda j: "NO" if j.spec.exclusive else "OK")),
    "O": ("CONTIGUOUS", _fixed("0")),
    "n": ("REQ_NODES", _fixed("")),
    "x": ("EXC_NODES", _fixed("")),
    "z": ("S:C:T", _fixed("*:*:*")),
    "Y": ("SCHEDNODES", _per_job(lambda j: startplan.sched_nodes(j) or "(null)")),
    "H": ("SOCKETS_PER_NODE", _fixed("*")),
    "I": ("CORES_PER_SOCKET", _fixed("*")),
    "J": ("THREADS_PER_CORE", _fixed("*")),
}

# -O/--Format name (lower case) -> (letter, header when it differs from the letter's)
LONG_FIELDS = {
    "jobid": ("i", None), "jobarrayid": ("i", None), "arrayjobid": ("F", None), "arraytaskid": ("K", None),
    "name": ("j", None), "username": ("u", "USER"), "userid": ("U", None), "groupname": ("g", None),
    "groupid": ("G", None), "state": ("T", None), "statecompact": ("t", None), "timeused": ("M", None),
    "timelimit": ("l", None), "timeleft": ("L", None), "numnodes": ("D", None), "reasonlist": ("R", None),
    "reason": ("r", None), "partition": ("P", None), "nodelist": ("N", None), "batchhost": ("B", None),
    "numcpus": ("C", None), "mincpus": ("c", None), "minmemory": ("m", None), "tres-per-node": ("b", None),
    "submittime": ("V", None), "starttime": ("S", None), "endtime": ("e", None), "priority": ("p", None),
    "prioritylong": ("Q", None), "nice": ("y", None), "account": ("a", None), "qos": ("q", None),
    "comment": ("k", None), "command": ("o", None), "workdir": ("Z", None), "dependency": ("E", None),
    "feature": ("f", None), "reservation": ("v", None), "wckey": ("w", None), "oversubscribe": ("h", None),
    "contiguous": ("O", None), "reqnodes": ("n", None), "excnodes": ("x", None), "schednodes": ("Y", None),
    "exit_code": ("X", "EXIT_CODE"), "stdout": ("1", "STDOUT"), "stderr": ("2", "STDERR"), "stdin": ("3", "STDIN"),
}
FIELDS["X"] = ("EXIT_CODE", _combined("{}:{}".format, "exit_code", "exit_signal"))
FIELDS["1"] = ("STDOUT", _attr("spec.stdout_pattern", unset="slurm-%j.out"))
FIELDS["2"] = ("STDERR", _per_job(lambda j: j.spec.stderr_pattern or j.spec.stdout_pattern or "slurm-%j.out"))
FIELDS["3"] = ("STDIN", _attr("spec.stdin_path", unset="/dev/null"))
# JEM's own: a pending job's planned start is a RESERVATION or an ESTIMATE (see jem_slurm.startplan).
# Slurm gives every letter of -o a meaning, so this one is -O StartBasis only.
LONG_FIELDS["startbasis"] = ("startbasis", "START_BASIS")
FIELDS["startbasis"] = ("START_BASIS", _per_job(lambda j: startplan.basis(j) or "N/A"))
# -O Cluster: the cluster's name, asked of the controller only when shown (`columns`).
LONG_FIELDS["cluster"] = ("cluster", "CLUSTER")


# letter -> column(jobs, now): what layout.lines formats
COLUMNS = {letter: column for letter, (header, column) in FIELDS.items()}


def columns(cluster_name: str) -> dict:
    """COLUMNS with the cluster field's, `cluster_name` on every line."""
    return {**COLUMNS, "cluster": _fixed(cluster_name)}


# ---------------------------------------------------------------- --json

class JsonContext(NamedTuple):
    """What a job's --json values need besides the job: the time, the cluster's name and,
    per job id, its srun steps (for derived_exit_code)."""

    now: float
    cluster_name: str
    steps_of: dict


def _array_text(job, context) -> str:
    """An array record's unsplit tasks as Slurm's array_task_string: "1-4%2"."""
    return job.label.partition("_")[2][1:-1]


def _array_max_tasks(job, context) -> int:
    return accepted_array(job.spec.array).max_running


# What most jobs show, one object each: the --json encoder writes a value once per object.
_NONE: list = []
_SHOW_FLAGS = ["SHOW_ALL", "SHOW_DETAIL", "SHOW_LOCAL"]
_LIVE_STATES = frozenset({JobState.RUNNING, JobState.SUSPENDED, JobState.COMPLETING})   # (Job.is_live's)


def _flags(jobs, context) -> list[list[str]]:
    """Slurm's job flags that JEM can tell: resources given explicitly, and a job that runs."""
    table = table_of(jobs)
    states, per_node, per_cpu = (table.column(path) for path in (
        "state", "spec.mem_per_node_mib", "spec.mem_per_cpu_mib"))
    has_flags = [state in _LIVE_STATES or node is not None or cpu is not None
                 for state, node, cpu in zip(states, per_node, per_cpu)]
    return _where(table, has_flags, lambda job, context: _flags_of(job), [_NONE] * len(states), context)


def _flags_of(job) -> list[str]:
    flags = []
    if job.is_live:
        flags += ["JOB_CPUS_SET"] if job.spec.cpus_per_task > 1 else []
        flags.append("JOB_WAS_RUNNING")
    if job.spec.mem_per_node_mib is not None or job.spec.mem_per_cpu_mib is not None:
        flags.append("JOB_MEM_SET")
    return flags


def _gres_detail(job, context) -> list[str]:
    """Per node, the GPUs held and their indices: ["gpu:a100:2(IDX:0-1)"]."""
    if not job.shape.per_node.gpus:
        return _NONE
    kind = f"gpu:{job.spec.gpu_type}" if job.spec.gpu_type else "gpu"
    return [f"{kind}:{len(ids)}(IDX:{format_ranges(ids) if ids else 'N/A'})"
            for ids in (job.gpu_ids or [()] * len(job.nodes))]


def _job_resources(job, context) -> dict:
    """The allocation's nodes and cores (one socket, the CPU indices held)."""
    cpu_ids = job.cpu_ids or [tuple(range(job.shape.per_node.cpus))] * len(job.nodes)
    return {
        "nodes": jobview.node_list(job), "allocated_cores": jobview.total_cpus(job),
        "allocated_hosts": len(job.nodes),
        "allocated_nodes": [{"sockets": {"0": {"cores": {str(i): "allocated" for i in ids}}}, "nodename": node,
                             "cpus_used": 0, "memory_used": 0, "memory_allocated": job.shape.per_node.mem_mib}
                            for node, ids in zip(job.nodes, cpu_ids)],
    }


def _memory_per_cpu(jobs, context) -> list[int | None]:
    """memory_per_cpu: none when the job asked for memory per node, else what it asked per CPU
    (or its default per CPU; memory_per_node is the other)."""
    table = table_of(jobs)
    return [None if per_node is not None else per_cpu or mem_mib // max(cpus, 1)
            for per_node, per_cpu, mem_mib, cpus in zip(*map(table.column, (
                "spec.mem_per_node_mib", "spec.mem_per_cpu_mib", "shape.per_node.mem_mib", "shape.per_node.cpus")))]


def _eligible(jobs, context) -> list[int]:
    table = table_of(jobs)
    return [0 if held_by else int(begin or submit) for held_by, begin, submit
            in zip(table.column("held_by"), table.column("spec.begin_time"), table.column("submit_time"))]


def _end_times(jobs, context) -> list[int]:
    """end_time: 0 for a job with no end, start nor planned start (no call for those), else _expected_end."""
    table = table_of(jobs)
    ends, starts, planned = table.column("end_time"), table.column("start_time"), table.column("planned_start")
    has_times = [end is not None or start is not None or plan is not None
                 for end, start, plan in zip(ends, starts, planned)]
    return _where(table, has_times, lambda job, context: int(_expected_end(job) or 0), [0] * len(ends), context)


def _billable_tres(jobs, context) -> list[float | None]:
    table = table_of(jobs)
    return [None if start is None else float(n_nodes * cpus) for start, n_nodes, cpus in zip(
        table.column("start_time"), table.column("shape.n_nodes"), table.column("shape.per_node.cpus"))]


def _tres_texts(jobs, context) -> list[str]:
    """jobview.tres_text of each job, once per distinct (shape, GPU type, GRES): listed jobs share a
    few. (A shape by id: each job holds its own, alive while this runs; equal ones are mostly one.)"""
    table = table_of(jobs)
    shapes, gpu_types, gres = table.column("shape"), table.column("spec.gpu_type"), table.column("spec.gres_per_node")
    texts: dict = {}
    return [texts[key] if key in texts else texts.setdefault(key, jobview.tres_text_of(shape, gpu_type, job_gres))
            for key, shape, gpu_type, job_gres in zip(zip(map(id, shapes), gpu_types, gres), shapes, gpu_types, gres)]


def _batch_statuses(jobs, context) -> list[int]:
    """exit_code: jobview.batch_status of each job, from its state and exit (a few distinct ones)."""
    table = table_of(jobs)
    return list(map(jobview.batch_status_of, *map(table.column, ("state", "exit_code", "exit_signal"))))


def _derived_statuses(jobs, context) -> list[int]:
    """derived_exit_code: the highest of the job's srun steps' statuses, 0 without steps."""
    steps_of = context.steps_of
    return [jobview.derived_status(steps_of[job_id]) if job_id in steps_of else 0
            for job_id in table_of(jobs).column("job_id")]


def _last_evaluations(jobs, context) -> list[int]:
    table = table_of(jobs)
    return [int(start or submit) for start, submit in zip(table.column("start_time"), table.column("submit_time"))]


def _json_starts(jobs, context) -> list[int]:
    table = table_of(jobs)
    return [int(start or planned or 0) for start, planned
            in zip(table.column("start_time"), table.column("planned_start"))]


# Slurm 22.05's squeue --json (openapi v0.0.38) job: (key, column(jobs, context) or jsonrows.Same).
# Where JEM keeps nothing it prints what Slurm prints unset; the sizes Slurm prints null for
# (cpus_per_task, cores_per_socket, ...) are null as in Slurm, and job_resources is only there
# for a job that has nodes. Columns as squeue's text fields (see "columns" above), of values.
_S = jsonrows.Same
JSON_FIELDS = (
    ("account", _attr("spec.account")),
    ("accrue_time", _eligible), ("admin_comment", _S("")),
    ("array_job_id", _attr("array_job_id")), ("array_task_id", _attr("array_task_id")),
    ("array_max_tasks", _if_set("array_pending", _array_max_tasks, 0)),
    ("array_task_string", _if_set("array_pending", _array_text, "")),
    ("association_id", _S(0)), ("batch_features", _S("")), ("batch_flag", _S(True)),
    ("batch_host", _if_set("nodes", lambda j, c: j.nodes[0], "")), ("flags", _flags),
    ("burst_buffer", _S("")), ("burst_buffer_state", _S("")),
    ("cluster", lambda jobs, c: itertools.repeat(c.cluster_name, len(jobs))),
    ("cluster_features", _S("")), ("command", _S("")), ("comment", _S("")), ("container", _S("")),
    ("contiguous", _S(False)), ("core_spec", _S(None)), ("thread_spec", _S(None)), ("cores_per_socket", _S(None)),
    ("billable_tres", _billable_tres),
    ("cpus_per_task", _S(None)), ("cpu_frequency_minimum", _S(None)), ("cpu_frequency_maximum", _S(None)),
    ("cpu_frequency_governor", _S(None)), ("cpus_per_tres", _S("")), ("deadline", _S(0)), ("delay_boot", _S(0)),
    ("dependency", _if_set("dependency", lambda j, c: jobview.dependency_text(j), "")),
    ("derived_exit_code", _derived_statuses),
    ("eligible_time", _eligible), ("end_time", _end_times),
    ("excluded_nodes", _S("")), ("exit_code", _batch_statuses),
    ("features", _attr("spec.constraint")), ("federation_origin", _S("")),
    ("federation_siblings_active", _S("")), ("federation_siblings_viable", _S("")),
    ("gres_detail", _if_set("nodes", _gres_detail, _NONE)), ("group_id", _attr("gid")),
    ("group_name", _through("gid", jobview.group_name)), ("job_id", _attr("job_id")),
    ("job_resources", _if_set("nodes", _job_resources, jsonrows.ABSENT)),
    ("job_state", _through("state", _STATE_NAME.__getitem__)),
    ("last_sched_evaluation", _last_evaluations),
    ("licenses", _S("")), ("max_cpus", _S(0)), ("max_nodes", _S(0)), ("mcs_label", _S("")),
    ("memory_per_tres", _S("")),
    ("name", _attr("spec.name")), ("nodes", _if_set("nodes", lambda j, c: jobview.node_list(j), "")),
    ("nice", lambda jobs, c: [nice or None for nice in table_of(jobs).column("spec.nice")]),
    ("tasks_per_core", _S(None)),
    ("tasks_per_node", _attr("spec.n_tasks_per_node")), ("tasks_per_socket", _S(None)),
    ("tasks_per_board", _S(0)), ("cpus", _combined(operator.mul, "shape.n_nodes", "shape.per_node.cpus")),
    ("node_count", _attr("shape.n_nodes")), ("tasks", _attr("shape.n_tasks")),
    ("het_job_id", _S(0)), ("het_job_id_set", _S("")), ("het_job_offset", _S(0)),
    ("partition", _attr("spec.partition")), ("prefer", _S("")),
    ("memory_per_node", _attr("spec.mem_per_node_mib")), ("memory_per_cpu", _memory_per_cpu),
    ("minimum_cpus_per_node", _attr("shape.per_node.cpus")), ("minimum_tmp_disk_per_node", _S(0)),
    ("preempt_time", _S(0)), ("pre_sus_time", _S(0)), ("priority", _attr("priority")),
    ("profile", _S(None)), ("qos", _attr("spec.qos", unset="normal")), ("reboot", _S(False)),
    ("required_nodes", _S("")),
    ("requeue", lambda jobs, c: [requeue is not False for requeue in table_of(jobs).column("spec.requeue")]),
    ("resize_time", _S(0)),
    ("restart_cnt", _attr("restart_count")), ("resv_name", _attr("spec.reservation")),
    ("shared", _S(None)), ("show_flags", _S(_SHOW_FLAGS)),
    ("sockets_per_board", _S(0)), ("sockets_per_node", _S(None)),
    ("start_time", _json_starts),
    ("state_description", _attr("reason_detail")),
    ("state_reason", _through("reason", jobview.REASON_NAMES.__getitem__)),
    ("standard_error", _attr("spec.stderr_pattern")),
    ("standard_input", _attr("spec.stdin_path", unset="/dev/null")),
    ("standard_output", _attr("spec.stdout_pattern")), ("submit_time", _through("submit_time", int)),
    ("suspend_time", _S(0)), ("system_comment", _S("")),
    ("time_limit", lambda jobs, c: [None if limit is None else limit // 60
                                    for limit in table_of(jobs).column("time_limit_s")]),
    ("time_minimum", _S(0)), ("threads_per_core", _S(None)), ("tres_bind", _S("")), ("tres_freq", _S("")),
    ("tres_per_job", _S("")), ("tres_per_node", _combined(jobview.tres_per_node_of, "shape.per_node.gpus", "spec.gres_per_node", "spec.gpu_type")),
    ("tres_per_socket", _S("")), ("tres_per_task", _S("")), ("tres_req_str", _tres_texts),
    ("tres_alloc_str", _if_set("nodes", lambda j, c: jobview.tres_text(j), "")),
    ("user_id", _attr("uid")), ("user_name", _attr("user")), ("wckey", _S("")),
    ("current_working_directory", _attr("spec.working_dir")),
)
JSON_NAMES = tuple(name for name, _ in JSON_FIELDS)


def json_columns(jobs, context: JsonContext) -> list:
    """JSON_FIELDS' values of `jobs` a column at a time, for jsonrows.dumps_table."""
    return [value if isinstance(value, jsonrows.Same) else list(value(jobs, context)) for _, value in JSON_FIELDS]


def job_as_json(job, now: float, *, cluster_name: str, steps=()) -> dict:
    """One job as Slurm 22.05's squeue --json shows it (`steps`: its srun steps)."""
    context = JsonContext(now, cluster_name, {job.job_id: steps})
    row = {name: value.value if isinstance(value, jsonrows.Same) else next(iter(value([job], context)))
           for name, value in JSON_FIELDS}
    return {name: value for name, value in row.items() if value is not jsonrows.ABSENT}
