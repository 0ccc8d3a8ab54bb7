"""What a job's submitting shell propagates to the job's processes: its umask and its soft
resource limits, as Slurm's srun and sbatch carry them (`SLURM_UMASK=0027`,
`SLURM_RLIMIT_NOFILE=512`, ...; Slurm's PropagateResourceLimits=ALL) in the job's or
step's environment.

The values come from the user's environment, so each is checked here, and the start-up
shell (`confined.start_line`) applies them already as the user: `umask`, then
`prlimit --pid $$ --nofile=512:` (util-linux), which sets soft limits only. A limit above
the hard limit the processes inherit (the agent's own: what the node allows) is lowered to
it here; the hard limits are never touched, and as the user the kernel refuses to raise
them whatever reached the shell. A limit the processes inherit anyway is left out.

Units are the kernel's: bytes, seconds (CPU) or counts; RLIM_INFINITY (Slurm writes
18446744073709551615) or `unlimited` means "as high as the hard limit".
"""

import logging
import resource
import shutil
from dataclasses import dataclass

log = logging.getLogger(__name__)

UMASK_VAR = "SLURM_UMASK"
RLIMIT_PREFIX = "SLURM_RLIMIT_"
# Slurm's names (srun --propagate) -> the kernel's limit; prlimit's option is the name in lower case.
RLIMITS = {
    "AS": resource.RLIMIT_AS, "CORE": resource.RLIMIT_CORE, "CPU": resource.RLIMIT_CPU,
    "DATA": resource.RLIMIT_DATA, "FSIZE": resource.RLIMIT_FSIZE, "MEMLOCK": resource.RLIMIT_MEMLOCK,
    "NOFILE": resource.RLIMIT_NOFILE, "NPROC": resource.RLIMIT_NPROC, "RSS": resource.RLIMIT_RSS,
    "STACK": resource.RLIMIT_STACK,
}
_INFINITY_TEXTS = ("unlimited", "infinity", str(2 ** 64 - 1))
_PRLIMIT = shutil.which("prlimit")


@dataclass(frozen=True, slots=True)
class Propagated:
    """The umask (None: the agent's) and the soft limits (Slurm's name, value) to set."""

    umask: int | None = None
    soft_limits: tuple[tuple[str, int], ...] = ()

    def umask_text(self) -> str:
        """The umask for the start-up shell's `umask` ("" for none)."""
        return "" if self.umask is None else f"{self.umask:04o}"

    def prlimit_args(self) -> str:
        """The start-up shell's `prlimit --pid $$` options ("" for none, or without prlimit)."""
        if not self.soft_limits or not _PRLIMIT:
            return ""
        return " ".join(f"--{name.lower()}={'unlimited' if value == resource.RLIM_INFINITY else value}:"
                        for name, value in self.soft_limits)


NOTHING = Propagated()


def _umask(text: str) -> int | None:
    """An octal umask of 0..0777, None for anything else."""
    if not text or len(text) > 4 or any(c not in "01234567" for c in text):
        return None
    return int(text, 8)


def _soft_limit(name: str, text: str) -> int | None:
    """The soft limit `text` asks for `name`, lowered to the inherited hard limit; None when it
    is malformed or what the processes inherit anyway."""
    text = text.strip()
    if text.lower() in _INFINITY_TEXTS:
        wanted = resource.RLIM_INFINITY
    elif text.isascii() and text.isdigit():
        wanted = int(text)
    else:
        return None
    soft, hard = resource.getrlimit(RLIMITS[name])
    if hard != resource.RLIM_INFINITY and (wanted == resource.RLIM_INFINITY or wanted > hard):
        wanted = hard
    return None if wanted == soft else wanted


def propagated(environment: dict[str, str]) -> Propagated:
    """The umask and soft limits `environment` carries (see the module doc)."""
    limits = []
    for name in RLIMITS:
        text = environment.get(RLIMIT_PREFIX + name)
        if text is not None:
            value = _soft_limit(name, text)
            if value is not None:
                limits.append((name, value))
    if limits and not _PRLIMIT:
        log.warning("no prlimit on this node: the submitter's resource limits are not propagated")
    return Propagated(_umask(environment.get(UMASK_VAR, "")), tuple(limits))


def without_limits(environment: dict[str, str]) -> dict[str, str]:
    """`environment` without the SLURM_RLIMIT_* variables (Slurm's tasks do not see them)."""
    return {k: v for k, v in environment.items() if not k.startswith(RLIMIT_PREFIX)}
