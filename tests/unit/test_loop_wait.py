"""The scheduling loop's waits (for work, and its rest after a cycle): the collector settles
while it waits (in the controller it is the only garbage collection), and the event ends the
wait. A fake clock and event make it exact."""

import types

from jem.controller import loop


class CountingCollector:
    def __init__(self):
        self.settled = 0

    def settle(self) -> None:
        self.settled += 1


class FakeTime:
    """time.monotonic for the loop module, moved on by FakeEvent.wait."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class FakeEvent:
    """An event set once the clock reaches `set_at` (never, by default); wait() moves the clock."""

    def __init__(self, clock: FakeTime, set_at: float = float("inf")):
        self._clock, self._set_at, self.timeouts = clock, set_at, []

    def wait(self, timeout: float) -> bool:
        self.timeouts.append(timeout)
        if self._clock.now + timeout >= self._set_at:
            self._clock.now = self._set_at
            return True
        self._clock.now += timeout
        return False


def waiting_loop(monkeypatch, **event):
    clock = FakeTime()
    monkeypatch.setattr(loop, "time", clock)
    monkeypatch.setattr(loop, "SETTLE_EVERY_S", 5.0)
    fake = types.SimpleNamespace(_wakeup=FakeEvent(clock, **event), _collector=CountingCollector())
    fake._settle_while_waiting = types.MethodType(loop.SchedulingLoop._settle_while_waiting, fake)
    return fake, clock


def test_a_quiet_wait_settles_every_settle_period_until_the_interval_ends(monkeypatch):
    fake, clock = waiting_loop(monkeypatch)
    loop.SchedulingLoop._wait_for_work(fake, 12.0)
    assert fake._wakeup.timeouts == [5.0, 5.0, 2.0]
    assert fake._collector.settled == 3
    assert clock.now == 12.0


def test_a_wake_ends_the_wait_at_once(monkeypatch):
    fake, clock = waiting_loop(monkeypatch, set_at=7.0)
    loop.SchedulingLoop._wait_for_work(fake, 3600.0)
    assert clock.now == 7.0
    assert fake._collector.settled == 1   # the one full period before the wake

