"""The environment srun sends with a step: the caller's (as --export says), what srun carries
from its shell (`propagate.py`: SLURM_UMASK, SLURM_RLIMIT_*), and the variables Slurm's srun
adds for its tasks: SLURM_LAUNCH_NODE_IPADDR and SLURM_SRUN_COMM_HOST (this host's address on
its route to the controller), SLURM_SRUN_COMM_PORT and SLURM_STEP_LAUNCHER_PORT (the port srun
listens on for its tasks' input, when it does), SLURM_PRIO_PROCESS (its nice value) and
SRUN_DEBUG (its log level: 3, 4 with -v, 2 with -Q). Outside a job it adds the variables of
the allocation it made, as Slurm's srun does (inside one they come with the batch script's
environment). The node adds each task's own (`jem.agent.environment.task_environment`).
"""

import os

from jem_slurm import propagate, sbatch_options

SRUN_DEBUG = 3   # srun's log level ("info"), as Slurm's srun passes it


def allocation_variables(job, *, cluster_name: str) -> dict[str, str]:
    """The SLURM_* variables of the job srun allocated (outside a job): salloc's, less
    SLURM_CPUS_PER_TASK (a task has it from -c only), with the QOS always named."""
    from jem_slurm.salloc import allocation_environment

    env = allocation_environment(job, {}, cluster_name=cluster_name)
    env.pop("SLURM_CPUS_PER_TASK", None)
    env.setdefault("SLURM_JOB_QOS", "normal")
    return env


def step_environment(settings: dict, *, comm_host: str, listen_port: int | None,
                     allocation: dict[str, str]) -> dict[str, str]:
    """The step's environment (see the module doc); `allocation`: `allocation_variables` of
    the job srun made, {} inside a job."""
    env = sbatch_options.export_environment(settings.get("export", "ALL"), dict(os.environ)) | allocation
    env = propagate.carried_environment(env, propagate.propagated_names(settings.get("propagate")))
    env["SLURM_LAUNCH_NODE_IPADDR"] = env["SLURM_SRUN_COMM_HOST"] = comm_host
    if listen_port is not None:
        env["SLURM_SRUN_COMM_PORT"] = env["SLURM_STEP_LAUNCHER_PORT"] = str(listen_port)
    env["SLURM_PRIO_PROCESS"] = str(os.getpriority(os.PRIO_PROCESS, 0))
    env["SRUN_DEBUG"] = str(SRUN_DEBUG + (1 if "verbose" in settings else -1 if "quiet" in settings else 0))
    return env
