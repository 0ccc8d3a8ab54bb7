"""CPython's cyclic garbage collector kept off the controller's long-lived records.

A full collection walks every object the collector tracks while holding the
interpreter lock. With 100,000 jobs in memory that is millions of objects and
0.2-0.5 s in which no request is served: under `benchmarks/load.py` such
stalls were the slowest submissions (p99 ~100 ms, max ~0.5 s). The records
that make it long (jobs, their specs, the scheduler's views) live for hours
and are freed by reference counting, not by the collector.

So the controller turns automatic collection off (`take_over`) and the
scheduling loop calls `settle` after each cycle (and every few seconds while it waits): the young generations
are collected (cheap: only objects made since the last collection), then
what survived is frozen (`gc.freeze`: out of the collector's sight, still
freed by reference counting when its last reference goes). Reference cycles
among frozen objects are not collected until the next full collection, which
`settle` runs once every `full_every_s` after unfreezing everything: one
stall of that length an hour rather than several a minute.
"""

import gc
import logging
import time

log = logging.getLogger(__name__)

FULL_COLLECTION_EVERY_S = 3600.0


def take_over() -> None:
    """Turn CPython's automatic collections off in this process: the scheduling loop's
    `Collector.settle` collects instead (the controller's `serve` calls this; tests that run
    a loop in their own process keep automatic collection).

    An automatic collection runs in whichever thread allocates the 700th new container, and
    walks every young container whole. During a cycle the young containers include the
    queue's lists of 100,000 (candidates, views, order, decisions): a young collection then
    held the interpreter lock 3-60 ms, and a full one 25-50 ms, several times a cycle
    (benchmarks/load.py). After a cycle those lists are gone, and `settle`'s young collection
    takes about a millisecond.

    What the process holds now (the queue it loaded) is collected once and frozen first, so
    that the loop's first young collection does not walk it."""
    gc.collect()
    gc.freeze()
    gc.disable()


class Collector:
    def __init__(self, *, full_every_s: float = FULL_COLLECTION_EVERY_S, clock=time.monotonic):
        self._full_every_s, self._clock = full_every_s, clock
        self._last_full = clock()

    def settle(self) -> None:
        """Collect the young generations and freeze what survived; once every `full_every_s`,
        first unfreeze everything and collect it in full."""
        now = self._clock()
        if now - self._last_full >= self._full_every_s:
            self._last_full = now
            frozen = gc.get_freeze_count()
            gc.unfreeze()
            t0 = time.perf_counter()
            found = gc.collect()
            # What `found` counts waited for this collection: if it grows from hour to hour,
            # something long-lived makes reference cycles and this policy should be looked at.
            log.info("full garbage collection frozen=%d unreachable=%d ms=%.1f", frozen, found,
                     (time.perf_counter() - t0) * 1000)
        else:
            gc.collect(1)
        gc.freeze()
