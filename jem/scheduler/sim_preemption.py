"""Preemption in the simulator: the controller's own rules (jem.scheduler.preemption's
may_preempt, preempt_for with its Room, victim_mode) over views of the one-node machine.

As in the cycle (jem.scheduler.cycle `_preemptions`): after the pass, every job in queue order
that waits (for resources, or behind a blocked job), is not held by a limit, and whose QOS may
push running jobs off gets victims, up to the first waiting job that pushes nobody off (what
that one's reservation covers, the jobs behind it would not get); what one preemptor counts on, a later one does not
(`Room`), and jobs being killed count as gone (a preemptor waiting out its victims' grace time
pushes nobody else off). A job outside every reservation may not count on a reservation's
processors (the cycle's `_reserved_nodes`): the one node holds, for preemption, P processors
less those of the reservations whose windows meet the span of the longest preemptor's time
limit (all of them at once: a bound, as one node cannot tell one job's span from another's).
Candidates are the running jobs outside every reservation; a reservation's jobs do not preempt
(nor do they in the cycle's member pass).

A victim's mode is its QOS's PreemptMode, else the cluster's; REQUEUE becomes CANCEL where the
cluster does not requeue ([cluster] requeue_on_node_failure false, as the controller's
`lifecycle.may_requeue`: a trace job never says --requeue). A preemptor's victims are of one
kind (preempt_for): those it may suspend when suspending them alone makes room now (it then
starts at once on their processors: jem.scheduler.sim_suspension), else those it may kill. A
suspended job is seen suspended (never a victim again while it is), and a preemptor running on
lent processors as holding only its own part, as the controller's snapshot shows them. Not
simulated, and said so in `not_simulated`: preempt_type partition_prio (a trace has one
partition: nothing is preempted).
"""

from collections.abc import Callable, Sequence

from jem.model.associations import AccountingTable, PreemptMode
from jem.model.partition import Partition
from jem.model.resources import Resources
from jem.scheduler.preemption import PreemptPolicy, Preemption, Room, may_preempt, preempt_for
from jem.scheduler.sim_config import SIM_NODE
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot
from jem.scheduler.swf import Trace

SIM_PARTITION = "sim"


class SimPreemption:
    """Which trace jobs may preempt, the views the preemption functions read, and the choice."""

    def __init__(self, trace: Trace, qos: Sequence[str], table: AccountingTable | None, settings: PreemptPolicy, *,
                 requeue_allowed: bool = True):
        self.trace, self.qos, self.table, self.settings = trace, qos, table, settings
        self.requeue_allowed = requeue_allowed
        self.partitions = (Partition(SIM_PARTITION, (SIM_NODE,), is_default=True, has_all_nodes=True),)
        preempting = {name for name, q in (table.qos.items() if table is not None else ()) if q.preempt}
        self.preempts = [settings.preempt_type == "qos" and name in preempting for name in qos]   # (n_jobs,)
        self.is_active = any(self.preempts)
        self.not_simulated = self._not_simulated()

    def _not_simulated(self) -> tuple[str, ...]:
        if self.settings.preempt_type == "partition_prio":
            return ("preempt_type=partition_prio (a trace has one partition: no job is preempted)",)
        return ()

    def pending_view(self, job: int) -> PendingJob:
        tr = self.trace
        return PendingJob(job_id=job, priority=0, submit_time=float(tr.submit_s[job]), partition=SIM_PARTITION,
                          n_nodes=1, per_node=Resources(cpus=int(tr.size[job])), held_by="", begin_time=None,
                          time_limit_s=int(tr.estimate_s[job]), account=f"g{tr.group[job]}", user=f"u{tr.user[job]}",
                          qos=self.qos[job])

    def running_view(self, job: int, start: int, *, cpus: int, is_killed: bool = False,
                     is_suspended: bool = False) -> RunningJob:
        """A running job's view; `cpus`: the processors it holds (a preemptor on lent ones: its own part)."""
        tr = self.trace
        return RunningJob(job_id=job, node_names=(SIM_NODE,), per_node=Resources(cpus=cpus),
                          start_time=float(start), time_limit_s=int(tr.estimate_s[job]), account=f"g{tr.group[job]}",
                          user=f"u{tr.user[job]}", qos=self.qos[job], partition=SIM_PARTITION, is_killed=is_killed,
                          is_requeueable=self.requeue_allowed, is_suspended=is_suspended)

    def snapshot(self, running: Sequence[RunningJob], *, capacity: int = 0, used: int = 0) -> Snapshot:
        node = NodeView(SIM_NODE, Resources(cpus=capacity), Resources(cpus=used), True)
        return Snapshot((node,), self.partitions, (), tuple(running), accounting=self.table)

    def choose(self, blocked: Sequence[int], running: Sequence[RunningJob], *, now: int, used: int,
               capacity: int, is_held: Callable[[int], bool]) -> list[Preemption]:
        """The victims of each of `blocked` (waiting jobs, in queue order) that may preempt and
        finds room by it (a SUSPEND preemptor's start is the caller's: at once). `running`: the
        candidates' views (outside every reservation), `used` the processors they hold,
        `capacity` the processors preemptors may count on, `is_held(job)` whether a limit holds
        the job."""
        snapshot = self.snapshot(running, capacity=capacity, used=used)
        room = Room(snapshot)
        by_qos: dict[str, list[RunningJob]] = {}   # (whom a job may push off depends on its QOS only)
        found: list[Preemption] = []
        for job in blocked:
            if is_held(job):
                continue
            claims = room.n_claims
            if self.preempts[job]:
                pending = self.pending_view(job)
                if pending.qos not in by_qos:
                    by_qos[pending.qos] = [r for r in running if may_preempt(pending, r, snapshot, self.settings, now)]
                candidates = [r for r in by_qos[pending.qos] if r.job_id not in room.taken]
                if candidates or room.dying:
                    found += preempt_for(pending, snapshot, candidates, self.settings, node_ok=lambda node: True,
                                         now=now, room=room, grace_time=self._grace_s)
            if room.n_claims == claims:   # (the cycle's rule: none behind a blocked job that preempts nobody)
                break
        return [p if p.mode is not PreemptMode.REQUEUE or self.requeue_allowed else
                Preemption(p.victim_id, p.preemptor_id, PreemptMode.CANCEL, p.grace_time_s) for p in found]

    def next_exemption_end(self, blocked: Sequence[int], running: Sequence[RunningJob], now: int) -> int | None:
        """The first time after `now` at which a running job's PreemptExemptTime ends and one of
        `blocked` may then preempt it (the controller's next cycle would: the simulator needs an
        instant there), or None."""
        snapshot, times, seen = self.snapshot(running), [], set()
        for job in blocked:
            if not self.preempts[job] or self.qos[job] in seen:
                continue
            seen.add(self.qos[job])   # (whom a job may preempt depends on its QOS only)
            pending = self.pending_view(job)
            for r in running:
                until = int(r.start_time) + self._exempt_s(r)
                if until > now and may_preempt(pending, r, snapshot, self.settings, until):
                    times.append(until)
        return min(times, default=None)

    def _exempt_s(self, victim: RunningJob) -> int:
        # (may_preempt's rule, which answers yes or no: here the time is needed)
        qos = self.table.qos.get(victim.qos) if self.table is not None else None
        if qos is not None and qos.preempt_exempt_time_s is not None:
            return qos.preempt_exempt_time_s
        return self.settings.exempt_time_s

    def _grace_s(self, victim: RunningJob) -> int:
        qos = self.table.qos.get(victim.qos) if self.table is not None else None
        return qos.grace_time_s if qos is not None else 0
