"""The controller's counters for `sdiag` (AdminService.GetDiagnostics): RPCs by method and by
user with the time each took to serve, jobs submitted, started and ended by kind, and the
scheduling cycles. Each is a few integer additions under one short lock; reading them copies
them out (`snapshot`), never under the cluster state's lock.

As in Slurm, the job and cycle counters start afresh at each midnight UTC, the RPC counters
last for the controller's life, and `reset` (sdiag -r) starts all of them afresh.

The RPC counts come from `StatsInterceptor` (inside the identity interceptor, so that a call
is counted for the user it was authenticated as: a call refused before that is not counted),
the job counts from the job events the cluster commits (`EventBus.observe`), and the cycles
from the scheduling loop.
"""

import threading
import time
from collections import Counter
from typing import Callable

import grpc

from jem.controller.interceptors import current_identity, wrapped_handler
from jem.grpcprobes import is_probe
from jem.model.diagnostics import CycleCounts, Diagnostics, RpcCount
from jem.model.errors import JemError
from jem.model.states import JobEvent
from jem.v1 import admin_pb2, agent_pb2, jobs_pb2

# Each RPC method's number in sdiag (Slurm numbers its message types): services in this order,
# methods in the order their .proto declares them, from 1001 per service block of 1000.
METHOD_IDS: dict[str, int] = {
    method.name: 1000 * (block + 1) + index + 1
    for block, service in enumerate((jobs_pb2.DESCRIPTOR.services_by_name["JobService"],
                                     admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
                                     agent_pb2.DESCRIPTOR.services_by_name["NodeService"]))
    for index, method in enumerate(service.methods)}

DAY_S = 86400
_ENDS = {JobEvent.COMPLETE.value: "completed", JobEvent.CANCEL.value: "canceled",
         **{event.value: "failed" for event in (JobEvent.FAIL, JobEvent.TIMEOUT, JobEvent.OUT_OF_MEMORY,
                                                JobEvent.NODE_FAIL, JobEvent.PREEMPT)}}
_JOB_COUNTS = {JobEvent.SUBMIT.value: "submitted", JobEvent.START.value: "started", **_ENDS}


def _clock_latency_us() -> int:
    """What 1000 reads of the wall clock take (sdiag's gettimeofday() latency)."""
    read = time.time
    t0 = time.perf_counter_ns()
    for _ in range(1000):
        read()
    return (time.perf_counter_ns() - t0) // 1000


class ControllerStats:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._backfilled_since_start = 0
        self._in_flight = 0
        self._clock_latency_us = _clock_latency_us()
        self.reset()

    def reset(self) -> None:
        """Count afresh from now (sdiag -r); the jobs backfilled since the start are kept."""
        with self._lock:
            self._start_day(self._clock())
            self._by_method: dict[str, list[int]] = {}            # name -> [count, total us]
            self._by_user: dict[tuple[str, int], list[int]] = {}  # (user, uid) -> [count, total us]

    def _start_day(self, since: float) -> None:
        """The job and cycle counters from `since` on. Lock held."""
        self._since = since
        self._next_midnight = (int(since) // DAY_S + 1) * DAY_S
        self._jobs: Counter[str] = Counter()
        self._cycles = CycleCounts()
        self._backfilled = 0

    def _roll(self, now: float) -> None:
        """Past midnight UTC: the job and cycle counters start afresh from it. Lock held."""
        if now >= self._next_midnight:
            self._start_day(float(int(now) // DAY_S * DAY_S))

    def job_event(self, event: str) -> None:
        """A job event committed (an EventBus observer)."""
        kind = _JOB_COUNTS.get(event)
        if kind is not None:
            with self._lock:
                self._roll(self._clock())
                self._jobs[kind] += 1

    def rpc_started(self, method: str, user: str, uid: int) -> None:
        """A call began: counted now (as Slurm counts a call it is serving), its time when it ends."""
        with self._lock:
            self._in_flight += 1
            for table, key in ((self._by_method, method), (self._by_user, (user, uid))):
                sums = table.get(key)
                if sums is None:
                    sums = table[key] = [0, 0]
                sums[0] += 1

    def rpc_ended(self, method: str, user: str, uid: int, elapsed_us: int) -> None:
        with self._lock:
            self._in_flight -= 1
            for table, key in ((self._by_method, method), (self._by_user, (user, uid))):
                sums = table.get(key)
                if sums is not None:   # (none: reset while the call was served)
                    sums[1] += elapsed_us

    def cycle(self, *, elapsed_us: int, depth: int, queue_len: int, n_nodes: int, n_backfilled: int) -> None:
        """A scheduling cycle ended: it planned `depth` of the `queue_len` jobs it could start."""
        with self._lock:
            self._roll(self._clock())
            c = self._cycles
            self._cycles = CycleCounts(
                count=c.count + 1, last_us=elapsed_us, max_us=max(c.max_us, elapsed_us), sum_us=c.sum_us + elapsed_us,
                last_depth=depth, depth_sum=c.depth_sum + depth, last_queue_len=queue_len,
                queue_len_sum=c.queue_len_sum + queue_len, last_time=self._clock(), last_nodes=n_nodes,
                nodes_sum=c.nodes_sum + n_nodes)
            self._backfilled += n_backfilled
            self._backfilled_since_start += n_backfilled

    def snapshot(self, *, jobs_pending: int, jobs_running: int, agent_calls_in_flight: int) -> Diagnostics:
        with self._lock:
            now = self._clock()
            self._roll(now)
            return Diagnostics(
                time=now, since=self._since, rpcs_in_flight=self._in_flight,
                agent_calls_in_flight=agent_calls_in_flight,
                jobs_submitted=self._jobs["submitted"], jobs_started=self._jobs["started"],
                jobs_completed=self._jobs["completed"], jobs_canceled=self._jobs["canceled"],
                jobs_failed=self._jobs["failed"], jobs_pending=jobs_pending, jobs_running=jobs_running,
                cycles=self._cycles, backfilled_since_start=self._backfilled_since_start,
                backfilled_since_reset=self._backfilled,
                by_method=tuple(RpcCount(name, METHOD_IDS.get(name, 0), n, us)
                                for name, (n, us) in self._by_method.items()),
                by_user=tuple(RpcCount(user, uid, n, us) for (user, uid), (n, us) in self._by_user.items()),
                clock_latency_us=self._clock_latency_us)


def _status_name(context, error: BaseException | None) -> str:
    """The status code the call ends with: a JemError's own (ErrorInterceptor, outside, turns it into
    that), else what the servicer set or aborted with, else INTERNAL for an error and OK without one."""
    if isinstance(error, JemError):
        return error.grpc_code
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(error, GeneratorExit):   # (a stream its caller left)
        return "CANCELLED"
    return "INTERNAL" if error is not None else "OK"


class StatsInterceptor(grpc.ServerInterceptor):
    """Counts each call by method and by the user it was authenticated as, with the time it
    took to serve (a stream: until it ended). Placed inside the identity interceptor."""

    def __init__(self, stats: ControllerStats, latency=None):
        self._stats = stats
        self._latency = latency   # a Histogram labelled (method, code): jem_rpc_duration_seconds

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or is_probe(handler_call_details.method):
            return handler   # (no identity: health and reflection are not the cluster's RPCs)
        method = handler_call_details.method.rpartition("/")[2]
        stats = self._stats

        latency = self._latency

        def ended(identity, t0: int, context, error: BaseException | None) -> None:
            elapsed_ns = time.perf_counter_ns() - t0
            stats.rpc_ended(method, identity.user, identity.uid, elapsed_ns // 1000)
            if latency is not None:
                latency.labels(method, _status_name(context, error)).observe(elapsed_ns / 1e9)

        def wrap(behaviour, streams_out):
            if streams_out:
                def stream(request, context):
                    identity, t0, error = current_identity(), time.perf_counter_ns(), None
                    stats.rpc_started(method, identity.user, identity.uid)
                    try:
                        yield from behaviour(request, context)
                    except BaseException as exc:
                        error = exc
                        raise
                    finally:
                        ended(identity, t0, context, error)
                return stream

            def unary(request, context):
                identity, t0, error = current_identity(), time.perf_counter_ns(), None
                stats.rpc_started(method, identity.user, identity.uid)
                try:
                    return behaviour(request, context)
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    ended(identity, t0, context, error)
            return unary

        return wrapped_handler(handler, wrap)
