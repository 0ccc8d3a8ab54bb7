"""Job events to a site's URL: each committed event the `[webhook]` section names is POSTed as
JSON, signed with HMAC-SHA256 under the key in `[webhook] secret_file`.

Each request carries:

    X-JEM-Event: ended                    (submitted, started, ended, requeued, held, ...)
    X-JEM-Event-Id: 5f0c...               (one per event, the same on every retry: deduplicate by it)
    X-JEM-Timestamp: 1700000000           (when this attempt was signed, Unix seconds)
    X-JEM-Signature: sha256=<hex>         (HMAC-SHA256 of "<timestamp>.<body>" under the secret)

A receiver recomputes the signature over the raw body, compares it in constant time, and
refuses a timestamp outside its replay window (`is_authentic`; docs/configuration.md).

Delivery never holds the controller up: events wait in a bounded queue for one worker thread,
which sends them in commit order, each attempt bounded by `timeout_s`. A failed attempt (no
connection, a timeout, a 5xx, 408 or 429) is retried after `retry_delay_s`, doubled each time
up to `max_retry_delay_s`; after `max_attempts` the event is dropped, logged and counted, as is
one the receiver refuses for good (another 4xx, or a redirect: none is followed) and one that
finds the queue full. The secret file must be the controller user's and readable by it alone:
the controller refuses to start otherwise.
"""

import hashlib
import hmac
import http.client
import json
import logging
import os
import queue
import stat
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from jem.model.errors import ConfigError
from jem.model.notice import JobNotice
from jem.model.notification import WebhookConfig

log = logging.getLogger(__name__)

EVENT_HEADER = "X-JEM-Event"
EVENT_ID_HEADER = "X-JEM-Event-Id"
TIMESTAMP_HEADER = "X-JEM-Timestamp"
SIGNATURE_HEADER = "X-JEM-Signature"
REPLAY_WINDOW_S = 300          # what `is_authentic` accepts by default: a timestamp this close to now
MIN_SECRET_BYTES = 16
_RETRIED_STATUSES = (408, 429)
STOP_WAIT_S = 2.0


def signature(secret: bytes, *, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def is_authentic(secret: bytes, *, timestamp: str, signature_header: str, body: bytes, now: float,
                 window_s: float = REPLAY_WINDOW_S) -> bool:
    """What a receiver checks: the timestamp is within `window_s` of `now`, and the signature is
    the one of this timestamp and body (compared in constant time). A receiver also remembers
    the event ids it took within the window, to refuse a replayed request."""
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - signed_at) > window_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp=timestamp, body=body), signature_header)


def load_secret(path: str) -> bytes:
    """The key in `path`, a regular file of the controller's user that no one else may read or
    write (mode 0600 or 0400); ConfigError naming what is wrong otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"webhook.secret_file: {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"webhook.secret_file: {path} is not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise ConfigError(f"webhook.secret_file: {path} is owned by uid {st.st_uid} with mode "
                              f"{stat.S_IMODE(st.st_mode):04o}; it must be the controller's (uid {os.geteuid()}) "
                              f"and readable by it alone (chmod 600)")
        secret = f.read().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"webhook.secret_file: {path} holds {len(secret)} bytes; at least {MIN_SECRET_BYTES} "
                          f"are needed (e.g. openssl rand -hex 32)")
    return secret


def event_body(notice: JobNotice, event: str, *, event_id: str, cluster: str) -> bytes:
    """The JSON an event is sent as (no script, no environment)."""
    return json.dumps({
        "id": event_id, "event": event, "job_event": notice.event.value, "seq": notice.seq, "time": notice.time,
        "cluster": cluster,
        "job": {
            "job_id": notice.job_id, "array_job_id": notice.array_job_id, "array_task_id": notice.array_task_id,
            "name": notice.name, "user": notice.user, "account": notice.account, "partition": notice.partition,
            "state": notice.state.value, "reason": notice.reason.value, "exit_code": notice.exit_code,
            "exit_signal": notice.exit_signal, "submit_time": notice.submit_time, "start_time": notice.start_time,
            "end_time": notice.end_time, "nodes": list(notice.nodes), "restart_count": notice.restart_count,
        },
    }, separators=(",", ":"), sort_keys=True).encode()


@dataclass(slots=True)
class WebhookCounts:
    delivered: int = 0
    retried: int = 0       # attempts that failed and were tried again
    dropped: int = 0       # given up: after max_attempts, or refused by the receiver for good
    overflowed: int = 0    # the queue was full (counted by the committing thread)


@dataclass(frozen=True, slots=True)
class _Delivery:
    event_id: str
    event: str
    notice: JobNotice      # (made into the body by the worker: the committing thread only queues)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address to send the event to."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WebhookSender:
    """The queue of events to POST and the worker that sends them, one at a time, in order."""

    def __init__(self, config: WebhookConfig, *, cluster: str):
        self._config, self._cluster = config, cluster
        self._secret = load_secret(config.secret_file)
        self._events = frozenset(config.events)
        self._queue: queue.Queue[_Delivery] = queue.Queue(config.queue_size)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(_NoRedirects)
        self.counts = WebhookCounts()

    def wants(self, event: str) -> bool:
        return event in self._events

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._config.timeout_s + STOP_WAIT_S)
        left = self._queue.qsize()
        if left:
            log.warning("controller stopping: webhook events not sent events=%d", left)

    def submit(self, notice: JobNotice, event: str) -> None:
        """Queue `event` of `notice`'s job (never blocks: a full queue drops it, logged and counted)."""
        try:
            self._queue.put_nowait(_Delivery(uuid.uuid4().hex, event, notice))
        except queue.Full:
            self.counts.overflowed += 1
            log.warning("webhook event dropped: queue full job_id=%d event=%s queue_size=%d overflowed=%d",
                        notice.job_id, event, self._config.queue_size, self.counts.overflowed)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                delivery = self._queue.get(timeout=STOP_WAIT_S)
            except queue.Empty:
                continue
            self._deliver(delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        config = self._config
        body = event_body(delivery.notice, delivery.event, event_id=delivery.event_id, cluster=self._cluster)
        for attempt in range(1, config.max_attempts + 1):
            failure, is_final = self._attempt(delivery, body)
            if not failure:
                self.counts.delivered += 1
                return
            if is_final or attempt == config.max_attempts:
                self.counts.dropped += 1
                log.warning("webhook event dropped job_id=%d event=%s event_id=%s attempts=%d dropped=%d (%s)",
                            delivery.notice.job_id, delivery.event, delivery.event_id, attempt, self.counts.dropped,
                            failure)
                return
            self.counts.retried += 1
            delay = min(config.retry_delay_s * 2 ** (attempt - 1), config.max_retry_delay_s)
            log.debug("webhook attempt failed job_id=%d event=%s attempt=%d retry_in_s=%.1f (%s)",
                      delivery.notice.job_id, delivery.event, attempt, delay, failure)
            if self._stopping.wait(delay):
                return

    def _attempt(self, delivery: _Delivery, body: bytes) -> tuple[str, bool]:
        """One POST: ("", _) when delivered, else (why it failed, whether retrying is useless)."""
        timestamp = str(int(time.time()))
        request = urllib.request.Request(self._config.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "jem-webhook/1", EVENT_HEADER: delivery.event,
            EVENT_ID_HEADER: delivery.event_id, TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret, timestamp=timestamp, body=body)})
        try:
            with self._opener.open(request, timeout=self._config.timeout_s) as response:
                response.read(65536)
                return ("", False) if 200 <= response.status < 300 else (f"status {response.status}", True)
        except urllib.error.HTTPError as exc:   # (a redirect lands here too: none is followed)
            exc.close()
            return f"status {exc.code}", not (exc.code >= 500 or exc.code in _RETRIED_STATUSES)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}", False   # (no connection, a timeout, a garbled answer)
