"""The scheduling loop's wait between cycles: the collector settles while it waits (in the
controller it is the only garbage collection), and a wake ends the wait."""

import threading
import types

from jem.controller import loop


class CountingCollector:
    def __init__(self):
        self.settled = 0

    def settle(self) -> None:
        self.settled += 1


def waiting_loop():
    return types.SimpleNamespace(_wakeup=threading.Event(), _collector=CountingCollector())


def test_a_quiet_wait_settles_every_settle_period_until_the_interval_ends(monkeypatch):
    monkeypatch.setattr(loop, "SETTLE_EVERY_S", 0.02)
    fake = waiting_loop()
    loop.SchedulingLoop._wait_for_work(fake, 0.2)
    assert fake._collector.settled >= 3


def test_a_wake_ends_the_wait(monkeypatch):
    monkeypatch.setattr(loop, "SETTLE_EVERY_S", 0.02)
    fake = waiting_loop()
    waiter = threading.Thread(target=loop.SchedulingLoop._wait_for_work, args=(fake, 3600.0), daemon=True)
    waiter.start()
    for _ in range(1000):                # until it is waiting (and settling)
        if fake._collector.settled:
            break
        waiter.join(0.01)
    assert fake._collector.settled
    fake._wakeup.set()
    waiter.join(10)
    assert not waiter.is_alive()
