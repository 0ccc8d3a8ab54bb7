"""The controller's audit trail (jem.model.audit): an interceptor that records every
state-changing request with its authenticated principal, peer, a summary of what it
asked and its result, as a structured log line at once and in the store soon after.

Records reach the store through one writer thread in batches (one transaction each),
so auditing adds a queue put to a request, not a write. A store that refuses a batch
keeps it for the next try (up to MAX_PENDING records, then the oldest are dropped,
said in the log); the log line was written either way.
"""

import logging
import queue
import threading
import time
from typing import Callable

import grpc

from jem.controller.interceptors import current_identity, current_node, wrapped_handler
from jem.convert import AUDIT_SUMMARY_MAX, audit_summary
from jem.model.audit import AuditRecord
from jem.model.errors import JemError, StoreUnavailable
from jem.store import Store

log = logging.getLogger(__name__)
audit_log = logging.getLogger("jem.audit")

# The requests that change something, by service: each one is audited, refused or not.
AUDITED = {
    "jem.v1.JobService": {"SubmitJob", "CancelJob", "CompleteAllocation", "HoldJob", "ReleaseJob", "UpdateJob",
                          "RequeueJob", "RunStep", "SetCrontab"},
    "jem.v1.AdminService": {"DrainNode", "ResumeNode", "UndrainNode", "DownNode", "IssueToken"},
    "jem.v1.NodeService": {"RegisterNode", "ReportJobEvents"},
}
MAX_PENDING = 100_000    # records kept while the store refuses them
BATCH_WAIT_S = 0.05      # how long the writer gathers a batch
KEEP_CHECK_S = 3600.0    # how often records older than the cluster's audit_keep_days are dropped


class AuditLog:
    """Where audit records go: the log at once, the store from a writer thread."""

    def __init__(self, store: Store, *, keep_days: int, clock: Callable[[], float] = time.time):
        self._store = store
        self._keep_s = keep_days * 86400.0
        self._clock = clock
        self._queue: queue.Queue[AuditRecord | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="audit", daemon=True)
        self._next_keep_check = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def record(self, record: AuditRecord) -> None:
        audit_log.info("audit user=%s uid=%d peer=%s method=%s job_id=%d result=%s request=%r detail=%r",
                       record.user, record.uid, record.peer, record.method, record.job_id, record.result,
                       record.request, record.detail)
        self._queue.put(record)

    def _write(self) -> None:
        pending: list[AuditRecord] = []
        while True:
            batch, is_stopping = self._next_batch(wait_s=BATCH_WAIT_S if pending else 1.0)
            pending = self._flush(pending + batch)
            self._drop_old()
            if is_stopping:
                return

    def _next_batch(self, *, wait_s: float) -> tuple[list[AuditRecord], bool]:
        """The records that come within BATCH_WAIT_S of the first (none if none comes in
        `wait_s`), and whether stop() was called."""
        batch: list[AuditRecord] = []
        try:
            item = self._queue.get(timeout=wait_s)
        except queue.Empty:
            return batch, False
        deadline = time.monotonic() + BATCH_WAIT_S
        while item is not None:
            batch.append(item)
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return batch, False
        return batch, True

    def _flush(self, pending: list[AuditRecord]) -> list[AuditRecord]:
        """Store `pending`; returns what is still to store (all of it if the store refused)."""
        if not pending:
            return pending
        try:
            self._store.add_audit(pending)
            return []
        except StoreUnavailable as exc:
            if len(pending) > MAX_PENDING:
                log.error("audit records dropped n=%d why=%s", len(pending) - MAX_PENDING, exc)
                pending = pending[-MAX_PENDING:]
            log.warning("audit records not stored yet n=%d why=%s", len(pending), exc)
            return pending

    def _drop_old(self) -> None:
        now = self._clock()
        if now < self._next_keep_check:
            return
        self._next_keep_check = now + KEEP_CHECK_S
        try:
            dropped = self._store.forget_audit(before=now - self._keep_s)
        except StoreUnavailable as exc:
            log.warning("old audit records not dropped why=%s", exc)
            return
        if dropped:
            log.info("old audit records dropped n=%d", dropped)


class AuditInterceptor(grpc.ServerInterceptor):
    """Innermost on both ports: records each AUDITED request once, when it is answered (a
    stream: when its first answer is sent, or it fails before), with the error it met."""

    def __init__(self, audit: AuditLog, *, clock: Callable[[], float] = time.time):
        self._audit = audit
        self._clock = clock

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        if handler is None or method not in AUDITED.get(service, ()):
            return handler
        record = self._recorder(method)

        def wrap(behaviour, streams_out):
            if streams_out:
                def stream(request, context):
                    is_recorded = False
                    try:
                        for response in behaviour(request, context):
                            if not is_recorded:
                                record(request, context, response, None)
                                is_recorded = True
                            yield response
                    except Exception as exc:
                        if not is_recorded:
                            record(request, context, None, exc)
                        raise
                    if not is_recorded:
                        record(request, context, None, None)
                return stream

            def unary(request, context):
                try:
                    response = behaviour(request, context)
                except Exception as exc:
                    record(request, context, None, exc)
                    raise
                record(request, context, response, None)
                return response
            return unary

        return wrapped_handler(handler, wrap)

    def _recorder(self, method: str):
        def record(request, context, response, error: Exception | None) -> None:
            try:
                write(request, context, response, error)
            except Exception:   # the request itself was answered: never fail it for its record
                log.exception("audit record not made method=%s", method)

        def write(request, context, response, error: Exception | None) -> None:
            node = current_node()
            if node is not None:
                user, uid = f"node:{node}", -1
            else:
                identity = current_identity()
                user, uid = identity.user, identity.uid
            if error is None:
                result, detail = "ok", ""
            elif isinstance(error, JemError):
                result, detail = error.reason, str(error)[:AUDIT_SUMMARY_MAX]
            else:
                result, detail = "InternalError", type(error).__name__
            now, peer = self._clock(), context.peer() or ""
            # An agent's reports are about several jobs: one record each, so `jem audit -j` finds them.
            parts = [(r.job_id, r) for r in request.reports] if method == "ReportJobEvents" else \
                [(getattr(request, "job_id", 0) or getattr(response, "job_id", 0) or 0, request)]
            for job_id, part in parts:
                self._audit.record(AuditRecord(time=now, user=user, uid=uid, peer=peer, method=method,
                                               request=audit_summary(part), result=result, detail=detail,
                                               job_id=int(job_id)))
        return record
