"""The environment a batch job or a step's task starts with: what it was submitted with
(less the SLURM_RLIMIT_* variables the start-up shell has applied, `propagation.py`), the
user's login basics, and the variables Slurm's batch step or srun's task sees (each SLURM_
one with a JEM_ twin). SLURM_TASK_PID is a placeholder here: the start-up shell puts the
task's pid in it (`confined.py`)."""

import pwd

import hostlist

from jem.agent import propagation
from jem.agent.ptys import task_environment as without_pty_secret
from jem.agent.taskinput import without_secret as without_stdin_secret
from jem.model.arrays import accepted_array
from jem.model.execution import Launch
from jem.model.step import TaskOrder

_LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"
_TMPDIR = "/tmp"                 # slurmstepd's TMPDIR when the job's environment has none
_TOPOLOGY_ADDR_PATTERN = "node"  # Slurm's without a topology plugin: each node its own address


def tasks_per_node_text(n_tasks: int, n_nodes: int) -> str:
    """Slurm's SLURM_TASKS_PER_NODE: counts per node, runs compressed as 'N(xK)'.

    >>> tasks_per_node_text(10, 3)
    '4,3(x2)'
    """
    base, extra = divmod(n_tasks, n_nodes)
    counts = [base + 1] * extra + [base] * (n_nodes - extra)
    parts: list[str] = []
    i = 0
    while i < len(counts):
        j = i
        while j < len(counts) and counts[j] == counts[i]:
            j += 1
        parts.append(f"{counts[i]}(x{j - i})" if j - i > 1 else str(counts[i]))
        i = j
    return ",".join(parts)


def job_environment(launch: Launch, *, node_name: str, user_entry: pwd.struct_passwd | None) -> dict[str, str]:
    """The full environment of the batch script of `launch` on `node_name`."""
    spec = launch.spec
    env = propagation.without_limits(spec.environment)
    env.pop(propagation.UMASK_VAR, None)   # (applied; Slurm's batch script does not see it, its steps do)
    if user_entry is not None:
        env.setdefault("HOME", user_entry.pw_dir)
        env.setdefault("SHELL", user_entry.pw_shell)
    env.setdefault("USER", launch.user)
    env.setdefault("LOGNAME", launch.user)
    env.setdefault("PATH", _LOGIN_PATH)
    n_nodes = len(launch.nodes)
    node_list = hostlist.collect_hostlist(list(launch.nodes))
    slurm = {
        "JOB_ID": str(launch.job_id),
        "JOBID": str(launch.job_id),
        "JOB_NAME": spec.name,
        "SUBMIT_DIR": launch.submit_dir,
        "JOB_NODELIST": node_list,
        "NODELIST": node_list,
        "NNODES": str(n_nodes),
        "JOB_NUM_NODES": str(n_nodes),
        "NTASKS": str(launch.n_tasks),
        "NPROCS": str(launch.n_tasks),
        "TASKS_PER_NODE": tasks_per_node_text(launch.n_tasks, n_nodes),
        "CPUS_ON_NODE": str(launch.alloc.cpus),
        "JOB_CPUS_PER_NODE": f"{launch.alloc.cpus}(x{n_nodes})" if n_nodes > 1 else str(launch.alloc.cpus),
        "CPUS_PER_TASK": str(spec.cpus_per_task),
        "JOB_PARTITION": spec.partition,
        "JOB_ACCOUNT": spec.account,
        "JOB_USER": launch.user,
        "JOB_UID": str(launch.uid),
        "JOB_GID": str(launch.gid),
        "CLUSTER_NAME": launch.cluster_name,
        "NODEID": "0",
        "PROCID": "0",
        "LOCALID": "0",
        "GTIDS": "0",
        "TOPOLOGY_ADDR": node_name,
        "TOPOLOGY_ADDR_PATTERN": _TOPOLOGY_ADDR_PATTERN,
    }
    if spec.qos:
        slurm["JOB_QOS"] = spec.qos
    if spec.overcommit:
        slurm["OVERCOMMIT"] = "1"
    if spec.mem_per_cpu_mib is not None:
        slurm["MEM_PER_CPU"] = str(spec.mem_per_cpu_mib)
    else:
        slurm["MEM_PER_NODE"] = str(launch.alloc.mem_mib)
    if spec.n_tasks_per_node:
        slurm["NTASKS_PER_NODE"] = str(spec.n_tasks_per_node)
    if launch.alloc.gpus:
        slurm["GPUS_ON_NODE"] = str(launch.alloc.gpus)
    if launch.restart_count:
        slurm["RESTART_COUNT"] = str(launch.restart_count)
    if launch.array_job_id and launch.array_task_id is not None:
        array = accepted_array(spec.array)
        slurm.update({
            "ARRAY_JOB_ID": str(launch.array_job_id), "ARRAY_TASK_ID": str(launch.array_task_id),
            "ARRAY_TASK_COUNT": str(len(array.indices)), "ARRAY_TASK_MIN": str(array.indices[0]),
            "ARRAY_TASK_MAX": str(array.indices[-1]), "ARRAY_TASK_STEP": str(array.step),
        })
    for key, value in slurm.items():
        env["SLURM_" + key] = value
        env["JEM_" + key] = value
    env["SLURMD_NODENAME"] = node_name
    env["JEM_NODENAME"] = node_name
    env["SLURM_TASK_PID"] = "0"
    env.setdefault("TMPDIR", _TMPDIR)
    if launch.time_limit_s is not None:
        env["JEM_TIME_LIMIT_S"] = str(launch.time_limit_s)
    env["ENVIRONMENT"] = "BATCH"
    return env


def task_environment(order: TaskOrder, *, node_name: str, local_id: int, task_id: int) -> dict[str, str]:
    """The environment of one task of a step: the step's (srun's: its caller's, with what srun
    adds), without the connections' secrets, plus the variables srun's tasks get (man srun,
    OUTPUT ENVIRONMENT VARIABLES). SLURM_NODELIST is the job's nodes, as Slurm's; SLURM_CPUS_PER_TASK
    is set only by -c (else it is what the caller's environment holds)."""
    env = without_stdin_secret(without_pty_secret(propagation.without_limits(order.spec.environment)))
    step_nodes = hostlist.collect_hostlist(list(order.step_nodes))
    node_index = order.step_nodes.index(node_name)
    per_node = tasks_per_node_text(order.n_tasks, len(order.step_nodes))   # the block layout of layout_tasks
    slurm = {
        "JOB_ID": str(order.job_id), "JOBID": str(order.job_id), "JOB_NAME": order.job_name,
        "JOB_NODELIST": hostlist.collect_hostlist(list(order.job_nodes)),
        "JOB_NUM_NODES": str(len(order.job_nodes)), "JOB_USER": order.user, "JOB_UID": str(order.uid),
        "JOB_GID": str(order.gid), "STEP_ID": str(order.step_id), "STEPID": str(order.step_id),
        "STEP_NODELIST": step_nodes, "STEP_NUM_NODES": str(len(order.step_nodes)),
        "STEP_NUM_TASKS": str(order.n_tasks), "STEP_TASKS_PER_NODE": per_node,
        "NODELIST": hostlist.collect_hostlist(list(order.job_nodes)), "NNODES": str(len(order.step_nodes)),
        "TASKS_PER_NODE": per_node, "NTASKS": str(order.n_tasks), "NPROCS": str(order.n_tasks),
        "PROCID": str(task_id), "LOCALID": str(local_id), "NODEID": str(node_index),
        "GTIDS": ",".join(map(str, order.task_ids)), "CPUS_ON_NODE": str(order.alloc.cpus),
        "TOPOLOGY_ADDR": node_name, "TOPOLOGY_ADDR_PATTERN": _TOPOLOGY_ADDR_PATTERN,
    }
    if order.spec.cpus_per_task:
        slurm["CPUS_PER_TASK"] = str(order.spec.cpus_per_task)
    if order.spec.overcommit:
        slurm["OVERCOMMIT"] = "1"
    for key, value in slurm.items():
        env["SLURM_" + key] = value
        env["JEM_" + key] = value
    env["SLURMD_NODENAME"] = env["JEM_NODENAME"] = node_name
    env["SLURM_TASK_PID"] = "0"
    if order.gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = env["GPU_DEVICE_ORDINAL"] = ",".join(map(str, order.gpu_ids))
    env.setdefault("PATH", _LOGIN_PATH)
    env.setdefault("TMPDIR", _TMPDIR)
    return env
