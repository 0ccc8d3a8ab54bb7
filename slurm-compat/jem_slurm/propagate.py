"""What srun and sbatch carry from the submitting shell to the job's processes: its umask
(SLURM_UMASK, octal) and the soft resource limits `--propagate` names (SLURM_RLIMIT_<NAME>,
the kernel's value; Slurm's PropagateResourceLimits default is ALL), in the environment they
send. The node applies them (`jem.agent.propagation`): a soft limit never above the node's
hard limit, the hard limits untouched.
"""

import os
import resource

from jem_slurm.command import Failure

# Slurm's names, in the order its --propagate lists them.
RLIMIT_NAMES = ("AS", "CORE", "CPU", "DATA", "FSIZE", "MEMLOCK", "NOFILE", "NPROC", "RSS", "STACK")
UMASK_VAR = "SLURM_UMASK"
RLIMIT_PREFIX = "SLURM_RLIMIT_"
_INFINITY = 2 ** 64 - 1   # RLIM_INFINITY as Slurm writes it


def propagated_names(value: str | None) -> tuple[str, ...]:
    """The limits `--propagate[=VALUE]` names (None: the option alone, ALL); Failure with Slurm's
    words for an unknown name.

    >>> propagated_names("nofile,CORE"), propagated_names("NONE"), len(propagated_names(None))
    (('NOFILE', 'CORE'), (), 10)
    """
    names: list[str] = []
    for item in (value or "ALL").split(","):
        name = item.strip().upper()
        if name == "ALL":
            names.extend(RLIMIT_NAMES)
        elif name == "NONE":
            continue
        elif name in RLIMIT_NAMES:
            names.append(name)
        else:
            raise Failure(f"Bad rlimit name: {item.strip()}", f"--propagate={value} is not valid.")
    return tuple(dict.fromkeys(names))


def carried_environment(environment: dict[str, str], names: tuple[str, ...] = RLIMIT_NAMES) -> dict[str, str]:
    """`environment` with this process's umask (unless it sets SLURM_UMASK itself, which Slurm
    then uses) and the soft limits `names` added, and any other SLURM_RLIMIT_* taken out."""
    carried = {k: v for k, v in environment.items() if not k.startswith(RLIMIT_PREFIX)}
    if UMASK_VAR not in carried:
        umask = os.umask(0)
        os.umask(umask)
        carried[UMASK_VAR] = f"{umask:04o}"
    for name in names:
        soft, _ = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))
        carried[RLIMIT_PREFIX + name] = str(_INFINITY if soft == resource.RLIM_INFINITY else soft)
    return carried
