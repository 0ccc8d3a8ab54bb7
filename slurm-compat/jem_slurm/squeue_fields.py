"""squeue's job fields: each `%` letter's header and value, the `-O/--Format` names for them,
and the keys of a job in `--json`.

Values come from a jem.model Job and the time `now` (epoch seconds). Where JEM
keeps nothing for a field (comment, wckey, ...) or the job sets nothing (no QOS,
features or reservation) it shows what Slurm shows for an unset one.
"""

import functools
import itertools
from typing import NamedTuple

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


def _min_memory(job, now) -> str:
    spec = job.spec
    return format_mem_mib(spec.mem_per_cpu_mib if spec.mem_per_cpu_mib else job.shape.per_node.mem_mib)


def _time_left(job, now) -> str:
    if job.time_limit_s is None:
        return "UNLIMITED"
    return format_duration(max(0, job.time_limit_s - jobview.elapsed_s(job, now)))


def _start(job, now) -> str:
    return jobview.iso(job.start_time if job.start_time is not None else job.planned_start)


def _end(job, now) -> str:
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


def _null(text: str) -> str:
    return text or "(null)"


# letter -> (header, value(job, now))
FIELDS = {
    "i": ("JOBID", lambda j, now: j.label),
    "A": ("JOBID", lambda j, now: str(j.job_id)),
    "F": ("ARRAY_JOB_ID", lambda j, now: str(j.array_job_id or j.job_id)),
    "K": ("ARRAY_TASK_ID", lambda j, now: jobview.array_task_text(j)),
    "j": ("NAME", lambda j, now: j.spec.name),
    "u": ("USER", lambda j, now: j.user),
    "U": ("UID", lambda j, now: str(j.uid)),
    "g": ("GROUP", lambda j, now: jobview.group_name(j.gid)),
    "G": ("GROUP", lambda j, now: str(j.gid)),
    "t": ("ST", lambda j, now: j.state.compact),
    "T": ("STATE", lambda j, now: j.state.value),
    "M": ("TIME", lambda j, now: _duration(jobview.elapsed_s(j, now))),
    "l": ("TIME_LIMIT", lambda j, now: format_duration(j.time_limit_s)),
    "L": ("TIME_LEFT", _time_left),
    "D": ("NODES", lambda j, now: str(j.shape.n_nodes)),
    "R": ("NODELIST(REASON)", _reason_or_nodes),
    "r": ("REASON", lambda j, now: reason_text(j)),
    "P": ("PARTITION", lambda j, now: j.spec.partition),
    "N": ("NODELIST", lambda j, now: jobview.node_list(j)),
    "B": ("EXEC_HOST", lambda j, now: j.nodes[0] if j.nodes else "n/a"),
    "C": ("CPUS", lambda j, now: str(jobview.total_cpus(j))),
    "c": ("MIN_CPUS", lambda j, now: str(j.shape.per_node.cpus)),
    "m": ("MIN_MEMORY", _min_memory),
    "d": ("MIN_TMP_DISK", lambda j, now: "0"),
    "b": ("TRES_PER_NODE", lambda j, now: jobview.tres_per_node(j) or "N/A"),
    "V": ("SUBMIT_TIME", lambda j, now: jobview.iso(j.submit_time)),
    "S": ("START_TIME", _start),
    "e": ("END_TIME", _end),
    "Q": ("PRIORITY", lambda j, now: str(j.priority)),
    "p": ("PRIORITY", lambda j, now: f"{j.priority / 4294967295:.14f}"),
    "y": ("NICE", lambda j, now: str(j.spec.nice)),
    "a": ("ACCOUNT", lambda j, now: _null(j.spec.account)),
    "q": ("QOS", lambda j, now: j.spec.qos or "normal"),
    "k": ("COMMENT", lambda j, now: "(null)"),
    "o": ("COMMAND", lambda j, now: "(null)"),
    "Z": ("WORK_DIR", lambda j, now: j.spec.working_dir),
    "E": ("DEPENDENCY", lambda j, now: jobview.dependency_text(j)),
    "f": ("FEATURES", lambda j, now: j.spec.constraint or "(null)"),
    "v": ("RESERVATION", lambda j, now: j.spec.reservation or "(null)"),
    "w": ("WCKEY", lambda j, now: "(null)"),
    "h": ("OVER_SUBSCRIBE", lambda j, now: "NO" if j.spec.exclusive else "OK"),
    "O": ("CONTIGUOUS", lambda j, now: "0"),
    "n": ("REQ_NODES", lambda j, now: ""),
    "x": ("EXC_NODES", lambda j, now: ""),
    "z": ("S:C:T", lambda j, now: "*:*:*"),
    "Y": ("SCHEDNODES", lambda j, now: startplan.sched_nodes(j) or "(null)"),
    "H": ("SOCKETS_PER_NODE", lambda j, now: "*"),
    "I": ("CORES_PER_SOCKET", lambda j, now: "*"),
    "J": ("THREADS_PER_CORE", lambda j, now: "*"),
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
FIELDS["X"] = ("EXIT_CODE", lambda j, now: jobview.exit_code(j))
FIELDS["1"] = ("STDOUT", lambda j, now: j.spec.stdout_pattern or "slurm-%j.out")
FIELDS["2"] = ("STDERR", lambda j, now: j.spec.stderr_pattern or j.spec.stdout_pattern or "slurm-%j.out")
FIELDS["3"] = ("STDIN", lambda j, now: j.spec.stdin_path or "/dev/null")
# JEM's own: a pending job's planned start is a RESERVATION or an ESTIMATE (see jem_slurm.startplan).
# Slurm gives every letter of -o a meaning, so this one is -O StartBasis only.
LONG_FIELDS["startbasis"] = ("startbasis", "START_BASIS")
FIELDS["startbasis"] = ("START_BASIS", lambda j, now: startplan.basis(j) or "N/A")
# -O Cluster: the cluster's name, asked of the controller only when shown (`getters`).
LONG_FIELDS["cluster"] = ("cluster", "CLUSTER")


# letter -> value(job, now): what layout.lines maps over the jobs
GETTERS = {letter: value for letter, (header, value) in FIELDS.items()}


def getters(cluster_name: str) -> dict:
    """GETTERS with the cluster field's value, `cluster_name`."""
    return {**GETTERS, "cluster": lambda job, now: cluster_name}


# ---------------------------------------------------------------- --json

class JsonContext(NamedTuple):
    """What a job's --json values need besides the job: the time, the cluster's name and,
    per job id, its srun steps (for derived_exit_code)."""

    now: float
    cluster_name: str
    steps_of: dict


def _array_text(job) -> str:
    """An array record's unsplit tasks as Slurm's array_task_string: "1-4%2"; "" for other jobs."""
    return job.label.partition("_")[2][1:-1] if job.array_pending else ""


def _array_max_tasks(job) -> int:
    return accepted_array(job.spec.array).max_running if job.array_pending else 0


# What most jobs show, one object each: the --json encoder writes a value once per object.
_NONE: list = []
_SHOW_FLAGS = ["SHOW_ALL", "SHOW_DETAIL", "SHOW_LOCAL"]


def _flags(job) -> list[str]:
    """Slurm's job flags that JEM can tell: resources given explicitly, and a job that runs."""
    if not job.is_live and job.spec.mem_per_node_mib is None and job.spec.mem_per_cpu_mib is None:
        return _NONE
    flags = []
    if job.is_live:
        flags += ["JOB_CPUS_SET"] if job.spec.cpus_per_task > 1 else []
        flags.append("JOB_WAS_RUNNING")
    if job.spec.mem_per_node_mib is not None or job.spec.mem_per_cpu_mib is not None:
        flags.append("JOB_MEM_SET")
    return flags


def _gres_detail(job) -> list[str]:
    """Per node, the GPUs held and their indices: ["gpu:a100:2(IDX:0-1)"]."""
    if not job.nodes or not job.shape.per_node.gpus:
        return _NONE
    kind = f"gpu:{job.spec.gpu_type}" if job.spec.gpu_type else "gpu"
    return [f"{kind}:{len(ids)}(IDX:{format_ranges(ids) if ids else 'N/A'})"
            for ids in (job.gpu_ids or [()] * len(job.nodes))]


def _job_resources(job):
    """The allocation's nodes and cores (one socket, the CPU indices held), ABSENT for a job without nodes."""
    if not job.nodes:
        return jsonrows.ABSENT
    cpu_ids = job.cpu_ids or [tuple(range(job.shape.per_node.cpus))] * len(job.nodes)
    return {
        "nodes": jobview.node_list(job), "allocated_cores": jobview.total_cpus(job),
        "allocated_hosts": len(job.nodes),
        "allocated_nodes": [{"sockets": {"0": {"cores": {str(i): "allocated" for i in ids}}}, "nodename": node,
                             "cpus_used": 0, "memory_used": 0, "memory_allocated": job.shape.per_node.mem_mib}
                            for node, ids in zip(job.nodes, cpu_ids)],
    }


def _memory(job) -> tuple[int | None, int | None]:
    """(memory_per_node, memory_per_cpu): the one the job asked for (or its default per CPU)."""
    spec, per_node = job.spec, job.shape.per_node
    if spec.mem_per_node_mib is not None:
        return spec.mem_per_node_mib, None
    return None, spec.mem_per_cpu_mib or per_node.mem_mib // max(per_node.cpus, 1)


def _eligible(job) -> int:
    return 0 if job.held_by else int(job.spec.begin_time or job.submit_time)


def _started(job) -> bool:
    return job.start_time is not None


# Slurm 22.05's squeue --json (openapi v0.0.38) job: (key, value(job, context) or jsonrows.Same).
# Where JEM keeps nothing it prints what Slurm prints unset; the sizes Slurm prints null for
# (cpus_per_task, cores_per_socket, ...) are null as in Slurm, and job_resources is only there
# for a job that has nodes.
_S = jsonrows.Same
JSON_FIELDS = (
    ("account", lambda j, c: j.spec.account),
    ("accrue_time", lambda j, c: _eligible(j)), ("admin_comment", _S("")),
    ("array_job_id", lambda j, c: j.array_job_id), ("array_task_id", lambda j, c: j.array_task_id),
    ("array_max_tasks", lambda j, c: _array_max_tasks(j)), ("array_task_string", lambda j, c: _array_text(j)),
    ("association_id", _S(0)), ("batch_features", _S("")), ("batch_flag", _S(True)),
    ("batch_host", lambda j, c: j.nodes[0] if j.nodes else ""), ("flags", lambda j, c: _flags(j)),
    ("burst_buffer", _S("")), ("burst_buffer_state", _S("")), ("cluster", lambda j, c: c.cluster_name),
    ("cluster_features", _S("")), ("command", _S("")), ("comment", _S("")), ("container", _S("")),
    ("contiguous", _S(False)), ("core_spec", _S(None)), ("thread_spec", _S(None)), ("cores_per_socket", _S(None)),
    ("billable_tres", lambda j, c: float(jobview.total_cpus(j)) if _started(j) else None),
    ("cpus_per_task", _S(None)), ("cpu_frequency_minimum", _S(None)), ("cpu_frequency_maximum", _S(None)),
    ("cpu_frequency_governor", _S(None)), ("cpus_per_tres", _S("")), ("deadline", _S(0)), ("delay_boot", _S(0)),
    ("dependency", lambda j, c: jobview.dependency_text(j) if j.dependency else ""),
    ("derived_exit_code", lambda j, c: jobview.derived_status(c.steps_of[j.job_id]) if j.job_id in c.steps_of else 0),
    ("eligible_time", lambda j, c: _eligible(j)), ("end_time", lambda j, c: int(_expected_end(j) or 0)),
    ("excluded_nodes", _S("")), ("exit_code", lambda j, c: jobview.batch_status(j)),
    ("features", lambda j, c: j.spec.constraint), ("federation_origin", _S("")),
    ("federation_siblings_active", _S("")), ("federation_siblings_viable", _S("")),
    ("gres_detail", lambda j, c: _gres_detail(j)), ("group_id", lambda j, c: j.gid),
    ("group_name", lambda j, c: jobview.group_name(j.gid)), ("job_id", lambda j, c: j.job_id),
    ("job_resources", lambda j, c: _job_resources(j)), ("job_state", lambda j, c: j.state.value),
    ("last_sched_evaluation", lambda j, c: int(j.start_time or j.submit_time)), ("licenses", _S("")),
    ("max_cpus", _S(0)), ("max_nodes", _S(0)), ("mcs_label", _S("")), ("memory_per_tres", _S("")),
    ("name", lambda j, c: j.spec.name), ("nodes", lambda j, c: jobview.node_list(j)),
    ("nice", lambda j, c: j.spec.nice or None), ("tasks_per_core", _S(None)),
    ("tasks_per_node", lambda j, c: j.spec.n_tasks_per_node), ("tasks_per_socket", _S(None)),
    ("tasks_per_board", _S(0)), ("cpus", lambda j, c: jobview.total_cpus(j)),
    ("node_count", lambda j, c: j.shape.n_nodes), ("tasks", lambda j, c: j.shape.n_tasks),
    ("het_job_id", _S(0)), ("het_job_id_set", _S("")), ("het_job_offset", _S(0)),
    ("partition", lambda j, c: j.spec.partition), ("prefer", _S("")),
    ("memory_per_node", lambda j, c: _memory(j)[0]), ("memory_per_cpu", lambda j, c: _memory(j)[1]),
    ("minimum_cpus_per_node", lambda j, c: j.shape.per_node.cpus), ("minimum_tmp_disk_per_node", _S(0)),
    ("preempt_time", _S(0)), ("pre_sus_time", _S(0)), ("priority", lambda j, c: j.priority),
    ("profile", _S(None)), ("qos", lambda j, c: j.spec.qos or "normal"), ("reboot", _S(False)),
    ("required_nodes", _S("")), ("requeue", lambda j, c: j.spec.requeue is not False), ("resize_time", _S(0)),
    ("restart_cnt", lambda j, c: j.restart_count), ("resv_name", lambda j, c: j.spec.reservation),
    ("shared", _S(None)), ("show_flags", _S(_SHOW_FLAGS)),
    ("sockets_per_board", _S(0)), ("sockets_per_node", _S(None)),
    ("start_time", lambda j, c: int(j.start_time or j.planned_start or 0)),
    ("state_description", lambda j, c: j.reason_detail), ("state_reason", lambda j, c: jobview.reason_name(j)),
    ("standard_error", lambda j, c: j.spec.stderr_pattern),
    ("standard_input", lambda j, c: j.spec.stdin_path or "/dev/null"),
    ("standard_output", lambda j, c: j.spec.stdout_pattern), ("submit_time", lambda j, c: int(j.submit_time)),
    ("suspend_time", _S(0)), ("system_comment", _S("")),
    ("time_limit", lambda j, c: None if j.time_limit_s is None else j.time_limit_s // 60),
    ("time_minimum", _S(0)), ("threads_per_core", _S(None)), ("tres_bind", _S("")), ("tres_freq", _S("")),
    ("tres_per_job", _S("")), ("tres_per_node", lambda j, c: jobview.tres_per_node(j)),
    ("tres_per_socket", _S("")), ("tres_per_task", _S("")), ("tres_req_str", lambda j, c: jobview.tres_text(j)),
    ("tres_alloc_str", lambda j, c: jobview.tres_text(j) if j.nodes else ""),
    ("user_id", lambda j, c: j.uid), ("user_name", lambda j, c: j.user), ("wckey", _S("")),
    ("current_working_directory", lambda j, c: j.spec.working_dir),
)
JSON_NAMES = tuple(name for name, _ in JSON_FIELDS)


def json_columns(jobs: list, context: JsonContext) -> list:
    """JSON_FIELDS' values of `jobs` a column at a time, for jsonrows.dumps_table."""
    each = itertools.repeat(context)
    return [value if isinstance(value, jsonrows.Same) else list(map(value, jobs, each)) for _, value in JSON_FIELDS]


def job_as_json(job, now: float, *, cluster_name: str, steps=()) -> dict:
    """One job as Slurm 22.05's squeue --json shows it (`steps`: its srun steps)."""
    context = JsonContext(now, cluster_name, {job.job_id: steps})
    row = {name: value.value if isinstance(value, jsonrows.Same) else value(job, context)
           for name, value in JSON_FIELDS}
    return {name: value for name, value in row.items() if value is not jsonrows.ABSENT}
