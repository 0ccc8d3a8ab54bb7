"""scontrol's `show` records (job, node, partition, reservation, config) in Slurm's key=value layout.

Each record is a first line and indented continuation lines of key=value
pairs (one line with -o/--oneliner), followed by a blank line.
"""

import datetime as dt
import os

import hostlist

from jem.model.filenames import DEFAULT_ARRAY_STDOUT, DEFAULT_STDOUT, PatternValues, expand_pattern
from jem.model.mail import mail_recipient
from jem.model.reasons import JobReason
from jem.model.retry import format_states, retry_states
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


def job_record(job, now: float, *, is_one_line: bool = False, mail_domain: str = "") -> str:
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
        [("Requeue", 0 if spec.requeue is False else 1), ("Restarts", job.restart_count), ("BatchFlag", 0 if job.is_allocation else 1),
         ("Reboot", 0), ("ExitCode", jobview.exit_code(job))],
        *_retry_lines(job),
        [("RunTime", hms(jobview.elapsed_s(job, now))), ("TimeLimit", hms(job.time_limit_s)), ("TimeMin", "N/A")],
        [("SubmitTime", jobview.iso(job.submit_time)),
         ("EligibleTime", jobview.iso(spec.begin_time or job.submit_time))],
        [("AccrueTime", jobview.iso(job.submit_time, "Unknown"))],
        [("StartTime", jobview.iso(job.start_time or job.planned_start, "Unknown")),
         ("EndTime", jobview.iso(jobview.expected_end(job) or startplan.planned_end(job), "Unknown")),
         ("Deadline", "N/A"), *([("StartBasis", basis)] if basis else [])],
        *([[("CronJob", "Yes"), ("CrontabSpec", f'"{spec.cron_schedule}"')]] if spec.cron_schedule else []),
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
    # After Power=, Slurm 22.05's optional lines: TresPerNode=, then MailUser= MailType= for a job
    # with mail types (its --mail-user, else its user with the site's MailDomain: mail_recipient).
    per_node = jobview.tres_per_node(job)
    if per_node:
        lines.append([("TresPerNode", per_node)])
    if spec.mail_type:
        lines.append([("MailUser", mail_recipient(spec.mail_user, job.user, mail_domain)),
                      ("MailType", spec.mail_type)])
    if spec.reservation:   # (Slurm: its own line after Features=)
        after = next(n for n, line in enumerate(lines) if line[0][0] == "Features") + 1
        lines.insert(after, [("Reservation", spec.reservation)])
    return _record(lines, is_one_line=is_one_line)


def _retry_lines(job) -> list[list[tuple[str, object]]]:
    """JEM's own line for a job with a retry policy (sbatch --retries; Slurm has none): the retries
    allowed and made, the first retry's delay in seconds, and the end states retried."""
    spec = job.spec
    if not spec.retries:
        return []
    return [[("Retries", spec.retries), ("RetriesDone", job.retries_done), ("RetryDelay", spec.retry_delay_s),
             ("RetryOn", format_states(retry_states(spec.retry_on)))]]


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
    """`scontrol show node`'s record, Slurm 22.05's keys in its lines. Arch= and OS= are the host
    scontrol runs on (the agent does not report its own), BootTime= and SlurmdStartTime= Slurm's
    `None` for unknown; FreeMem, CPULoad, power and sensors Slurm's values for none measured."""
    node = info.node
    uname = os.uname()
    cap, alloc = node.capacity, node.allocated
    gres = jobview.gres_text(cap.gpus, node.gres, gpu_type=node.gpu_type)
    address = node.agent_address.rsplit(":", 1)
    lines = [
        [("NodeName", node.name), ("Arch", uname.machine), ("CoresPerSocket", cap.cpus)],
        [("CPUAlloc", alloc.cpus), ("CPUEfctv", cap.cpus), ("CPUTot", cap.cpus), ("CPULoad", "N/A")],
        [("AvailableFeatures", jobview.features_text(node.features))],
        [("ActiveFeatures", jobview.features_text(node.features))],
        [("Gres", gres)],
        [("NodeAddr", address[0] or node.name), ("NodeHostName", node.name),
         ("Port", address[1] if len(address) == 2 else 0), ("Version", SLURM_VERSION.split()[1])],
        [("OS", f"{uname.sysname} {uname.release} {uname.version}")],
        [("RealMemory", cap.mem_mib), ("AllocMem", alloc.mem_mib), ("FreeMem", "N/A"), ("Sockets", 1),
         ("Boards", 1)],
        [("State", node_state_text(info)), ("ThreadsPerCore", 1), ("TmpDisk", 0), ("Weight", 1),
         ("Owner", "N/A"), ("MCS_label", "N/A")],
        [("Partitions", ",".join(info.partitions))],
        [("BootTime", "None"), ("SlurmdStartTime", "None")],
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


# `scontrol show config`'s keys in Slurm 22.05's order, then its cgroup section's.
CONFIG_KEYS = """
AccountingStorageBackupHost AccountingStorageEnforce AccountingStorageHost AccountingStorageExternalHost
AccountingStorageParameters AccountingStoragePort AccountingStorageTRES AccountingStorageType
AccountingStorageUser AccountingStoreFlags AcctGatherEnergyType AcctGatherFilesystemType
AcctGatherInterconnectType AcctGatherNodeFreq AcctGatherProfileType AllowSpecResourcesUsage AuthAltTypes
AuthAltParameters AuthInfo AuthType BatchStartTimeout BcastExclude BcastParameters BOOT_TIME BurstBufferType
CliFilterPlugins ClusterName CommunicationParameters CompleteWait CoreSpecPlugin CpuFreqDef CpuFreqGovernors
CredType DebugFlags DefMemPerCPU DependencyParameters DisableRootJobs EioTimeout EnforcePartLimits Epilog
EpilogMsgTime EpilogSlurmctld ExtSensorsType ExtSensorsFreq FairShareDampeningFactor FederationParameters
FirstJobId GetEnvTimeout GresTypes GpuFreqDef GroupUpdateForce GroupUpdateTime HASH_VAL HealthCheckInterval
HealthCheckNodeState HealthCheckProgram InactiveLimit InteractiveStepOptions JobAcctGatherFrequency
JobAcctGatherType JobAcctGatherParams JobCompHost JobCompLoc JobCompPort JobCompType JobCompUser
JobContainerType JobCredentialPrivateKey JobCredentialPublicCertificate JobDefaults JobFileAppend JobRequeue
JobSubmitPlugins KillOnBadExit KillWait LaunchParameters LaunchType Licenses LogTimeFormat MailDomain MailProg
MaxArraySize MaxDBDMsgs MaxJobCount MaxJobId MaxMemPerNode MaxNodeCount MaxStepCount MaxTasksPerNode MCSPlugin
MCSParameters MessageTimeout MinJobAge MpiDefault MpiParams MULTIPLE_SLURMD NEXT_JOB_ID NodeFeaturesPlugins
OverTimeLimit PluginDir PlugStackConfig PowerParameters PowerPlugin PreemptMode PreemptType PreemptExemptTime
PrEpParameters PrEpPlugins PriorityParameters PrioritySiteFactorParameters PrioritySiteFactorPlugin
PriorityDecayHalfLife PriorityCalcPeriod PriorityFavorSmall PriorityFlags PriorityMaxAge
PriorityUsageResetPeriod PriorityType PriorityWeightAge PriorityWeightAssoc PriorityWeightFairShare
PriorityWeightJobSize PriorityWeightPartition PriorityWeightQOS PriorityWeightTRES PrivateData ProctrackType
Prolog PrologEpilogTimeout PrologSlurmctld PrologFlags PropagatePrioProcess PropagateResourceLimits
PropagateResourceLimitsExcept RebootProgram ReconfigFlags RequeueExit RequeueExitHold ResumeFailProgram
ResumeProgram ResumeRate ResumeTimeout ResvEpilog ResvOverRun ResvProlog ReturnToService RoutePlugin
SchedulerParameters SchedulerTimeSlice SchedulerType ScronParameters SelectType SelectTypeParameters SlurmUser
SlurmctldAddr SlurmctldDebug SlurmctldHost[0] SlurmctldLogFile SlurmctldPort SlurmctldSyslogDebug
SlurmctldPrimaryOffProg SlurmctldPrimaryOnProg SlurmctldTimeout SlurmctldParameters SlurmdDebug SlurmdLogFile
SlurmdParameters SlurmdPidFile SlurmdPort SlurmdSpoolDir SlurmdSyslogDebug SlurmdTimeout SlurmdUser
SlurmSchedLogFile SlurmSchedLogLevel SlurmctldPidFile SlurmctldPlugstack SLURM_CONF SLURM_VERSION SrunEpilog
SrunPortRange SrunProlog StateSaveLocation SuspendExcNodes SuspendExcParts SuspendProgram SuspendRate
SuspendTime SuspendTimeout SwitchParameters SwitchType TaskEpilog TaskPlugin TaskPluginParam TaskProlog
TCPTimeout TmpFS TopologyParam TopologyPlugin TrackWCKey TreeWidth UsePam UnkillableStepProgram
UnkillableStepTimeout VSizeFactor WaitTime X11Parameters
""".split()
CGROUP_KEYS = """
AllowedKmemSpace AllowedRAMSpace AllowedSwapSpace CgroupAutomount CgroupMountpoint CgroupPlugin ConstrainCores
ConstrainDevices ConstrainKmemSpace ConstrainRAMSpace ConstrainSwapSpace IgnoreSystemd IgnoreSystemdOnFailure
MaxKmemPercent MaxRAMPercent MaxSwapPercent MemorySwappiness MinKmemSpace MinRAMSpace
""".split()
# Placeholders: Slurm 22.05's defaults for what JEM has no setting of (a key not here is `(null)`).
SLURM_DEFAULTS = {
    "AccountingStorageEnforce": "none", "AccountingStoragePort": "0", "AccountingStorageType": "accounting_storage/none",
    "AccountingStorageTRES": "cpu,mem,energy,node,billing,fs/disk,vmem,pages", "AccountingStorageUser": "N/A",
    "AcctGatherEnergyType": "acct_gather_energy/none", "AcctGatherFilesystemType": "acct_gather_filesystem/none",
    "AcctGatherInterconnectType": "acct_gather_interconnect/none", "AcctGatherNodeFreq": "0 sec",
    "AcctGatherProfileType": "acct_gather_profile/none", "AllowSpecResourcesUsage": "No", "AuthType": "auth/munge",
    "BatchStartTimeout": "10 sec", "BcastExclude": "/lib,/usr/lib,/lib64,/usr/lib64", "CompleteWait": "0 sec",
    "CoreSpecPlugin": "core_spec/none", "CpuFreqDef": "Unknown", "CpuFreqGovernors": "OnDemand,Performance,UserSpace",
    "CredType": "cred/munge", "DefMemPerCPU": "UNLIMITED", "DisableRootJobs": "No", "EioTimeout": "60",
    "EnforcePartLimits": "NO", "EpilogMsgTime": "2000 usec", "ExtSensorsType": "ext_sensors/none",
    "ExtSensorsFreq": "0 sec", "FairShareDampeningFactor": "1", "FirstJobId": "1", "GetEnvTimeout": "2 sec",
    "GpuFreqDef": "high,memory=high", "GroupUpdateForce": "1", "GroupUpdateTime": "600 sec", "HASH_VAL": "Match",
    "HealthCheckInterval": "0 sec", "HealthCheckNodeState": "ANY", "InactiveLimit": "0 sec",
    "InteractiveStepOptions": "--interactive --preserve-env --pty $SHELL", "JobAcctGatherFrequency": "30",
    "JobAcctGatherType": "jobacct_gather/none", "JobCompPort": "0", "JobCompType": "jobcomp/none",
    "JobContainerType": "job_container/none", "JobFileAppend": "0", "JobRequeue": "1", "KillOnBadExit": "0",
    "KillWait": "30 sec", "LaunchType": "launch/slurm", "LogTimeFormat": "iso8601_ms", "MailProg": "/bin/mail",
    "MaxArraySize": "1001", "MaxJobCount": "10000", "MaxJobId": "67043328", "MaxMemPerNode": "UNLIMITED",
    "MaxStepCount": "40000", "MaxTasksPerNode": "512", "MCSPlugin": "mcs/none", "MessageTimeout": "10 sec",
    "MinJobAge": "300 sec", "MpiDefault": "none", "MULTIPLE_SLURMD": "No", "OverTimeLimit": "0 min",
    "PowerPlugin": "", "PreemptMode": "OFF", "PreemptType": "preempt/none", "PreemptExemptTime": "00:00:00",
    "PrEpPlugins": "prep/script", "PriorityType": "priority/basic", "PrivateData": "none",
    "ProctrackType": "proctrack/cgroup", "PrologEpilogTimeout": "65534", "PropagatePrioProcess": "0",
    "PropagateResourceLimits": "ALL", "ResumeRate": "300 nodes/min", "ResumeTimeout": "60 sec",
    "ResvOverRun": "0 min", "ReturnToService": "1", "RoutePlugin": "route/default",
    "SchedulerTimeSlice": "30 sec", "SelectTypeParameters": "CR_CORE_MEMORY", "SlurmctldDebug": "info",
    "SlurmctldTimeout": "120 sec", "SlurmdDebug": "info", "SlurmdPort": "6818", "SlurmdTimeout": "300 sec",
    "SlurmSchedLogLevel": "0", "SrunPortRange": "0-0", "SuspendRate": "60 nodes/min", "SuspendTime": "INFINITE",
    "SuspendTimeout": "30 sec", "SwitchType": "switch/none", "TaskPlugin": "task/cgroup",
    "TaskPluginParam": "(null type)", "TCPTimeout": "2 sec", "TmpFS": "/tmp", "TopologyPlugin": "topology/none",
    "TrackWCKey": "No", "TreeWidth": "50", "UsePam": "No", "UnkillableStepTimeout": "60 sec",
    "VSizeFactor": "0 percent", "WaitTime": "0 sec",
    "AllowedRAMSpace": "100.0%", "AllowedSwapSpace": "0.0%", "CgroupAutomount": "no",
    "CgroupMountpoint": "/sys/fs/cgroup", "CgroupPlugin": "autodetect", "ConstrainCores": "no",
    "ConstrainDevices": "no", "ConstrainKmemSpace": "no", "ConstrainRAMSpace": "no", "ConstrainSwapSpace": "no",
    "IgnoreSystemd": "no", "IgnoreSystemdOnFailure": "no", "MaxKmemPercent": "100.0%", "MaxRAMPercent": "100.0%",
    "MaxSwapPercent": "100.0%", "MinKmemSpace": "30 MB", "MinRAMSpace": "30 MB",
}
# The PriorityWeight* keys of the controller's [priority] weights.
_WEIGHT_KEYS = {"age": "PriorityWeightAge", "fairshare": "PriorityWeightFairShare", "job_size": "PriorityWeightJobSize",
                "partition": "PriorityWeightPartition", "qos": "PriorityWeightQOS"}


def _time_str(seconds: float) -> str:
    """Slurm's secs2time_str: HH:MM:SS, or D-HH:MM:SS from a day on."""
    days, rest = divmod(int(seconds), 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def settings_as_slurm(settings: dict[str, str]) -> dict[str, str]:
    """The controller's settings (AdminService.GetSettings, by jem.toml's names) under Slurm's
    keys, in Slurm's forms."""
    from jem.model.units import parse_time_limit

    weights = {key: int(settings.get(f"priority.weight_{name}", "0")) for name, key in _WEIGHT_KEYS.items()}
    policy = settings.get("scheduler.policy", "easy")
    private = settings.get("cluster.private_data", "")
    enforce = settings.get("accounting.enforce", "")
    exempt = settings.get("scheduler.preempt_exempt_time", "0")
    return {
        "SchedulerType": "sched/builtin" if policy == "fcfs" else "sched/backfill",
        "SchedulerParameters": "(null)" if policy != "conservative" else "bf_resolution=1,conservative",
        "KillWait": f"{int(float(settings.get('scheduler.kill_wait_s', '30')))} sec",
        "MinJobAge": f"{int(float(settings.get('scheduler.min_job_age_s', '300')))} sec",
        "SlurmdTimeout": f"{int(float(settings.get('scheduler.node_timeout_s', '300')))} sec",
        "MaxJobCount": settings.get("scheduler.max_job_count", "10000"),
        "MaxArraySize": settings.get("scheduler.max_array_size", "1001"),
        "JobRequeue": "1" if settings.get("cluster.requeue_on_node_failure", "true") == "true" else "0",
        "PreemptType": f"preempt/{settings.get('scheduler.preempt_type', 'none')}",
        "PreemptMode": settings.get("scheduler.preempt_mode", "off").upper(),
        "PreemptExemptTime": _time_str(parse_time_limit(exempt) or 0) if exempt not in ("", "0") else "00:00:00",
        "PrivateData": private or "none",
        "AccountingStorageEnforce": ",".join(["associations", *enforce.split(",")]) if enforce else "none",
        "PriorityType": "priority/multifactor" if any(weights.values()) else "priority/basic",
        **weights,
        "PriorityMaxAge": _time_str(int(settings.get("priority.max_age_s", "604800"))),
        "PriorityDecayHalfLife": _time_str(int(settings.get("fairshare.half_life_s", "604800"))),
        "PriorityFlags": "NO_FAIR_TREE" if settings.get("fairshare.algorithm") == "classic" else "",
        "MailProg": settings.get("mail.program", "/bin/mail"), "MailDomain": settings.get("mail.domain") or "(null)",
    }


def config_text(info, address: str, now: float, *, settings: dict[str, str] | None = None) -> str:
    """`scontrol show config`: Slurm 22.05's keys in its order and its `%-23s = %s` layout, the
    cgroup section, then the `scontrol ping` line. Values JEM's controller reports (`info`: its
    Ping; `settings`: its GetSettings, under Slurm's keys by `settings_as_slurm`) are JEM's; the
    rest are SLURM_DEFAULTS' placeholders."""
    host, _, port = address.rpartition(":")
    jem = {
        "ClusterName": info.cluster_name, "SLURM_VERSION": SLURM_VERSION.split()[1],
        "SlurmctldHost[0]": f"{info.host}({host.strip('[]')})" if host else info.host,
        "SlurmctldAddr": host.strip("[]") or "(null)", "SlurmctldPort": port,
        "SelectType": "select/cons_tres", "ProctrackType": "proctrack/cgroup", "TaskPlugin": "task/cgroup",
    }
    if settings is not None:
        jem.update(settings_as_slurm(settings))

    def lines(keys):
        return [f"{k:<23} = {jem.get(k, SLURM_DEFAULTS.get(k, '(null)'))}" for k in keys]

    stamp = dt.datetime.fromtimestamp(now).isoformat(timespec="seconds")
    return "\n".join([f"Configuration data as of {stamp}", *lines(CONFIG_KEYS), "", "Cgroup Support Configuration:",
                      *lines(CGROUP_KEYS), "", f"Slurmctld(primary) at {info.host} is UP"])
