"""The per-user submit rate (jem.controller.fairuse.SubmitRate): a token bucket whose refusals
are answered after a pause, so a loop that resends at once is slowed, not served hundreds
of times a second; the pause never takes more than a few of a user's threads."""

import threading

import pytest

from jem.controller.fairuse import TARPIT_MAX_S, TARPIT_SLOTS, TARPIT_SLOTS_PER_USER, SubmitRate
from jem.model.errors import RateLimited
from jem.model.identity import AdminLevel, Identity

ALICE = Identity(user="alice", uid=1001, gid=1001)
BOB = Identity(user="bob", uid=1002, gid=1002)


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_burst_is_taken_then_one_per_refill():
    t = FakeTime()
    rate = SubmitRate(burst=3, per_s=2, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        rate.take(ALICE)
    with pytest.raises(RateLimited):
        rate.take(ALICE)
    rate.take(BOB)            # another user's bucket is their own
    t.now += 0.5              # one token back at 2 per second
    rate.take(ALICE)


def test_a_refusal_is_answered_after_half_the_wait_and_says_the_rest():
    t = FakeTime()
    rate = SubmitRate(burst=1, per_s=10, clock=t.clock, sleep=t.sleep)
    rate.take(ALICE)
    with pytest.raises(RateLimited) as caught:
        rate.take(ALICE)
    # The next token comes 0.1 s later: half of it is spent before answering, the rest is the retry hint.
    assert t.slept == [pytest.approx(0.05)]
    assert caught.value.retry_after_s == pytest.approx(0.05)
    # A resend at once, as a flood does, is paused again: the loop runs at the pace of the pauses.
    with pytest.raises(RateLimited):
        rate.take(ALICE)
    assert len(t.slept) == 2 and 0 < t.slept[1] <= 0.05


def test_the_pause_is_capped_and_a_long_wait_is_left_to_the_caller():
    t = FakeTime()
    rate = SubmitRate(burst=1, per_s=1, clock=t.clock, sleep=t.sleep)
    rate.take(ALICE)
    with pytest.raises(RateLimited) as caught:
        rate.take(ALICE)
    assert t.slept == [TARPIT_MAX_S]
    assert caught.value.retry_after_s == pytest.approx(1.0 - TARPIT_MAX_S)


def test_operators_and_a_disabled_limit_are_never_paused():
    t = FakeTime()
    operator = Identity(user="op", uid=1003, gid=1003, admin_level=AdminLevel.OPERATOR)
    limited = SubmitRate(burst=1, per_s=1, clock=t.clock, sleep=t.sleep)
    unlimited = SubmitRate(burst=1, per_s=0, clock=t.clock, sleep=t.sleep)
    for _ in range(50):
        limited.take(operator)
        unlimited.take(ALICE)
    assert t.slept == []


class HeldSleep:
    """A `sleep` that holds each paused answer until `release`."""

    def __init__(self):
        self.paused: list[float] = []
        self._release = threading.Event()

    def __call__(self, seconds: float) -> None:
        self.paused.append(seconds)
        self._release.wait(10)

    def wait_for(self, n: int) -> None:
        for _ in range(1000):
            if len(self.paused) >= n:
                return
            threading.Event().wait(0.01)

    def release(self) -> None:
        self._release.set()


def _refuse_in_threads(rate: SubmitRate, identities, errors: list) -> list[threading.Thread]:
    """A refused call of each of `identities`, each in its own thread (started); their errors go to `errors`."""
    def refused(identity):
        try:
            rate.take(identity)
        except RateLimited as exc:
            errors.append(exc)
    threads = [threading.Thread(target=refused, args=(identity,)) for identity in identities]
    for thread in threads:
        thread.start()
    return threads


def test_all_users_together_hold_at_most_a_few_paused_answers():
    """Many flooding users: their paused answers never take more than TARPIT_SLOTS RPC threads."""
    sleep, errors = HeldSleep(), []
    rate = SubmitRate(burst=1, per_s=1, sleep=sleep)
    users = [Identity(user=f"u{i}", uid=2000 + i, gid=2000) for i in range(TARPIT_SLOTS)]
    for identity in users:
        rate.take(identity)          # each one's burst
    threads = _refuse_in_threads(rate, users, errors)
    sleep.wait_for(TARPIT_SLOTS)
    late = Identity(user="late", uid=3000, gid=3000)
    rate.take(late)
    with pytest.raises(RateLimited):   # all slots held: answered at once
        rate.take(late)
    assert len(sleep.paused) == TARPIT_SLOTS
    sleep.release()
    for thread in threads:
        thread.join(10)
    assert len(errors) == TARPIT_SLOTS


def test_a_user_holds_at_most_a_few_paused_answers_at_once():
    """Parallel resends: the first TARPIT_SLOTS_PER_USER are held; the rest are answered at once
    (they would otherwise each hold one of the controller's RPC threads)."""
    sleep, errors = HeldSleep(), []
    rate = SubmitRate(burst=1, per_s=1, sleep=sleep)
    rate.take(ALICE)
    held = _refuse_in_threads(rate, [ALICE] * TARPIT_SLOTS_PER_USER, errors)
    sleep.wait_for(TARPIT_SLOTS_PER_USER)
    with pytest.raises(RateLimited):       # one more: not held
        rate.take(ALICE)
    assert len(sleep.paused) == TARPIT_SLOTS_PER_USER
    sleep.release()
    for thread in held:
        thread.join(10)
    assert len(errors) == TARPIT_SLOTS_PER_USER
    with pytest.raises(RateLimited):       # the slots are free again
        rate.take(ALICE)
    assert len(sleep.paused) == TARPIT_SLOTS_PER_USER + 1
