"""Each user's share of the controller: how many jobs they may have queued, how fast they
may submit, how many streams they may hold open. Root and operators are exempt, and keep
room in a full queue, so a flooding user can never lock the operators out.

The figures are the cluster's `[limits]` (jem.model.limits.InputLimits); how many jobs
a user or account may run at once is the scheduling loop's (`over_running_limits`).
"""

import contextlib
import math
import threading
import time
from typing import Iterator

from jem.model.errors import ControllerNotReady, LimitExceeded, RateLimited, TooManyStreams
from jem.model.identity import Identity
from jem.model.job import Job
from jem.model.limits import InputLimits

# Of the controller's RPC threads, those never given to streams: unary calls always find one.
UNARY_RESERVE_THREADS = 32


def operator_headroom(max_job_count: int) -> int:
    """Records root and operators may still queue once ordinary users meet max_job_count."""
    return max(100, max_job_count // 100)


# A refused submission's answer is held back for half the time until the caller's next token
# (at most TARPIT_MAX_S), for at most TARPIT_SLOTS_PER_USER of a user's calls at once and
# TARPIT_SLOTS of all users' (well under UNARY_RESERVE_THREADS): a loop that resends at once,
# as fast as answers come, then costs the controller tens of calls a second rather than
# hundreds, and the held calls never take the threads other calls need.
TARPIT_MAX_S = 0.1
TARPIT_SLOTS_PER_USER = 4
TARPIT_SLOTS = 16


class SubmitRate:
    """A token bucket per uid (Slurm's rl_bucket_size / rl_refill_rate): `burst` submissions
    at once, then `per_s` each second. Thread-safe; costs no lock of the controller's."""

    def __init__(self, *, burst: int, per_s: int, clock=time.monotonic, sleep=time.sleep):
        self._burst, self._per_s, self._clock, self._sleep = burst, per_s, clock, sleep
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}   # uid -> (tokens, when counted)
        self._held: dict[int, int] = {}                      # uid -> refusals being held back
        self._n_held = 0                                     # and in all

    def take(self, identity: Identity) -> None:
        """One submission of `identity`; RateLimited (saying when to retry) if its bucket is
        empty, answered after a pause (see TARPIT_MAX_S). Call it holding no lock."""
        if self._per_s <= 0 or identity.is_operator:
            return
        uid = identity.uid
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(uid, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - then) * self._per_s)
            if tokens >= 1.0:
                self._buckets[uid] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:   # forget full buckets: they are the default
                    self._buckets = {u: b for u, b in self._buckets.items()
                                     if b[0] + (now - b[1]) * self._per_s < self._burst}
                return
            self._buckets[uid] = (tokens, now)
            wait = (1.0 - tokens) / self._per_s
            n_held = self._held.get(uid, 0)
            has_slot = n_held < TARPIT_SLOTS_PER_USER and self._n_held < TARPIT_SLOTS
            pause = min(wait / 2, TARPIT_MAX_S) if has_slot else 0.0
            if pause:
                self._held[uid] = n_held + 1
                self._n_held += 1
        if pause:
            try:
                self._sleep(pause)
            finally:
                with self._lock:
                    self._n_held -= 1
                    if self._held[uid] <= 1:
                        del self._held[uid]
                    else:
                        self._held[uid] -= 1
        raise RateLimited(f"user {identity.user} may submit {self._per_s} jobs per second "
                          f"(after a burst of {self._burst})", retry_after_s=wait - pause)


class StreamSlots:
    """Open streams (WatchJobs, RunStep) per uid, at most `per_user` each (operators too: a
    runaway script is as likely theirs), and at most `total` in all, so that streams never
    take the threads unary calls need."""

    def __init__(self, *, per_user: int, total: int):
        self._per_user, self._total = per_user, total
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}
        self._n_open = 0

    @contextlib.contextmanager
    def slot(self, identity: Identity) -> Iterator[None]:
        with self._lock:
            held = self._open.get(identity.uid, 0)
            if held >= self._per_user:
                raise TooManyStreams(f"user {identity.user} holds {held} open streams, the most one user may")
            if self._n_open >= self._total:
                raise TooManyStreams(f"the controller serves {self._n_open} streams, the most it may")
            self._open[identity.uid] = held + 1
            self._n_open += 1
        try:
            yield
        finally:
            with self._lock:
                self._n_open -= 1
                if self._open[identity.uid] <= 1:
                    del self._open[identity.uid]
                else:
                    self._open[identity.uid] -= 1

    def held_by(self, uid: int) -> int:
        with self._lock:
            return self._open.get(uid, 0)


def check_queue_room(jobs, identity: Identity, *, account: str, n_tasks: int, limits: InputLimits,
                     max_job_count: int) -> None:
    """Whether `identity` may queue one more record of `n_tasks` tasks under `account` (`jobs`:
    the JobTable; lock held). A full queue refuses ordinary users first: root and operators
    keep `operator_headroom` records beyond it."""
    n_records = jobs.count_active()
    ceiling = max_job_count + (operator_headroom(max_job_count) if identity.is_operator else 0)
    if n_records >= ceiling:
        raise ControllerNotReady(f"the queue holds its maximum of {max_job_count} jobs")
    if identity.is_operator:
        return
    user_limit, account_limit = limits.max_submit_jobs_per_user, limits.max_submit_jobs_per_account
    if user_limit and jobs.active_tasks_of_user(identity.user) + n_tasks > user_limit:
        raise LimitExceeded(f"user {identity.user} may have {user_limit} jobs queued or running")
    if account_limit and jobs.active_tasks_of_account(account) + n_tasks > account_limit:
        raise LimitExceeded(f"account {account or '(none)'} may have {account_limit} jobs queued or running")


class RunningQuota:
    """How many more jobs each user and account may start now, under `limits`' running-job
    limits (Slurm's MaxJobs). Built each cycle from the running jobs; the loop asks `allows`
    before it plans a job and again before it starts one, and `take`s each start, so one
    cycle cannot start more than the quota either. Root's jobs and `operators`' are never held back."""

    def __init__(self, running: list[Job], limits: InputLimits, operators: set[str]):
        self._user_limit = limits.max_running_jobs_per_user
        self._account_limit = limits.max_running_jobs_per_account
        self._operators = operators
        self._by_user: dict[str, int] = {}
        self._by_account: dict[str, int] = {}
        self._ends_by_user: dict[str, list[float]] = {}      # (when each one's running jobs end by their limits)
        self._ends_by_account: dict[str, list[float]] = {}
        for job in running:
            self.take(job)

    @property
    def is_unlimited(self) -> bool:
        """No running-job limit is set: every job is allowed."""
        return not self._user_limit and not self._account_limit

    def allows(self, job: Job) -> bool:
        if job.uid == 0 or job.user in self._operators:
            return True
        return not ((self._user_limit and self._by_user.get(job.user, 0) >= self._user_limit)
                    or (self._account_limit and self._by_account.get(job.spec.account, 0) >= self._account_limit))

    def take(self, job: Job) -> None:
        self._by_user[job.user] = self._by_user.get(job.user, 0) + 1
        self._by_account[job.spec.account] = self._by_account.get(job.spec.account, 0) + 1
        end = job.start_time + job.time_limit_s if job.start_time is not None and job.time_limit_s is not None \
            else math.inf
        self._ends_by_user.setdefault(job.user, []).append(end)
        self._ends_by_account.setdefault(job.spec.account, []).append(end)

    def freed_at(self, job: Job, *, ahead: int = 0) -> float | None:
        """When `job`, with `ahead` of its user's jobs held by this quota before it, may start by
        it at the soonest: once enough of its user's (and account's) running jobs have ended by
        their time limits. None when that rests on a job without one, or on jobs not started yet.
        E.g. a limit of 2, running jobs ending at 10 and 20: the first held job at 10, the second at 20."""
        t = 0.0
        for limit, ends in ((self._user_limit, self._ends_by_user.get(job.user, ())),
                            (self._account_limit, self._ends_by_account.get(job.spec.account, ()))):
            if limit and len(ends) >= limit:
                k = len(ends) - limit + ahead
                if k >= len(ends):
                    return None
                end = sorted(ends)[k]
                if end == math.inf:
                    return None
                t = max(t, end)
        return t
