"""The environment a batch job starts with: what it was submitted with, the user's
login basics, and the variables a Slurm batch step sees (each with a JEM_ twin)."""

import pwd

import hostlist

from jem.model.arrays import accepted_array
from jem.model.execution import Launch

_LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"


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
    env = dict(spec.environment)
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
    }
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
    if launch.time_limit_s is not None:
        env["JEM_TIME_LIMIT_S"] = str(launch.time_limit_s)
    env["ENVIRONMENT"] = "BATCH"
    return env
