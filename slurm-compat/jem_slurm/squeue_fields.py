"""squeue's job fields: each `%` letter's header and value, and the `-O/--Format` names for them.

Values come from a jem.model Job and the time `now` (epoch seconds). Where JEM
keeps nothing for a field (comment, wckey, ...) or the job sets nothing (no QOS,
features or reservation) it shows what Slurm shows for an unset one.
"""

import functools

from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.model.units import format_duration, format_mem_mib

from jem_slurm import jobview, startplan


_IN_PARENS = {reason: f"({reason.value})" for reason in JobReason}


def reason_text(job) -> str:
    """The reason as squeue prints it: Slurm shows a job's state description in its place when
    there is one ("Nodes required for job are DOWN, DRAINED or ..." for ReqNodeNotAvail)."""
    if job.reason is JobReason.REQ_NODE_NOT_AVAIL and job.reason_detail:
        return job.reason_detail
    return job.reason.value


def _reason_or_nodes(job, now) -> str:
    if job.state is JobState.PENDING or (not job.nodes and job.reason is not JobReason.NONE):
        if job.reason is JobReason.REQ_NODE_NOT_AVAIL:
            return f"({reason_text(job)})"
        return _IN_PARENS[job.reason]
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


def job_as_json(job, now: float, *, cluster_name: str) -> dict:
    """One job in the shape of Slurm's squeue --json (a common subset of data_parser's fields)."""
    spec = job.spec
    return {
        "account": spec.account, "job_id": job.job_id, "name": spec.name, "user_name": job.user,
        "user_id": job.uid, "group_id": job.gid, "group_name": jobview.group_name(job.gid),
        "job_state": job.state.value, "state_reason": job.reason.value, "state_description": job.reason_detail,
        "partition": spec.partition, "nodes": jobview.node_list(job), "node_count": job.shape.n_nodes,
        "cpus": jobview.total_cpus(job), "tasks": job.shape.n_tasks, "cpus_per_task": spec.cpus_per_task,
        "memory_per_node": job.shape.per_node.mem_mib, "memory_per_cpu": spec.mem_per_cpu_mib,
        "tres_per_node": jobview.tres_per_node(job),
        "time_limit": None if job.time_limit_s is None else job.time_limit_s // 60,
        "submit_time": int(job.submit_time), "start_time": int(job.start_time or job.planned_start or 0),
        "end_time": int(_expected_end(job) or 0), "eligible_time": int(spec.begin_time or job.submit_time),
        "priority": job.priority, "nice": spec.nice, "exit_code": job.exit_code, "exit_signal": job.exit_signal,
        "batch_flag": True, "batch_host": job.nodes[0] if job.nodes else "", "requeue": spec.requeue is not False,
        "restart_cnt": job.restart_count, "current_working_directory": spec.working_dir,
        "standard_output": spec.stdout_pattern, "standard_error": spec.stderr_pattern,
        "standard_input": spec.stdin_path or "/dev/null", "qos": spec.qos or "normal", "array_job_id": job.array_job_id,
        "array_task_id": job.array_task_id, "dependency": job.dependency, "comment": "", "cluster": cluster_name,
    }
