"""jem.model.states: the job state machine, checked against a table written out here."""

import pytest

from jem.model.errors import JobStateConflict
from jem.model.states import (
    TERMINAL_STATES,
    IllegalTransition,
    JobEvent,
    JobState,
    allowed_events,
    transition,
)

S, E = JobState, JobEvent

# Every legal (state, event) -> state, written independently of jem/model/states.py.
LEGAL = {
    (None, E.SUBMIT): S.PENDING,
    (S.PENDING, E.HOLD): S.PENDING,
    (S.PENDING, E.RELEASE): S.PENDING,
    (S.PENDING, E.UPDATE): S.PENDING,
    (S.PENDING, E.START): S.RUNNING,
    (S.PENDING, E.CANCEL): S.CANCELLED,
    (S.PENDING, E.FAIL): S.FAILED,
    (S.RUNNING, E.UPDATE): S.RUNNING,
    (S.RUNNING, E.KILL): S.COMPLETING,
    (S.RUNNING, E.SUSPEND): S.SUSPENDED,
    (S.RUNNING, E.COMPLETE): S.COMPLETED,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.RUNNING, E.CANCEL): S.CANCELLED,
    (S.RUNNING, E.TIMEOUT): S.TIMEOUT,
    (S.RUNNING, E.OUT_OF_MEMORY): S.OUT_OF_MEMORY,
    (S.RUNNING, E.NODE_FAIL): S.NODE_FAIL,
    (S.RUNNING, E.PREEMPT): S.PREEMPTED,
    (S.RUNNING, E.REQUEUE): S.PENDING,
    (S.SUSPENDED, E.RESUME): S.RUNNING,
    (S.SUSPENDED, E.KILL): S.COMPLETING,
    (S.SUSPENDED, E.CANCEL): S.CANCELLED,
    # A suspended job holds its nodes: it may lose them, or be killed from outside, as a running one.
    (S.SUSPENDED, E.COMPLETE): S.COMPLETED,
    (S.SUSPENDED, E.FAIL): S.FAILED,
    (S.SUSPENDED, E.TIMEOUT): S.TIMEOUT,
    (S.SUSPENDED, E.OUT_OF_MEMORY): S.OUT_OF_MEMORY,
    (S.SUSPENDED, E.NODE_FAIL): S.NODE_FAIL,
    (S.SUSPENDED, E.PREEMPT): S.PREEMPTED,
    (S.SUSPENDED, E.REQUEUE): S.PENDING,
    (S.SUSPENDED, E.UPDATE): S.SUSPENDED,
    (S.COMPLETING, E.COMPLETE): S.COMPLETED,
    (S.COMPLETING, E.FAIL): S.FAILED,
    (S.COMPLETING, E.CANCEL): S.CANCELLED,
    (S.COMPLETING, E.TIMEOUT): S.TIMEOUT,
    (S.COMPLETING, E.OUT_OF_MEMORY): S.OUT_OF_MEMORY,
    (S.COMPLETING, E.NODE_FAIL): S.NODE_FAIL,
    (S.COMPLETING, E.PREEMPT): S.PREEMPTED,
    (S.COMPLETING, E.REQUEUE): S.PENDING,
    # scontrol requeue of an ended job: the one way out of an end state.
    **{(ended, E.REQUEUE): S.PENDING for ended in (S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT, S.NODE_FAIL,
                                                  S.OUT_OF_MEMORY, S.PREEMPTED, S.BOOT_FAIL, S.DEADLINE)},
}

ALL_STATES = [None, *JobState]
ILLEGAL = [(state, event) for state in ALL_STATES for event in JobEvent if (state, event) not in LEGAL]


@pytest.mark.parametrize("state, event", list(LEGAL), ids=lambda x: getattr(x, "name", str(x)))
def test_every_legal_transition(state, event):
    assert transition(state, event) is LEGAL[(state, event)]


@pytest.mark.parametrize("state, event", ILLEGAL, ids=lambda x: getattr(x, "name", str(x)))
def test_every_other_pair_is_illegal(state, event):
    with pytest.raises(IllegalTransition) as info:
        transition(state, event)
    assert info.value.state is state and info.value.event is event
    assert event.value in str(info.value)


@pytest.mark.parametrize("state", ALL_STATES, ids=str)
def test_allowed_events_lists_exactly_the_legal_ones(state):
    assert allowed_events(state) == {event for (before, event) in LEGAL if before == state}


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES, key=lambda s: s.value))
def test_terminal_states_accept_no_event_but_an_explicit_requeue(state):
    assert state.is_terminal
    assert allowed_events(state) == {E.REQUEUE}
    for event in set(JobEvent) - {E.REQUEUE}:
        with pytest.raises(IllegalTransition):
            transition(state, event)


def test_terminal_states_are_the_slurm_end_states():
    assert TERMINAL_STATES == {S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT, S.NODE_FAIL, S.OUT_OF_MEMORY,
                               S.PREEMPTED, S.BOOT_FAIL, S.DEADLINE}
    for state in (S.PENDING, S.RUNNING, S.SUSPENDED, S.COMPLETING):
        assert not state.is_terminal


@pytest.mark.parametrize("state", [S.RUNNING, S.COMPLETING])
def test_requeue_returns_a_started_job_to_pending(state):
    assert transition(state, E.REQUEUE) is S.PENDING
    # ... from where it can start again
    assert transition(transition(state, E.REQUEUE), E.START) is S.RUNNING


def test_requeue_of_a_pending_job_is_illegal():
    with pytest.raises(IllegalTransition):
        transition(S.PENDING, E.REQUEUE)


def test_only_submit_creates_a_job():
    assert allowed_events(None) == {E.SUBMIT}
    with pytest.raises(IllegalTransition, match="state None"):
        transition(None, E.START)


def test_submit_of_an_existing_job_is_illegal():
    for state in JobState:
        with pytest.raises(IllegalTransition):
            transition(state, E.SUBMIT)


def test_illegal_transition_is_a_job_state_conflict_naming_state_and_event():
    with pytest.raises(JobStateConflict, match=r"'complete'.*PENDING") as info:
        transition(S.PENDING, E.COMPLETE)
    assert info.value.grpc_code == "FAILED_PRECONDITION" and not isinstance(info.value, ValueError)


def test_a_whole_lifetime():
    state = transition(None, E.SUBMIT)
    for event, expected in [(E.HOLD, S.PENDING), (E.RELEASE, S.PENDING), (E.START, S.RUNNING),
                            (E.SUSPEND, S.SUSPENDED), (E.RESUME, S.RUNNING), (E.KILL, S.COMPLETING),
                            (E.TIMEOUT, S.TIMEOUT)]:
        state = transition(state, event)
        assert state is expected


def test_state_values_and_compact_codes_are_slurms():
    assert all(state.value == state.name for state in JobState)
    assert {s: s.compact for s in JobState} == {
        S.PENDING: "PD", S.RUNNING: "R", S.SUSPENDED: "S", S.COMPLETING: "CG", S.COMPLETED: "CD",
        S.FAILED: "F", S.CANCELLED: "CA", S.TIMEOUT: "TO", S.NODE_FAIL: "NF", S.OUT_OF_MEMORY: "OOM",
        S.PREEMPTED: "PR", S.REQUEUED: "RQ", S.BOOT_FAIL: "BF", S.DEADLINE: "DL",
    }
