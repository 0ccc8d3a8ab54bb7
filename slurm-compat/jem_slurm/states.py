"""Slurm's job state names on the command line (`-t PD,R`, `-s CD,F`, `-t all`) as JEM states."""

from jem.model.states import JobState

ALL = "all"
# Every state name Slurm accepts in squeue -t; those JEM never has match no job.
SLURM_STATE_NAMES = ("PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,TIMEOUT,NODE_FAIL,PREEMPTED,BOOT_FAIL,"
                     "DEADLINE,OUT_OF_MEMORY,COMPLETING,CONFIGURING,RESIZING,RESV_DEL_HOLD,REQUEUED,REQUEUE_FED,"
                     "REQUEUE_HOLD,REVOKED,SIGNALING,SPECIAL_EXIT,STAGE_OUT,STOPPED")
_EXTRA_CODES = {"CF": "CONFIGURING", "RS": "RESIZING", "RD": "RESV_DEL_HOLD", "RF": "REQUEUE_FED",
                "RH": "REQUEUE_HOLD", "RV": "REVOKED", "SI": "SIGNALING", "SE": "SPECIAL_EXIT",
                "SO": "STAGE_OUT", "ST": "STOPPED"}


def parse_states(text: str) -> set[JobState] | None:
    """The JEM states named by a comma list of names or codes; None for `all`.

    Raises ValueError with the first name that is neither.

    >>> sorted(s.value for s in parse_states("pd,RUNNING"))
    ['PENDING', 'RUNNING']
    """
    found: set[JobState] = set()
    by_code = {s.compact: s for s in JobState}
    for item in text.split(","):
        name = item.strip().upper()
        if not name:
            continue
        if name == "ALL":
            return None
        if name in JobState.__members__:
            found.add(JobState[name])
        elif name in by_code:
            found.add(by_code[name])
        elif name in _EXTRA_CODES or name in SLURM_STATE_NAMES.split(","):
            continue
        else:
            raise ValueError(item)
    return found
