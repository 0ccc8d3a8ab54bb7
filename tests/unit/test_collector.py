"""The controller's garbage-collection policy: young objects collected and frozen each cycle,
everything collected in full once per period."""

import gc
import weakref

from jem.controller.collector import Collector


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Cycle:
    """A reference cycle: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


def test_young_garbage_goes_each_cycle_and_frozen_garbage_at_the_next_full_collection():
    clock = Clock()
    collector = Collector(full_every_s=3600.0, clock=clock)
    try:
        young = Cycle()
        young_ref = weakref.ref(young)
        del young
        collector.settle()                 # made since the last cycle and already garbage: collected
        assert young_ref() is None

        kept = Cycle()
        kept_ref = weakref.ref(kept)
        collector.settle()                 # alive: frozen, out of the collector's sight
        assert gc.get_freeze_count() > 0
        del kept
        gc.collect()
        assert kept_ref() is not None      # frozen garbage waits for the full collection ...
        clock.now += 1800.0
        collector.settle()
        assert kept_ref() is not None
        clock.now += 1800.0
        collector.settle()                 # ... which comes once every full_every_s
        assert kept_ref() is None
    finally:
        gc.unfreeze()


def test_take_over_leaves_collection_to_the_loop(tmp_path):
    """In the process that takes over (the controller's), CPython collects nothing by itself:
    a reference cycle stays until `settle` runs."""
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent("""
        import gc, weakref
        from jem.controller import collector

        class Cycle:
            def __init__(self):
                self.me = self

        collector.take_over()
        assert not gc.isenabled()
        garbage = Cycle()
        ref = weakref.ref(garbage)
        del garbage
        junk = [Cycle() for _ in range(50_000)]   # far past the automatic thresholds
        del junk
        assert ref() is not None, "collected automatically"
        collector.Collector().settle()
        assert ref() is None, "settle did not collect it"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
