"""Sends job reports to the controller in batches, resending until acknowledged.

Reports wait in order; one thread sends everything queued in one RPC, so a
burst of short jobs costs one round trip, and retries with backoff while the
controller is unreachable. `unreported_ids` tells heartbeats which ended jobs
the controller has not heard of yet.

With a `keep_dir`, every report is also written there until it is acknowledged,
and a new agent process resends what its predecessor could not deliver: a job
that ended while the agent died is not mistaken for a lost one.
"""

import dataclasses
import json
import logging
import os
import threading
from typing import Callable

from jem.model.execution import JobEnd, JobReport
from jem.model.job import JobUsage

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_BACKOFF_S = 5.0


def _to_json(report: JobReport) -> str:
    data = dataclasses.asdict(report)
    data["end"] = report.end.value if report.end else None
    return json.dumps(data)


def _from_json(text: str) -> JobReport:
    data = json.loads(text)
    data["end"] = JobEnd(data["end"]) if data["end"] else None
    data["usage"] = JobUsage(**data["usage"])
    return JobReport(**data)


class Reporter:
    def __init__(self, send: Callable[[list[JobReport]], None], *, keep_dir: str | None = None):
        self._send = send
        self._cond = threading.Condition()
        self._queue: list[JobReport] = []
        self._keep_dir = keep_dir
        self._seq = 0
        self._files: dict[int, str] = {}          # id(report) -> its file
        if keep_dir:
            os.makedirs(keep_dir, exist_ok=True)
            self._load_kept()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, report: JobReport) -> None:
        with self._cond:
            if self._keep_dir:
                self._keep(report)
            self._queue.append(report)
            self._cond.notify()

    def _keep(self, report: JobReport) -> None:
        self._seq += 1
        path = os.path.join(self._keep_dir, f"{self._seq:012d}-job{report.job_id}.json")
        with open(path + ".tmp", "w") as f:
            f.write(_to_json(report))
        os.replace(path + ".tmp", path)
        self._files[id(report)] = path

    def _load_kept(self) -> None:
        names = sorted(n for n in os.listdir(self._keep_dir) if n.endswith(".json"))
        for name in names:
            path = os.path.join(self._keep_dir, name)
            try:
                with open(path) as f:
                    report = _from_json(f.read())
            except (OSError, ValueError, TypeError, KeyError):
                log.warning("unreadable kept report dropped path=%s", path)
                os.unlink(path)
                continue
            self._files[id(report)] = path
            self._queue.append(report)
        self._seq = max((int(n.split("-", 1)[0]) for n in names), default=0)
        if names:
            log.info("resending reports kept by a previous agent n=%d", len(self._queue))

    def unreported_ids(self) -> list[int]:
        with self._cond:
            return [r.job_id for r in self._queue]

    def unreported_runs(self) -> list[tuple[int, int | None]]:
        """(job id, run) of each report not acknowledged yet; run None where unknown."""
        with self._cond:
            return [(r.job_id, r.restart_count) for r in self._queue]

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
                for report in batch:
                    path = self._files.pop(id(report), None)
                    if path:
                        os.unlink(path)
                self._cond.notify_all()
