"""The job state machine: Slurm's state names and the one function that moves between them.

`transition(state, event)` is pure and is the only place that decides whether
a change is legal; the controller commits the event to the store before it
acts on it.

    submit ──► PENDING ──start──► RUNNING ──complete──► COMPLETED
                 │  ▲              │   │ ──fail──────► FAILED
      hold/release  │              │   │ ──timeout───► TIMEOUT
      update ◄──┘   │              │   │ ──oom───────► OUT_OF_MEMORY
                 │  └──requeue─────┤   │ ──node_fail─► NODE_FAIL
                 │                 │   │ ──preempt───► PREEMPTED
                 │                 │ suspend ▲ resume
                 │                 │   ▼     │
        cancel   │            kill │  SUSPENDED ──(kill, or any end event as RUNNING)
                 ▼                 ▼
             CANCELLED ◄─cancel─ COMPLETING ──(any end event)──► its end state

`requeue` returns a started job to PENDING (its event log keeps the earlier
run; REQUEUED is the name accounting shows for it), and so does an explicit
requeue of an ended job (scontrol requeue): the only way out of an end state. `kill` means the controller has signalled the job and waits for the agent to
report its processes gone; the end event then names why it was killed.
A SUSPENDED job (scontrol suspend, or PreemptMode SUSPEND: its processes
frozen) holds its nodes like a running one: it is killed, or ends, as a
running job does, and `resume` runs it again.
"""

import enum

from jem.model.errors import IllegalTransition


class JobState(enum.Enum):
    """A job's state, named exactly as Slurm names it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    COMPLETING = "COMPLETING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    NODE_FAIL = "NODE_FAIL"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    PREEMPTED = "PREEMPTED"
    REQUEUED = "REQUEUED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"

    # Members are singletons compared by identity, so identity is a valid hash, and a C-level
    # one: Enum's own hashes the name in Python (~0.15 us), and listings look up the states
    # of 10,000 jobs in dicts and sets a few times each.
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        """True for the states a job never leaves (except by requeue)."""
        return self in TERMINAL_STATES

    @property
    def compact(self) -> str:
        """Slurm's two-letter code, as squeue's %t shows it."""
        return _COMPACT[self]


TERMINAL_STATES = frozenset({
    JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT,
    JobState.NODE_FAIL, JobState.OUT_OF_MEMORY, JobState.PREEMPTED,
    JobState.BOOT_FAIL, JobState.DEADLINE,
})

_COMPACT = {
    JobState.PENDING: "PD", JobState.RUNNING: "R", JobState.SUSPENDED: "S",
    JobState.COMPLETING: "CG", JobState.COMPLETED: "CD", JobState.FAILED: "F",
    JobState.CANCELLED: "CA", JobState.TIMEOUT: "TO", JobState.NODE_FAIL: "NF",
    JobState.OUT_OF_MEMORY: "OOM", JobState.PREEMPTED: "PR", JobState.REQUEUED: "RQ",
    JobState.BOOT_FAIL: "BF", JobState.DEADLINE: "DL",
}


class JobEvent(enum.Enum):
    """Something that happens to a job; the value is the name logged and streamed."""

    SUBMIT = "submit"
    HOLD = "hold"
    RELEASE = "release"
    UPDATE = "update"
    START = "start"
    KILL = "kill"
    SUSPEND = "suspend"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "oom"
    NODE_FAIL = "node_fail"
    PREEMPT = "preempt"
    REQUEUE = "requeue"


_S = JobState
_LIVE = (_S.RUNNING, _S.SUSPENDED, _S.COMPLETING)
_END_EVENTS = {
    JobEvent.COMPLETE: _S.COMPLETED,
    JobEvent.TIMEOUT: _S.TIMEOUT,
    JobEvent.OUT_OF_MEMORY: _S.OUT_OF_MEMORY,
    JobEvent.NODE_FAIL: _S.NODE_FAIL,
    JobEvent.PREEMPT: _S.PREEMPTED,
}

# (state before, event) -> state after. None stands for "no job yet".
_TABLE: dict[tuple[JobState | None, JobEvent], JobState] = {
    (None, JobEvent.SUBMIT): _S.PENDING,
    (_S.PENDING, JobEvent.HOLD): _S.PENDING,
    (_S.PENDING, JobEvent.RELEASE): _S.PENDING,
    (_S.PENDING, JobEvent.UPDATE): _S.PENDING,
    (_S.PENDING, JobEvent.START): _S.RUNNING,
    (_S.PENDING, JobEvent.CANCEL): _S.CANCELLED,
    (_S.PENDING, JobEvent.FAIL): _S.FAILED,
    (_S.RUNNING, JobEvent.UPDATE): _S.RUNNING,
    (_S.SUSPENDED, JobEvent.UPDATE): _S.SUSPENDED,   # (a name or time limit: scontrol update)
    (_S.RUNNING, JobEvent.KILL): _S.COMPLETING,
    (_S.SUSPENDED, JobEvent.KILL): _S.COMPLETING,
    (_S.RUNNING, JobEvent.SUSPEND): _S.SUSPENDED,
    (_S.SUSPENDED, JobEvent.RESUME): _S.RUNNING,
    (_S.SUSPENDED, JobEvent.CANCEL): _S.CANCELLED,
    (_S.SUSPENDED, JobEvent.FAIL): _S.FAILED,
    (_S.SUSPENDED, JobEvent.REQUEUE): _S.PENDING,
    (_S.RUNNING, JobEvent.FAIL): _S.FAILED,
    (_S.COMPLETING, JobEvent.FAIL): _S.FAILED,
    (_S.RUNNING, JobEvent.CANCEL): _S.CANCELLED,
    (_S.COMPLETING, JobEvent.CANCEL): _S.CANCELLED,
    (_S.RUNNING, JobEvent.REQUEUE): _S.PENDING,
    (_S.COMPLETING, JobEvent.REQUEUE): _S.PENDING,
    **{(before, event): after for event, after in _END_EVENTS.items() for before in _LIVE},
    **{(ended, JobEvent.REQUEUE): _S.PENDING for ended in TERMINAL_STATES},
}


def transition(state: JobState | None, event: JobEvent) -> JobState:
    """Return the state after `event` happens to a job in `state`.

    Raises IllegalTransition (a JobStateConflict: FAILED_PRECONDITION, "Job state does not
    allow this request") when the event is not allowed. Pure: no I/O, no clock.

    >>> transition(JobState.PENDING, JobEvent.START)
    <JobState.RUNNING: 'RUNNING'>
    """
    try:
        return _TABLE[(state, event)]
    except KeyError:
        raise IllegalTransition(f"event {event.value!r} is not allowed in state {state.value if state else None}",
                                state=state, event=event) from None


def allowed_events(state: JobState | None) -> frozenset[JobEvent]:
    """The events a job in `state` may take."""
    return frozenset(event for (before, event) in _TABLE if before == state)
