"""The steps running now: their agent calls (to kill them) and each job's next step id.

Invariant: a step is here from the moment its record is stored as RUNNING until
its end is stored. Thread-safe on its own lock, which callers may take while
holding the controller lock: under it, only gRPC `cancel()` is called, which
does not wait.
"""

import threading
from typing import Callable


class StepTable:
    def __init__(self, next_id_in_store: Callable[[int], int]):
        self._lock = threading.Lock()
        self._next_id_in_store = next_id_in_store
        self._next_ids: dict[int, int] = {}
        self._calls: dict[tuple[int, int], list] = {}
        self._cancelled: set[tuple[int, int]] = set()

    def add(self, job_id: int) -> int:
        """A new step id for the job (0, 1, 2, ...), registered as running."""
        with self._lock:
            step_id = self._next_ids.get(job_id)
            if step_id is None:
                step_id = self._next_id_in_store(job_id)
            self._next_ids[job_id] = step_id + 1
            self._calls[(job_id, step_id)] = []
            return step_id

    def attach(self, job_id: int, step_id: int, call) -> bool:
        """Remember an agent call of the step; False (and the call cancelled) when the
        step was cancelled meanwhile."""
        with self._lock:
            if (job_id, step_id) in self._cancelled:
                call.cancel()
                return False
            self._calls[(job_id, step_id)].append(call)
            return True

    def remove(self, job_id: int, step_id: int) -> bool:
        """Forget a step; True when it had been cancelled."""
        with self._lock:
            self._calls.pop((job_id, step_id), None)
            was_cancelled = (job_id, step_id) in self._cancelled
            self._cancelled.discard((job_id, step_id))
            return was_cancelled

    def cancel(self, job_id: int, step_id: int | None = None) -> int:
        """Cancel the step (every running step of the job when `step_id` is None): its
        agents kill the tasks. Returns how many steps."""
        with self._lock:
            keys = [key for key in self._calls if key[0] == job_id and step_id in (None, key[1])]
            for key in keys:
                self._cancelled.add(key)
                for call in self._calls[key]:
                    call.cancel()
            return len(keys)

    def forget_job(self, job_id: int) -> None:
        """Drop the job's step counter (it ended; the store keeps the highest id)."""
        with self._lock:
            self._next_ids.pop(job_id, None)
