"""scontrol's `show` records (job, node, partition, reservation, config) in Slurm's key=value layout.

Each record is a first line and indented continuation lines of key=value
pairs (one line with -o/--oneliner), followed by a blank line.
"""

import datetime as dt
import os

import hostlist

from jem.model.filenames import DEFAULT_ARRAY_STDOUT, DEFAULT_STDOUT, PatternValues, expand_pattern
from jem.model.reasons import JobReason
from jem.model.units import format_mem_mib

from jem_slurm import jobview, startplan
from jem_slurm.command import SLURM_VERSION
from jem_slurm.sacct_fields import hms


def _record(lines: list[list[tuple[str, object]]], *, is_one_line: bool) -> str:
    texts = [" ".join(f"{k}={v}" for k, v in line) for line in lines]
    if is_one_line:
        return " ".join(texts)
    return "\n".join(texts[:1] + [f"   {t}" for t in texts[1:]]) + "\n"


def _path(job, pattern: str) -> str:
    values = PatternValues(job.job_id, job.spec.name, job.user, job.nodes[0] if job.nodes else "",
                           array_job_id=job.array_job_id or None, array_task_id=job.array_task_id)
    path = expand_pattern(pattern, values)
    return path if path.startswith("/") else os.path.join(job.spec.working_dir, path)


def job_record(job, now: float, *, is_one_line: bool = False) -> str:
    spec, shape = job.spec, job.shape
    group = jobview.group_name(job.gid)
    cpus = jobview.total_cpus(job)
    mem = format_mem_mib(shape.per_node.mem_mib)
    stdout = _path(job, spec.stdout_pattern or (DEFAULT_ARRAY_STDOUT if job.array_job_id else DEFAULT_STDOUT))
    stderr = _path(job, spec.stderr_pattern) if spec.stderr_pattern else stdout
    reason = job.reason.value + (f" ({job.reason_detail})" if job.reason_detail else "")
    if job.reason is JobReason.REQ_NODE_NOT_AVAIL and job.reason_detail:   # (Slurm: the description, "_" for " ")
        reason = job.reason_detail.replace(" ", "_")
    # Slurm prints SchedNodeList= only for a job with sched nodes; StartBasis= is JEM's own.
    sched_nodes, basis = startplan.sched_nodes(job), startplan.basis(job)
    lines = [
        [("JobId", job.job_id), ("JobName", spec.name)],
        [("UserId", f"{job.user}({job.uid})"), ("GroupId", f"{group}({job.gid})"), ("MCS_label", "N/A")],
        [("Priority", job.priority), ("Nice", spec.nice), ("Account", spec.account or "(null)"),
         ("QOS", spec.qos or "normal")],
        [("JobState", job.state.value), ("Reason", reason), ("Dependency", jobview.dependency_text(job))],
        [("Requeue", 0 if spec.requeue is False else 1), ("Restarts", job.restart_count), ("BatchFlag", 1),
         ("Reboot", 0), ("ExitCode", jobview.exit_code(job))],
        [("RunTime", hms(jobview.elapsed_s(job, now))), ("TimeLimit", hms(job.time_limit_s)), ("TimeMin", "N/A")],
        [("SubmitTime", jobview.iso(job.submit_time)),
         ("EligibleTime", jobview.iso(spec.begin_time or job.submit_time))],
        [("AccrueTime", jobview.iso(job.submit_time, "Unknown"))],
        [("StartTime", jobview.iso(job.start_time or job.planned_start, "Unknown")),
         ("EndTime", jobview.iso(jobview.expected_end(job) or startplan.planned_end(job), "Unknown")),
         ("Deadline", "N/A"), *([("StartBasis", basis)] if basis else [])],
        [("SuspendTime", "None"), ("SecsPreSuspend", 0), ("LastSchedEval", jobview.iso(job.submit_time)),
         ("Scheduler", "Main")],
        [("Partition", spec.partition), ("AllocNode:Sid", "localhost:0")],
        [("ReqNodeList", "(null)"), ("ExcNodeList", "(null)")],
        [("NodeList", jobview.node_list(job) or ("(null)" if job.is_pending else "")),
         *([("SchedNodeList", sched_nodes)] if sched_nodes else [])],
        *([[("BatchHost", job.nodes[0])]] if job.nodes else []),
        [("NumNodes", shape.n_nodes), ("NumCPUs", cpus), ("NumTasks", shape.n_tasks),
         ("CPUs/Task", spec.cpus_per_task), ("ReqB:S:C:T", "0:0:*:*")],
        [("TRES", ",".join([f"cpu={cpus},mem={format_mem_mib(shape.per_node.mem_mib * shape.n_nodes)},"
                            f"node={shape.n_nodes},billing={cpus}",
                            *(t for t in jobview.gres_tres(job, shape.n_nodes) if t.startswith("gres/gpu"))]))],
        [("Socks/Node", "*"), ("NtasksPerN:B:S:C", f"{spec.n_tasks_per_node}:0:*:*"), ("CoreSpec", "*")],
        [("MinCPUsNode", shape.per_node.cpus),
         ("MinMemoryNode", mem) if spec.mem_per_node_mib is not None else
         ("MinMemoryCPU",
          format_mem_mib(spec.mem_per_cpu_mib or shape.per_node.mem_mib // max(shape.per_node.cpus, 1))),
         ("MinTmpDiskNode", 0)],
        [("Features", spec.constraint or "(null)"), ("DelayBoot", "00:00:00")],
        [("OverSubscribe", "NO" if spec.exclusive else "OK"), ("Contiguous", 0), ("Licenses", "(null)"), ("Network", "(null)")],
        [("Command", "(null)")],
        [("WorkDir", spec.working_dir)],
        [("StdErr", stderr)],
        [("StdIn", spec.stdin_path or "/dev/null")],
        [("StdOut", stdout)],
        [("Power", "")],
    ]
    per_node = jobview.tres_per_node(job)
    if per_node:
        lines.insert(-7, [("TresPerNode", per_node)])
    if spec.reservation:   # (Slurm: its own line after Features=)
        after = next(n for n, line in enumerate(lines) if line[0][0] == "Features") + 1
        lines.insert(after, [("Reservation", spec.reservation)])
    return _record(lines, is_one_line=is_one_line)


def reservation_record(reservation, now: float, *, cpus_by_node: dict[str, int], is_one_line: bool = False) -> str:
    """`scontrol show reservation`'s record. CoreCnt and TRES count the cores it takes (CoreCnt=),
    else the CPUs of its nodes; a reservation of cores has Slurm's `  NodeName=n1 CoreIDs=0-1` line
    for each node (`core_lines`). Features, Groups, Licenses, BurstBuffer, Watts and MaxStartDelay
    are Slurm's unset values, JEM having none of them."""
    from jem_slurm import reservations

    start, end = reservations.shown_window(reservation, now)
    cpus = reservation.core_count or sum(cpus_by_node.get(name, 0) for name in reservation.node_names)
    lines = [
        [("ReservationName", reservation.name), ("StartTime", reservations.time_text(start)),
         ("EndTime", reservations.time_text(end)), ("Duration", reservations.duration_text(end - start))],
        [("Nodes", hostlist.collect_hostlist(list(reservation.node_names)) or "(null)"),
         ("NodeCnt", len(reservation.node_names)), ("CoreCnt", cpus), ("Features", "(null)"),
         ("PartitionName", reservation.partition or "(null)"), ("Flags", reservations.flags_text(reservation))],
        *core_lines(reservation),
        [("TRES", f"cpu={cpus}")],
        [("Users", ",".join(reservation.users) or "(null)"), ("Groups", "(null)"),
         ("Accounts", ",".join(reservation.accounts) or "(null)"), ("Licenses", "(null)"),
         ("State", reservations.state_text(reservation, now)), ("BurstBuffer", "(null)"), ("Watts", "n/a")],
        [("MaxStartDelay", "(null)")],
    ]
    return _record(lines, is_one_line=is_one_line)


def core_lines(reservation) -> list[list[tuple[str, object]]]:
    """Slurm's lines of a reservation of cores, one per node in node order, indented two more:
    `  NodeName=n1 CoreIDs=0-1`. JEM reserves a count of a node's cores, not given ones, so its
    CoreIDs number them from 0 (Slurm names the cores it picked, 2-3 where another reservation
    has 0-1). None for a reservation of whole nodes.

    >>> from jem.model.reservation import Reservation
    >>> core_lines(Reservation("r", 0, 1, ("n2", "n1"), users=("a",), cores_per_node=(4, 1)))
    [[('  NodeName', 'n1'), ('CoreIDs', '0')], [('  NodeName', 'n2'), ('CoreIDs', '0-3')]]
    """
    if not reservation.core_count:
        return []
    lines = []
    for name in hostlist.numerically_sorted(list(reservation.node_names)):
        cores = reservation.cores_on(name)
        lines.append([("  NodeName", name), ("CoreIDs", "0" if cores == 1 else f"0-{cores - 1}")])
    return lines


_NODE_STATE = {"IDLE": "IDLE", "MIXED": "MIXED", "ALLOCATED": "ALLOCATED", "DRAINING": "MIXED+DRAIN",
               "DRAINED": "IDLE+DRAIN", "DOWN": "DOWN+NOT_RESPONDING"}


def node_state_text(info) -> str:
    """A node's State= as Slurm prints it: plain `DOWN` for a node an administrator took down
    whose agent answers, `DOWN+NOT_RESPONDING` for one that does not respond."""
    if info.state.value == "DOWN" and info.node.is_responding:
        return "DOWN"
    return _NODE_STATE[info.state.value]


def _gpu_tres(gpus: int, gpu_type: str) -> str:
    """",gres/gpu=4,gres/gpu:a100=4" (a typed node's GPUs count under both names), or "" for none."""
    if not gpus:
        return ""
    return f",gres/gpu={gpus}" + (f",gres/gpu:{gpu_type.lower()}={gpus}" if gpu_type else "")


def node_record(info, *, is_one_line: bool = False) -> str:
    node = info.node
    cap, alloc = node.capacity, node.allocated
    gres = jobview.gres_text(cap.gpus, node.gres, gpu_type=node.gpu_type)
    address = node.agent_address.rsplit(":", 1)
    lines = [
        [("NodeName", node.name), ("Arch", os.uname().machine), ("CoresPerSocket", cap.cpus)],
        [("CPUAlloc", alloc.cpus), ("CPUEfctv", cap.cpus), ("CPUTot", cap.cpus), ("CPULoad", "N/A")],
        [("AvailableFeatures", jobview.features_text(node.features))],
        [("ActiveFeatures", jobview.features_text(node.features))],
        [("Gres", gres)],
        [("NodeAddr", address[0] or node.name), ("NodeHostName", node.name),
         ("Port", address[1] if len(address) == 2 else 0), ("Version", "22.05.8")],
        [("RealMemory", cap.mem_mib), ("AllocMem", alloc.mem_mib), ("FreeMem", "N/A"), ("Sockets", 1),
         ("Boards", 1)],
        [("State", node_state_text(info)), ("ThreadsPerCore", 1), ("TmpDisk", 0), ("Weight", 1),
         ("Owner", "N/A"), ("MCS_label", "N/A")],
        [("Partitions", ",".join(info.partitions))],
        [("LastBusyTime", jobview.iso(node.last_heartbeat, "None") if node.job_ids else "None")],
        [("CfgTRES", f"cpu={cap.cpus},mem={format_mem_mib(cap.mem_mib)},billing={cap.cpus}"
                     + _gpu_tres(cap.gpus, node.gpu_type))],
        [("AllocTRES", ",".join(p for p in (f"cpu={alloc.cpus}" if alloc.cpus else "",
                                            f"mem={format_mem_mib(alloc.mem_mib)}" if alloc.mem_mib else "",
                                            _gpu_tres(alloc.gpus, node.gpu_type)[1:]) if p))],
        [("CapWatts", "n/a")],
        [("CurrentWatts", 0), ("AveWatts", 0)],
        [("ExtSensorsJoules", "n/s"), ("ExtSensorsWatts", 0), ("ExtSensorsTemp", "n/s")],
    ]
    if node.reason:
        lines.append([("Reason", node.reason)])
    return _record(lines, is_one_line=is_one_line)


def partition_record(partition, infos, *, is_one_line: bool = False) -> str:
    from jem.model.units import format_duration

    members = [i for i in infos if partition.name in i.partitions]
    cpus = sum(i.node.capacity.cpus for i in members)
    mem = sum(i.node.capacity.mem_mib for i in members)

    def limit(seconds):
        return "UNLIMITED" if seconds is None else format_duration(seconds)

    lines = [
        [("PartitionName", partition.name)],
        [("AllowGroups", ",".join(partition.allow_groups) or "ALL"),
         ("AllowAccounts", ",".join(partition.allow_accounts) or "ALL"),
         ("AllowQos", ",".join(partition.allow_qos) or "ALL")],
        [("AllocNodes", "ALL"), ("Default", "YES" if partition.is_default else "NO"), ("QoS", partition.qos or "N/A")],
        [("DefaultTime", "NONE" if partition.default_time_s is None else format_duration(partition.default_time_s)),
         ("DisableRootJobs", "NO"), ("ExclusiveUser", "NO"), ("GraceTime", 0), ("Hidden", "NO")],
        [("MaxNodes", partition.max_nodes or "UNLIMITED"), ("MaxTime", limit(partition.max_time_s)), ("MinNodes", 0),
         ("LLN", "NO"),
         ("MaxCPUsPerNode", "UNLIMITED")],
        [("Nodes", hostlist.collect_hostlist([i.node.name for i in members]) if members else "(null)")],
        [("PriorityJobFactor", 1), ("PriorityTier", partition.priority_tier), ("RootOnly", "NO"),
         ("ReqResv", "NO"), ("OverSubscribe", "NO")],
        [("OverTimeLimit", "NONE"), ("PreemptMode", "OFF")],
        [("State", "UP" if partition.is_up else "DOWN"), ("TotalCPUs", cpus), ("TotalNodes", len(members)),
         ("SelectTypeParameters", "NONE")],
        [("JobDefaults", "(null)")],
        [("DefMemPerCPU" if partition.default_mem_per_cpu_mib else "DefMemPerNode",
          partition.default_mem_per_cpu_mib or "UNLIMITED"), ("MaxMemPerNode", "UNLIMITED")],
        [("TRES", f"cpu={cpus},mem={format_mem_mib(mem)},node={len(members)},billing={cpus}")],
    ]
    return _record(lines, is_one_line=is_one_line)


def config_text(address: str, now: float, *, cluster_name: str) -> str:
    pairs = [
        ("ClusterName", cluster_name), ("SLURM_VERSION", SLURM_VERSION.split()[1]),
        ("SlurmctldHost[0]", address), ("SlurmctldPort", address.rsplit(":", 1)[-1]),
        ("SchedulerType", "jem (priority-order first fit)"), ("SelectType", "jem"),
        ("JobRequeue", 1), ("ProctrackType", "jem agent cgroups"), ("TaskPlugin", "jem agent cgroups"),
    ]
    width = max(len(k) for k, _ in pairs)
    stamp = dt.datetime.fromtimestamp(now).isoformat(timespec="seconds")
    return f"Configuration data as of {stamp}\n" + "\n".join(f"{k.ljust(width)} = {v}" for k, v in pairs)
