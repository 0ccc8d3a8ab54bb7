"""The scheduling loop: one thread that plans and starts jobs, and watches node health.

A cycle runs whenever something changed (submit, job end, node change: any
caller of `wake`) and at least every `interval_s`. Wakes that arrive during a
cycle coalesce into one more cycle. The scheduling policy (fcfs, EASY or
conservative backfill, priority weights, fair-share) comes from the config once.
A cycle:

1. under the lock, charges running jobs' CPU time to fair-share usage, clears
   met dependencies, splits eligible array tasks off their array's record, and
   copies the nodes, the running jobs and the ids of the jobs free to run;
2. without the lock, holds back the jobs over their user's running-job quota or
   an association's or QOS' limit (jem.scheduler.limits, with its reason), builds
   the others' views and calls the scheduler (pure);
3. under the lock again, re-checks each decision against live state (a node
   may have gone, a job been held, since), commits the starts in one
   transaction, then sends the launches, one RPC per node, after releasing it;
   pending reasons, planned starts and multifactor priorities are written in
   chunks, each under the lock. A cycle of T seconds is followed by 2T of rest.
"""

import dataclasses
import json
import logging
import os
import threading
import time
from collections import defaultdict

from jem.controller import crontab, lifecycle, signals, suspension
from jem.controller.admission import limited_job
from jem.controller.arrays import split_tasks
from jem.controller.collector import Collector
from jem.controller.dependencies import resolve_dependencies
from jem.controller.fairuse import RunningQuota
from jem.controller.preemption import Preemptions
from jem.controller.reports import send_kills, settle_dead_nodes
from jem.controller.reservations import end_by_reservation, enters_reservation
from jem.controller.state import ClusterState
from jem.model import defaults
from jem.model.execution import Launch
from jem.model.associations import AccountingTable
from jem.model.job import Job
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.scheduler import bulk
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.decisions import Decisions
from jem.scheduler.fairshare import Usage
from jem.scheduler.limits import PLANNED_KINDS, Ledger, LimitedJob
from jem.scheduler.policy import Policy
from jem.scheduler.snapshot import PendingViews, take_snapshot

log = logging.getLogger(__name__)


USAGE_FILE = "fairshare_usage.json"
CYCLE_REST_FACTOR = 2.0   # after a cycle of T seconds, none for 2T: at most a third of a core
SETTLE_EVERY_S = 5.0      # the longest a quiet loop goes without collecting garbage
_NO_PARTITION = Partition("", ())   # (a job whose partition left the configuration: no partition QOS)
RECORD_CHUNK = 2000       # waiting jobs' reasons and priorities written per hold of the lock
FORECAST_EVERY_S = 30.0   # the jobs beyond the exact estimates are forecast this often (they keep theirs between)
ESTIMATE_JITTER = (5.0, 0.01)    # an estimate that moves by less than 5 s or 1% of the time to it is kept
FORECAST_JITTER = (60.0, 0.05)   # a forecast (coarser), by less than a minute or 5%


def estimate_jitter_s(planned_start: float, now: float, *, is_forecast: bool = False) -> float:
    """How far an estimate may move before it is written again: 5 s, or 1% of the time to it
    (36 s for one an hour away); a forecast a minute, or 5%. A reservation is written whenever
    it moves."""
    least_s, share = FORECAST_JITTER if is_forecast else ESTIMATE_JITTER
    return max(least_s, share * (planned_start - now))


def load_usage(path: str, *, half_life_s: int) -> Usage:
    """Fair-share usage saved by an earlier controller, else none (a damaged file is logged and ignored)."""
    try:
        with open(path) as f:
            usage = Usage.from_dict(json.load(f), half_life_s=half_life_s)
    except FileNotFoundError:
        return Usage(half_life_s=half_life_s)
    except (OSError, ValueError) as exc:
        log.warning("fair-share usage ignored path=%s error=%s", path, exc)
        return Usage(half_life_s=half_life_s)
    log.info("fair-share usage loaded path=%s associations=%d", path, len(usage.by_user))
    return usage


class SchedulingLoop:
    def __init__(self, state: ClusterState, *, usage_path: str, clock=time.time):
        """usage_path: where fair-share usage is saved (state.usage was loaded from it: load_usage)."""
        self._state = state
        self._clock = clock
        self._wakeup = state.wakeup
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self.cycle_id = 0
        self._warned: set[tuple[int, int]] = set()   # (job id, run) sent their sbatch --signal warning
        self._t_started = clock()
        self.policy = Policy.from_config(state.config)
        self._usage_path = usage_path
        self._t_usage_saved = clock()
        self._collector = Collector()
        self._views = PendingViews()   # the pending jobs' views, kept across cycles (scheduler thread only)
        self._limited_views: dict[int, tuple[int, LimitedJob]] = {}   # job id -> (its stamp, what limits read)
        self._limits_version = -1
        self._policy_version = -1
        self._t_forecast = float("-inf")   # when the last cycle that forecast the queue ran
        self._forecast_nodes: frozenset[str] = frozenset()   # the nodes it could plan on
        self._preemptions = Preemptions(state, warned=self._warned, limited=self._limited, clock=clock)
        suspension.restore(state)   # (the jobs' allocations were made again before: see suspension.restore)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        self._thread.join(timeout=10)
        self.save_usage()

    def save_usage(self) -> None:
        """Write fair-share usage to the state directory (atomically), so a restart keeps it."""
        with self._state.lock:
            data = self._state.usage.as_dict()
        try:
            with open(self._usage_path + ".tmp", "w") as f:
                json.dump(data, f)
            os.replace(self._usage_path + ".tmp", self._usage_path)
        except OSError as exc:
            log.warning("fair-share usage not saved path=%s error=%s", self._usage_path, exc)
        self._t_usage_saved = self._clock()

    def wake(self) -> None:
        self._wakeup.set()

    def _run(self) -> None:
        interval = self._state.config.scheduler.interval_s
        min_gap = self._state.config.scheduler.min_gap_s
        while not self._stopping.is_set():
            self._wait_for_work(interval)
            self._wakeup.clear()
            if self._stopping.is_set():
                return
            t0 = time.monotonic()
            try:
                self.run_cycle()
                self._preemptions.send_due_kills()
                self.check_nodes()
                signals.send_due_warnings(self._state, now=self._clock(), sent=self._warned)
            except Exception:  # the loop must survive a bad cycle; the traceback says why
                log.exception("scheduling cycle failed cycle=%d", self.cycle_id)
            self._collector.settle()   # what a cycle made and kept leaves the collector's sight
            # A burst of submits and job ends is planned in fewer, larger cycles; the first
            # event after a quiet spell is still planned at once. A cycle that took long (a
            # queue of 100,000) rests CYCLE_REST_FACTOR times as long: the loop never takes
            # more than its share of the controller's CPU from the requests it serves.
            self._settle_while_waiting(self._stopping, max(min_gap, CYCLE_REST_FACTOR * (time.monotonic() - t0)))

    def _wait_for_work(self, interval_s: float) -> None:
        """Until woken, or `interval_s` passed."""
        self._settle_while_waiting(self._wakeup, interval_s)

    def _settle_while_waiting(self, event: threading.Event, timeout_s: float) -> None:
        """Until `event` is set, or `timeout_s` passed. Meanwhile the collector settles every
        SETTLE_EVERY_S: in the controller it is the only garbage collection (collector.take_over),
        and requests that do not wake the loop (listings) still make garbage."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or event.wait(min(left, SETTLE_EVERY_S)):
                return
            self._collector.settle()

    def run_cycle(self) -> Decisions:
        state = self._state
        t0 = time.perf_counter()
        now = self._clock()
        self.cycle_id += 1
        launches: dict[str, list[Launch]] = defaultdict(list)
        addresses: dict[str, str] = {}
        if state.nodes.resume_owed:   # (read without the lock: an addition missed now is seen next cycle)
            with state.lock:
                resumes = suspension.resume_owed(state, now=now)
            suspension.send(state, resumes)
        with state.lock:
            t_locked = time.perf_counter()
            live = state.jobs.live()
            state.usage.advance(int(now), [
                (j.spec.account, j.user, j.shape.per_node.cpus * len(j.nodes), int(j.start_time or now), None)
                for j in live if j.state is JobState.RUNNING])
            resolve_dependencies(state, now=now)
            split_tasks(state, now=now)
            crontab.recur(state, now=now)   # (ended runs of scrontab's jobs back to the queue, deferred below)
            for job_id in state.jobs.begin(now):
                job = state.jobs.find(job_id)
                job.reason, job.planned_start = JobReason.BEGIN_TIME, None
            # Held jobs, jobs with an unmet dependency or a begin time to come and an array's
            # record standing for tasks still to split off are not the scheduler's to plan.
            candidate_ids = state.jobs.schedulable_ids()
            if not candidate_ids:
                return Decisions()
            extra_time_s, own_shares = suspension.planning_times(state, live, now=now)
            cluster = take_snapshot([], state.nodes.all(), state.partitions, running_jobs=live,
                                    usage=state.usage.by_user,
                                    requeue_by_default=state.config.cluster.requeue_on_node_failure,
                                    extra_time_s=extra_time_s, own_shares=own_shares,
                                    ends_by=self._kill_deadlines(live))
            share_users = state.jobs.share_users()
            snapshot_ms = (time.perf_counter() - t_locked) * 1000
        # The candidates in id order, found without the lock (with 100,000 of them, ~10 ms that
        # every request would otherwise wait for): a job that left meanwhile is skipped, and
        # one that changed is checked again below before it starts.
        candidates = [job for job in state.jobs.find_all(bulk.sorted_ints(candidate_ids)) if job is not None]
        # What grows with the queue is done without the lock, so that submissions, heartbeats and
        # listings go on meanwhile: the jobs' views, the plan. Each decision is checked again
        # against live state under the lock below.
        quota = RunningQuota(live, state.config.limits, operators=set(state.config.admin_levels()))
        table = state.accounting_table   # (one version for the whole cycle)
        ledger = self._ledger(table, live, now)
        pending, held_back = [], []   # (held back: (job id, reason, forecast start) over a quota or limit)
        if quota.is_unlimited and ledger is None:
            pending = candidates
        else:
            # The limits the planner holds over time (GrpTRES, GrpJobs, MaxJobs, MaxTRESPerUser)
            # are planned: such a job waits with its reason and an estimate. The others (a job
            # over MaxWall or MaxTRESPerJob, GrpTRESRunMins) hold a job back here, unplanned.
            quota_held: dict[str, int] = {}   # (per user: its jobs the quota holds so far, for their forecasts)
            for job in candidates:
                if not quota.allows(job):
                    ahead = quota_held[job.user] = quota_held.get(job.user, -1) + 1
                    freed_at = quota.freed_at(job, ahead=ahead)   # (a forecast: the jobs it waits for end then)
                    held_back.append((job.job_id, JobReason.ASSOC_MAX_JOBS_LIMIT,
                                      None if freed_at is None else max(float(int(now)), freed_at)))
                elif ledger is not None and \
                        (rule := ledger.blocking(self._limited(job), skip=PLANNED_KINDS)) is not None:
                    held_back.append((job.job_id, rule.reason, self._run_mins_forecast(ledger, rule, job, now)))
                else:
                    pending.append(job)
        if len(self._limited_views) > 2 * len(candidates) + len(live) + 1024:   # (forget ended jobs)
            keep = {job.job_id for job in candidates} | {job.job_id for job in live}
            self._limited_views = {k: v for k, v in self._limited_views.items() if k in keep}
        if not pending:
            self._hold_back(held_back)
            return Decisions()
        if table.version != self._policy_version:   # (shares and QOS priorities changed)
            self.policy, self._policy_version = self.policy.with_accounting(table), table.version
        limited = {}
        if ledger is not None:
            limited = {job.job_id: self._limited(job) for job in pending}
            limited.update((job.job_id, self._limited(job)) for job in live if job.state is JobState.RUNNING)
        snapshot = dataclasses.replace(cluster, pending=self._views.of(pending), share_users=share_users,
                                       accounting=table, limited=limited, reservations=state.reservation_list)
        t_plan = time.perf_counter()
        # Forecasts every FORECAST_EVERY_S, and at once when nodes came up or went away (a
        # forecast made while agents were still registering would stand for that long).
        up_nodes = frozenset(node.name for node in cluster.nodes if node.is_schedulable)
        forecast = now - self._t_forecast >= FORECAST_EVERY_S or up_nodes != self._forecast_nodes
        decisions = plan_cycle(snapshot, now, policy=self.policy, forecast=forecast)
        if decisions.forecast:   # (a pass that could forecast none, its nodes not up yet: again next cycle)
            self._t_forecast, self._forecast_nodes = now, up_nodes
        plan_ms = (time.perf_counter() - t_plan) * 1000
        changes = []
        with state.lock:
            live = state.jobs.live()
            quota = RunningQuota(live, state.config.limits, operators=set(state.config.admin_levels()))
            ledger = self._ledger(table, live, now)
            for start in decisions.starts:
                job = state.jobs.find(start.job_id)
                if not self._still_valid(job, start.node_names):
                    log.debug("stale decision job_id=%d", start.job_id)
                    continue
                # A reservation made (or changed) since the snapshot: a start planned without it
                # may not run into it (its creation checked only the jobs running then).
                if state.reservation_list is not snapshot.reservations and enters_reservation(
                        state.reservation_list, job, start.node_names, now, drawn_into=start.reservation):
                    log.debug("start into a new reservation job_id=%d", start.job_id)
                    continue
                # Earlier starts in this cycle may have used what a quota or limit allows.
                if not quota.allows(job):
                    job.reason = JobReason.ASSOC_MAX_JOBS_LIMIT
                    continue
                if ledger is not None:
                    limited = self._limited(job)
                    if (rule := ledger.blocking(limited)) is not None:
                        job.reason, job.planned_start = rule.reason, None
                        continue
                    ledger.take(limited)
                quota.take(job)
                changes.append(lifecycle.start_job(job, start.node_names, state.nodes, now))
                end_by_reservation(state, job, now, drawn_into=start.reservation)
                log.debug("start job_id=%d kind=%s nodes=%s", job.job_id, start.kind.value, ",".join(start.node_names))
                first = state.nodes.get(start.node_names[0])
                launches[first.name].append(self._launch_of(job))
                addresses[first.name] = first.agent_address
            self._hold_back(held_back)
            acts = self._preemptions.act(decisions.preemptions, changes, now, quota=quota, ledger=ledger)
            for job in acts.started:   # (preemptors started on the share of the jobs they suspended)
                first = state.nodes.get(job.nodes[0])
                launches[first.name].append(self._launch_of(job))
                addresses[first.name] = first.agent_address
            state.commit(changes)
        t_record = time.perf_counter()
        n_recorded = self._record_waiting(pending, decisions)
        record_ms = (time.perf_counter() - t_record) * 1000
        suspension.send(state, acts.suspends)   # (frozen before their preemptors launch on their CPUs)
        for node_name, node_launches in launches.items():
            state.agents.launch(node_name, addresses[node_name], node_launches, on_error=self._on_launch_error)
        self._preemptions.send(acts)
        cycle_ms = (time.perf_counter() - t0) * 1000
        state.instruments.cycle_seconds.observe(cycle_ms / 1000)
        state.stats.cycle(elapsed_us=int(cycle_ms * 1000), depth=len(decisions.planned_starts) + len(changes),
                          queue_len=len(pending), n_nodes=len(cluster.nodes), n_backfilled=decisions.n_backfilled)
        log.info("cycle cycle=%d policy=%s pending=%d started=%d backfilled=%d planned=%d snapshot_ms=%.2f "
                 "plan_ms=%.2f record_ms=%.2f recorded=%d cycle_ms=%.2f", self.cycle_id, self.policy.name, len(pending),
                 len(changes), decisions.n_backfilled, len(decisions.planned_starts), snapshot_ms, plan_ms, record_ms,
                 n_recorded, cycle_ms)
        return decisions

    def _kill_deadlines(self, live: list[Job]) -> dict[int, float]:
        """When each job being killed is gone at the latest: SIGKILL after the kill wait, or its
        QOS's GraceTime (a preemption's). Lock held."""
        if not any(job.kill_cause is not None for job in live):
            return {}
        table, kill_wait_s = self._state.accounting_table, self._state.config.scheduler.kill_wait_s
        deadlines = {}
        for job in live:
            if job.kill_cause is not None and job.kill_time is not None:
                qos = table.qos.get(job.spec.qos or "normal")
                grace_s = qos.grace_time_s if qos is not None else 0
                deadlines[job.job_id] = job.kill_time + max(kill_wait_s, grace_s)
        return deadlines

    def _hold_back(self, held_back: list[tuple[int, JobReason, float | None]]) -> None:
        """Jobs over their user's running-job quota (AssocMaxJobsLimit) or an association or QOS
        limit: that reason, and no planned start but a forecast where one is known (they hold no
        reservation meanwhile)."""
        if not held_back:
            return
        with self._state.lock:
            for job_id, reason, forecast in held_back:
                job = self._state.jobs.find(job_id)
                if job is not None and job.is_pending and not job.held_by and \
                        (job.reason is not reason or job.planned_start != forecast):
                    if job.reason is JobReason.REQ_NODE_NOT_AVAIL:
                        job.reason_detail = ""
                    job.reason, job.planned_start, job.planned_nodes = reason, forecast, ()
                    job.planned_start_is_estimate = job.planned_start_is_forecast = forecast is not None

    def _run_mins_forecast(self, ledger: Ledger, rule, job: Job, now: float) -> float | None:
        """A job a GrpTRESRunMins limit holds (the planner does not hold that limit: what a
        running job holds of it falls as it runs) starts, at the soonest, when its holder's
        running jobs have used enough of it: a forecast. None for any other limit (those hold it
        for good: MaxWall, MaxTRESPerJob) or when it never fits."""
        limited = self._limited(job)
        if rule.kind != "run_mins" or ledger.blocking(limited, skip=PLANNED_KINDS | {"run_mins"}) is not None:
            return None
        wait_s = ledger.run_mins_wait_s(rule, limited)
        return None if wait_s is None else float(int(now) + wait_s)

    def _ledger(self, table: AccountingTable, live: list[Job], now: float) -> Ledger | None:
        """What the running jobs hold of each association's and QOS' limits (None: no limit is set,
        or the cluster does not enforce them)."""
        if not table.has_limits or not self._state.config.accounting.enforces("limits"):
            return None
        if table.version != self._limits_version:   # (a job's view depends on the table too)
            self._limited_views.clear()
            self._limits_version = table.version
        return Ledger(table, [(self._limited(j), self._time_left_s(j, now))
                              for j in live if j.state is JobState.RUNNING])

    def _time_left_s(self, job: Job, now: float) -> int | None:
        """Seconds until the job's time limit ends it (None: never), its suspended time added."""
        if job.time_limit_s is None:
            return None
        extra = suspension.extra_time_s(self._state, job, now=now) if job.job_id in self._state.nodes.suspensions \
            else 0
        return None if extra is None else int((job.start_time or now) + job.time_limit_s + extra - now)

    def _limited(self, job: Job) -> LimitedJob:
        """What limits read of `job`, kept while the job does not change."""
        stamp = job.change_stamp
        cached = self._limited_views.get(job.job_id)
        if cached is None or cached[0] != stamp:
            partition = self._state.partition(job.spec.partition)
            view = limited_job(job.spec, job.user, job.shape, job.time_limit_s,
                               partition if partition is not None else _NO_PARTITION)
            cached = self._limited_views[job.job_id] = (stamp, view)
        return cached[1]

    def _record_waiting(self, planned_jobs: list[Job], decisions: Decisions) -> int:
        """Reasons and planned starts of the jobs left pending, and multifactor priorities. Taken in
        chunks of RECORD_CHUNK jobs, each under the lock and none for long, with a pause between
        them in which the requests that waited for the lock take it (a thread that releases a lock
        and takes it again at once would keep it from them). Returns how many jobs changed."""
        reasons, planned, priorities = decisions.reasons, decisions.planned_starts, decisions.priorities
        details, estimated, forecast = decisions.reason_details, decisions.estimated, decisions.forecast
        planned_nodes_of = decisions.planned_nodes
        now = self._clock()
        n_changed = 0
        for first in range(0, len(planned_jobs), RECORD_CHUNK):
            chunk = planned_jobs[first:first + RECORD_CHUNK]
            with self._state.lock:
                stamps = [job.change_stamp for job in chunk]
                for job in chunk:
                    job_id = job.job_id
                    reason = reasons.get(job_id)   # (none for a job started)
                    if reason is None or job.state is not JobState.PENDING or job.held_by:   # (held meanwhile)
                        continue
                    # Set only what changed: a set field marks the job changed for listings
                    # (jem.model.job.ChangeStamped), and most jobs keep their values cycle to cycle.
                    detail = details.get(job_id)
                    if detail is not None or job.reason is JobReason.REQ_NODE_NOT_AVAIL:
                        if job.reason_detail != (detail or ""):   # (the nodes ReqNodeNotAvail names)
                            job.reason_detail = detail or ""
                    if job.reason is not reason:
                        job.reason = reason
                    if priorities:
                        priority = priorities.get(job_id, job.priority)
                        if job.priority != priority:
                            job.priority = priority
                    planned_start, is_estimate, is_forecast = planned.get(job_id), job_id in estimated, job_id in forecast
                    if planned_start is None and job.planned_start_is_forecast and not decisions.forecasts_made:
                        continue   # (a cycle that forecast nothing: it keeps the last forecast)
                    planned_nodes = planned_nodes_of.get(job_id, ())
                    if planned_start == job.planned_start and is_estimate == job.planned_start_is_estimate \
                            and is_forecast == job.planned_start_is_forecast and planned_nodes == job.planned_nodes:
                        continue   # (the common case: as last cycle)
                    self._record_planned_start(job, planned_start, is_estimate, is_forecast, planned_nodes, now)
                n_changed += sum(job.change_stamp != stamp for job, stamp in zip(chunk, stamps))
            time.sleep(0)
        return n_changed

    @staticmethod
    def _record_planned_start(job: Job, planned_start: float | None, is_estimate: bool, is_forecast: bool,
                              planned_nodes: tuple[str, ...], now: float) -> None:
        """Write a job's new planned start, kind and nodes. An estimate that moved by less than
        its jitter is kept, with its kind and nodes: with every waiting job estimated, many move
        by seconds each cycle, and those near the estimates' time budget go from estimate to
        forecast and back as the budget reaches further or not; rewriting them would mark
        thousands of jobs changed for listings each cycle. Lock held."""
        keep = (is_estimate and job.planned_start_is_estimate and planned_start is not None
                and job.planned_start is not None
                and abs(planned_start - job.planned_start) < estimate_jitter_s(
                    job.planned_start, now, is_forecast=is_forecast or job.planned_start_is_forecast))
        if job.planned_start_is_estimate != is_estimate:
            job.planned_start_is_estimate = is_estimate
        if keep:
            return
        if job.planned_start_is_forecast != is_forecast:
            job.planned_start_is_forecast = is_forecast
        if job.planned_start != planned_start:
            job.planned_start = planned_start
        if job.planned_nodes != planned_nodes:
            job.planned_nodes = planned_nodes

    def _still_valid(self, job: Job | None, node_names: tuple[str, ...]) -> bool:
        if job is None or job.state is not JobState.PENDING or job.held_by or job.dependency:
            return False
        partition = self._state.partition(job.spec.partition)   # (an update may have moved it)
        for name in node_names:
            node = self._state.nodes.get(name)
            if partition is None or not partition.has_node(name):
                return False
            if not node.is_schedulable or not job.shape.per_node.fits_in(node.free):
                return False
            if job.spec.exclusive and node.job_ids:
                return False
            if any(count > node.gres_free(name) for name, count in job.spec.gres_per_node):
                return False
        return True

    def _launch_of(self, job: Job) -> Launch:
        return Launch(
            job_id=job.job_id, spec=job.spec, user=job.user, uid=job.uid, gid=job.gid, nodes=job.nodes,
            alloc=job.shape.per_node, n_tasks=job.shape.n_tasks, time_limit_s=job.time_limit_s,
            kill_wait_s=self._state.config.scheduler.kill_wait_s, submit_dir=job.spec.working_dir,
            cluster_name=self._state.config.cluster.name,
            cpu_ids=job.cpu_ids[0] if job.cpu_ids else (), gpu_ids=job.gpu_ids[0] if job.gpu_ids else (),
            array_job_id=job.array_job_id, array_task_id=job.array_task_id, restart_count=job.restart_count,
            user_signature=job.user_signature,
        )

    def check_nodes(self) -> None:
        """Take silent nodes DOWN (no new work; their jobs stay RUNNING until the node confirms
        they are gone, see reports.py); declare nodes silent for node_dead_timeout_s
        dead (counted from controller start for nodes not heard from since) and settle their
        jobs; forget old ended jobs. Silence is never the controller's own: a pause of the
        controller of more than a heartbeat interval restarts every node's count (nodes.py)."""
        state = self._state
        scheduler = state.config.scheduler
        with state.lock:
            now = self._clock()   # under the lock: a wait for it is the controller's stall, not the nodes'
            state.nodes.mark_unresponsive(now=now, timeout_s=scheduler.node_timeout_s,
                                          stall_s=scheduler.heartbeat_interval_s)
            dead = state.nodes.dead(now=now, timeout_s=scheduler.node_dead_timeout_s,
                                    since=self._t_started)
            kills = settle_dead_nodes(state, dead, now=now, why="node not responding") if dead else []
            state.jobs.forget_ended(ended_before=now - scheduler.min_job_age_s)
            if state.reservations is not None:
                state.reservations.forget_ended(now)
        send_kills(state, kills)
        if dead:
            self.wake()
        if now - self._t_usage_saved >= defaults.USAGE_SAVE_INTERVAL_S:
            self.save_usage()

    def _on_launch_error(self, node_name: str, address: str, job_ids: list[int], why: str) -> None:
        """A launch RPC failed: take the node DOWN now, so that nothing more is sent
        there. The jobs stay as they are: the agent may have started them before the
        connection broke. If it comes back, reconciliation on registration finds which
        it runs (the rest are lost: requeued or NODE_FAIL); if not, they are settled
        once the node is declared dead (node_dead_timeout_s). Either way no job runs twice."""
        with self._state.lock:
            self._state.nodes.mark_unreachable(node_name, address=address, why=why)
