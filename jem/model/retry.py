"""Retry policies (JEM's own; Slurm has none): which failed runs of a job are run again, and when.

A job submitted with `retries` N > 0 (sbatch --retries) whose run ends in one
of its `retry_on` states (all of RETRYABLE_STATES when it names none) goes back
to the queue under the same job id, as a requeue does, at most N times in its
life. The k-th retry may start `backoff_s(delay, k)` seconds after the run
ended: the delay (sbatch --retry-delay), doubled for each retry after the
first, the doubling stopping at BACKOFF_CAP_S (an hour), or at the delay
itself when that is longer:

    delay 10 s:   10, 20, 40, 80, ... 2560, 3600, 3600, ...
    delay 2 h:    7200, 7200, ...

A cancelled or preempted job is never retried (those are no failures of the
job's own), and a job pending in its backoff that is cancelled stays
CANCELLED. When no retry is left, the last run's end state stands. A node
failure requeues a job that may be requeued (--requeue, or the cluster's
default) without counting a retry: a retry on NODE_FAIL is for a job that
would otherwise end NODE_FAIL.
"""

from jem.model.errors import InvalidRetryPolicy
from jem.model.states import JobState

# The end states a retry policy may name, in the order they are shown.
RETRYABLE_STATES = (JobState.FAILED, JobState.TIMEOUT, JobState.NODE_FAIL, JobState.OUT_OF_MEMORY)
MAX_RETRIES = 100            # retries a job may ask for: each is a run the accounting keeps for ever
MAX_RETRY_DELAY_S = 86400    # the first backoff at most: a day
BACKOFF_CAP_S = 3600         # doubling stops here (or at the first delay, when that is longer)


def backoff_s(delay_s: int, retry: int) -> int:
    """Seconds the `retry`-th retry (1 for the first) waits after the failed run ended.

    >>> [backoff_s(10, k) for k in (1, 2, 3, 9, 10)], backoff_s(7200, 3), backoff_s(0, 5)
    ([10, 20, 40, 2560, 3600], 7200, 0)
    """
    if retry < 1:
        raise ValueError(f"retry numbers start at 1, got {retry}")
    cap = max(delay_s, BACKOFF_CAP_S)
    # (no 2**(retry - 1) for a retry far past the cap: the shift stops once the cap is passed)
    doubled = delay_s << min(retry - 1, cap.bit_length())
    return min(doubled, cap)


def retry_states(retry_on: tuple[JobState, ...]) -> tuple[JobState, ...]:
    """The end states a policy retries: those named, in RETRYABLE_STATES' order, or all of them."""
    named = set(retry_on)
    return tuple(s for s in RETRYABLE_STATES if s in named) if named else RETRYABLE_STATES


def is_retried(*, retries: int, retry_on: tuple[JobState, ...], retries_done: int, end_state: JobState) -> bool:
    """Whether a run that ended in `end_state` is retried, `retries_done` retries made so far."""
    return retries_done < retries and end_state in retry_states(retry_on)


def check_policy(*, retries: int, retry_delay_s: int, retry_on: tuple, requeue: bool | None) -> None:
    """Raise InvalidRetryPolicy naming the first value out of range: a count or delay that is
    negative or over its maximum, a state that is no retryable failure, retries for a job
    that may never be requeued (--no-requeue)."""
    if not 0 <= retries <= MAX_RETRIES:
        raise InvalidRetryPolicy(f"retries: must be 0..{MAX_RETRIES}, got {retries}")
    if not 0 <= retry_delay_s <= MAX_RETRY_DELAY_S:
        raise InvalidRetryPolicy(f"retry_delay_s: must be 0..{MAX_RETRY_DELAY_S} seconds, got {retry_delay_s}")
    if len(retry_on) > len(RETRYABLE_STATES) * 2:   # (a repeat is harmless; a flood is not)
        raise InvalidRetryPolicy(f"retry_on: {len(retry_on)} states, more than {len(RETRYABLE_STATES) * 2}")
    for state in retry_on:
        if state not in RETRYABLE_STATES:
            name = state.value if isinstance(state, JobState) else repr(state)
            raise InvalidRetryPolicy(f"retry_on: {name} is not a failure that may be retried "
                                     f"(one of {format_states(RETRYABLE_STATES)})")
    if retries and requeue is False:
        raise InvalidRetryPolicy("retries: a job submitted with --no-requeue is never requeued, so never retried")


_BY_NAME = {**{s.value: s for s in RETRYABLE_STATES}, **{s.compact: s for s in RETRYABLE_STATES}}


def parse_states(text: str) -> tuple[JobState, ...]:
    """A --retry-on value: states by Slurm's name or two-letter code, comma-separated, any case;
    ValueError for anything else.

    >>> parse_states("failed,TO")
    (<JobState.FAILED: 'FAILED'>, <JobState.TIMEOUT: 'TIMEOUT'>)
    """
    names = [item.strip().upper() for item in text.split(",")]
    unknown = [name for name in names if name not in _BY_NAME]
    if unknown or not text.strip():
        raise ValueError(f"{unknown[0] if unknown else text!r} is not one of {format_states(RETRYABLE_STATES)}")
    return tuple(dict.fromkeys(_BY_NAME[name] for name in names))


def format_states(states: tuple[JobState, ...]) -> str:
    """States as --retry-on takes them: `FAILED,TIMEOUT`."""
    return ",".join(state.value for state in states)
