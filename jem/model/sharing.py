"""One copy in memory of what many jobs hold alike: the controller keeps every queued job's
script and environment, and jobs submitted by one workflow carry the same ones (an exported
environment is a few KB in Python objects, most of a queued job's memory). `shared_spec`
returns a spec whose script and environment are the copies already held, when there are.

Bounded: each table keeps the MAX_ENTRIES most recently seen values (a value seen again is
found if it is still there; one that fell out is simply kept again on its own).
"""

import threading
from collections import OrderedDict
from dataclasses import replace

MAX_ENTRIES = 4096


class _Recent:
    """key -> value for the MAX_ENTRIES most recently used keys (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: OrderedDict = OrderedDict()

    def setdefault(self, key, value):
        with self._lock:
            held = self._values.get(key)
            if held is not None:
                self._values.move_to_end(key)
                return held
            self._values[key] = value
            if len(self._values) > MAX_ENTRIES:
                self._values.popitem(last=False)
            return value


_scripts = _Recent()
_environments = _Recent()


def shared_spec(spec):
    """`spec` (a jem.model.job.JobSpec) with its script and environment shared with earlier specs
    that hold equal ones. Nobody changes a spec's environment in place (specs are frozen)."""
    script = _scripts.setdefault(spec.script, spec.script)
    key = tuple(spec.environment.items())
    environment = _environments.setdefault(key, spec.environment)
    if script is spec.script and environment is spec.environment:
        return spec
    return replace(spec, script=script, environment=environment)
