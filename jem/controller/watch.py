"""Fan-out of committed job events to WatchJobs subscribers (and to GetJob calls that wait
while their job is pending).

Publishing never blocks: each subscriber has a bounded queue, and a
subscriber that falls `MAX_BACKLOG` events behind is dropped (its stream
ends with an error it can resume from), so a slow client cannot stall the
controller.
"""

import copy
import logging
import queue
import threading
import time
from dataclasses import dataclass

from jem.model.job import Job

log = logging.getLogger(__name__)

MAX_BACKLOG = 10_000
ACTIVE_CHECK_S = 0.5   # how often a waiting subscriber looks whether its call is still wanted


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    seq: int
    time: float
    event: str
    job: Job            # a copy of the job as it was after the event


class Subscription:
    """One WatchJobs stream's queue and filter."""

    def __init__(self, job_ids: set[int], users: set[str]):
        self.job_ids = job_ids
        self.users = users
        self.queue: queue.Queue[PublishedEvent | None] = queue.Queue(MAX_BACKLOG)
        self.is_overrun = False

    def wants(self, job: Job) -> bool:
        return (not self.job_ids or job.job_id in self.job_ids) and (not self.users or job.user in self.users)

    def wait_for(self, is_done, *, deadline: float, is_active) -> None:
        """Until an event's job satisfies `is_done(job)`, the monotonic `deadline` passes, `is_active()`
        turns False (the caller went away: looked at every ACTIVE_CHECK_S) or the bus dropped this
        subscription (events may have been lost: the caller reads the job anew either way)."""
        while is_active() and not self.is_overrun:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                return
            try:
                event = self.queue.get(timeout=min(left_s, ACTIVE_CHECK_S))
            except queue.Empty:
                continue
            if event is None or is_done(event.job):
                return


class EventBus:
    def __init__(self):
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._observers: list = []   # called with each event's name (the controller's counters)
        self._commit_hooks: list = []   # called with each event and its job (the notifier)

    def observe(self, observer) -> None:
        """Call `observer(event name)` for every event published from now on (it must be quick)."""
        self._observers.append(observer)

    def hand_commits_to(self, hook) -> None:
        """Call `hook(seq, time, event name, job)` for every event published from now on, with the
        job as the commit left it: the hook copies what it keeps, at once (it runs under the
        controller's lock, so it must be quick and never block: jem.controller.notify)."""
        self._commit_hooks.append(hook)

    def subscribe(self, *, job_ids: set[int], users: set[str]) -> Subscription:
        subscription = Subscription(job_ids, users)
        with self._lock:
            self._subscriptions.append(subscription)
        log.debug("watch subscribed job_ids=%s users=%s", sorted(job_ids), sorted(users))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish(self, seq: int, time: float, event: str, job: Job) -> None:
        for observer in self._observers:
            observer(event)
        for hook in self._commit_hooks:
            hook(seq, time, event, job)
        with self._lock:
            targets = [s for s in self._subscriptions if s.wants(job)]
        if not targets:
            return
        published = PublishedEvent(seq, time, event, copy.copy(job))
        for subscription in targets:
            try:
                subscription.queue.put_nowait(published)
            except queue.Full:
                log.warning("watch subscriber overrun; dropping it backlog=%d", MAX_BACKLOG)
                subscription.is_overrun = True
                self.unsubscribe(subscription)
