"""Sends job reports to the controller in batches, resending until acknowledged.

Reports wait in order; one thread sends everything queued in one RPC, so a
burst of short jobs costs one round trip, and retries with backoff while the
controller is unreachable. `unreported_ids` tells heartbeats which ended jobs
the controller has not heard of yet.
"""

import logging
import threading
from typing import Callable

from jem.model.execution import JobReport

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_BACKOFF_S = 5.0


class Reporter:
    def __init__(self, send: Callable[[list[JobReport]], None]):
        self._send = send
        self._cond = threading.Condition()
        self._queue: list[JobReport] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, report: JobReport) -> None:
        with self._cond:
            self._queue.append(report)
            self._cond.notify()

    def unreported_ids(self) -> list[int]:
        with self._cond:
            return [r.job_id for r in self._queue]

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued was acknowledged; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue, timeout=timeout_s)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.1
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping)
                if self._stopping and not self._queue:
                    return
                batch = self._queue[:MAX_BATCH]
            try:
                self._send(batch)
            except Exception as exc:  # any failure to deliver means: keep the reports, retry
                log.warning("report delivery failed n=%d retry_in_s=%.1f error=%s", len(batch), backoff, exc)
                with self._cond:
                    if self._stopping:
                        return
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 0.1
            with self._cond:
                del self._queue[:len(batch)]
                self._cond.notify_all()
