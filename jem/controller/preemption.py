"""Acting on the preemptions a cycle planned (jem.scheduler.preemption chooses the victims).

Each preemptor's victims are checked against live state first (under the controller's lock):

- PreemptMode SUSPEND: the victims are suspended and the preemptor starts at once on their
  share (jem.controller.suspension.suspend_for), if it still may (quota, limits);
- CANCEL or REQUEUE: each victim still running is killed, cause PREEMPT (it ends PREEMPTED)
  or REQUEUE when its mode is REQUEUE and it may be requeued (then it is eligible again only
  after Slurm's requeue delay, so that its preemptor, not itself, gets the nodes it leaves).
  GraceTime: SIGTERM now, SIGKILL at its end. With `preempt_send_user_signal` (Slurm's
  PreemptParameters=send_user_signal) a victim with sbatch --signal gets that signal in place
  of the SIGTERM, so that it learns it is preempted, not timed out.

What to send is collected in PreemptionActs and sent once the changes are committed and the
lock released.
"""

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from jem.controller import lifecycle, signals, suspension
from jem.controller.fairuse import RunningQuota
from jem.controller.reservations import end_by_reservation
from jem.controller.state import ClusterState
from jem.model import defaults
from jem.model.associations import PreemptMode
from jem.model.execution import SignalScope
from jem.model.job import Job
from jem.model.states import JobEvent, JobState
from jem.scheduler.limits import Ledger, LimitedJob
from jem.scheduler.preemption import Preemption

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PreemptionActs:
    """What a cycle's preemptions send once committed: the victims' suspend orders (before their
    preemptors launch), the preemptors started, the victims' --signal warnings, then their kills."""

    suspends: list = field(default_factory=list)   # suspension.Order
    started: list = field(default_factory=list)    # preemptors started on lent resources (Job)
    warnings: list = field(default_factory=list)   # ((job id, run), signal, scope, targets)
    kills: list = field(default_factory=list)      # (node, address, job id, run, seconds to SIGKILL)


class Preemptions:
    """The scheduling loop's hand for preemptions (scheduler thread only)."""

    def __init__(self, state: ClusterState, *, warned: set[tuple[int, int]],
                 limited: Callable[[Job], LimitedJob], clock):
        """`warned`: the (job id, run) already sent their --signal (shared with the loop's
        warnings); `limited`: what limits read of a job."""
        self._state, self._warned, self._limited, self._clock = state, warned, limited, clock
        self._due_kills: list[tuple] = []   # kills put off by a --signal sent in place of their SIGTERM

    def act(self, preemptions: list[Preemption], changes: list, now: float, *, quota: RunningQuota,
            ledger: Ledger | None) -> PreemptionActs:
        """Act on each preemptor's victims (see the module docstring). Lock held; appends to
        `changes`; returns what to send once they are committed."""
        acts = PreemptionActs()
        by_preemptor: dict[int, list[Preemption]] = {}
        for preemption in preemptions:
            by_preemptor.setdefault(preemption.preemptor_id, []).append(preemption)
        for preemptor_id, group in by_preemptor.items():
            preemptor = self._state.jobs.find(preemptor_id)
            if preemptor is None or preemptor.state is not JobState.PENDING or preemptor.held_by:
                continue   # (it left, started or was held meanwhile: nobody is pushed off for it)
            if group[0].mode is PreemptMode.SUSPEND:
                self._suspend_for(preemptor, group, changes=changes, now=now, quota=quota, ledger=ledger, acts=acts)
            else:
                for preemption in group:
                    self._kill_for(preemption, changes=changes, now=now, acts=acts)
        return acts

    def send(self, acts: PreemptionActs) -> None:
        """The victims' --signal (send_user_signal), then their kills (lock not held)."""
        state = self._state
        for (job_id, run), signum, scope, targets in acts.warnings:
            log.info("preemption signal job_id=%d signal=%d scope=%s", job_id, signum, scope.value)
            signals.send(state, job_id, targets, signal=signum, scope=scope, run=run)
        for node_name, address, job_id, run, wait_s in acts.kills:   # (SIGTERM now, SIGKILL after the grace)
            state.agents.signal(node_name, address, job_id, signal=0, kill_wait_s=wait_s, restart_count=run,
                                cause=JobEvent.PREEMPT)

    def send_due_kills(self) -> None:
        """Preemption kills whose GraceTime, begun by the victim's --signal, is over."""
        if not self._due_kills:
            return
        now = self._clock()
        due = [kill for t, kill in self._due_kills if t <= now]
        self._due_kills = [(t, kill) for t, kill in self._due_kills if t > now]
        self.send(PreemptionActs(kills=due))

    def _suspend_for(self, preemptor: Job, group: list[Preemption], *, changes: list, now: float,
                     quota: RunningQuota, ledger: Ledger | None, acts: PreemptionActs) -> None:
        """PreemptMode SUSPEND: the preemptor starts now on its victims' share, if it still may."""
        state = self._state
        if not quota.allows(preemptor):
            return
        limited = self._limited(preemptor) if ledger is not None else None
        if ledger is not None and ledger.blocking(limited) is not None:
            return
        victims = [state.jobs.find(p.victim_id) for p in group]
        if any(v is None for v in victims):
            return
        orders = suspension.suspend_for(state, preemptor, victims=victims, node_names=group[0].node_names, now=now,
                                        changes=changes)
        if orders is None:
            log.debug("stale preemption preemptor=%d", preemptor.job_id)
            return
        if ledger is not None:
            ledger.take(limited)
        quota.take(preemptor)
        end_by_reservation(state, preemptor, now)
        acts.suspends += orders
        acts.started.append(preemptor)

    def _kill_for(self, preemption: Preemption, *, changes: list, now: float, acts: PreemptionActs) -> None:
        """PreemptMode CANCEL or REQUEUE: kill the victim (still running, not being killed)."""
        state = self._state
        victim = state.jobs.find(preemption.victim_id)
        if victim is None or victim.state is not JobState.RUNNING or victim.kill_cause is not None:
            return
        requeue = preemption.mode is PreemptMode.REQUEUE and lifecycle.may_requeue(
            victim, cluster_default=state.config.cluster.requeue_on_node_failure)
        if requeue:
            victim.spec = dataclasses.replace(victim.spec, begin_time=now + defaults.PREEMPT_REQUEUE_DELAY_S)
        changes.append(lifecycle.kill_job(victim, JobEvent.REQUEUE if requeue else JobEvent.PREEMPT, now,
                                          detail=f"preempted by job {preemption.preemptor_id}"))
        log.info("preempt job_id=%d by=%d mode=%s grace_s=%d", victim.job_id, preemption.preemptor_id,
                 "requeue" if requeue else "cancel", preemption.grace_time_s)
        node = state.nodes.get(victim.nodes[0])
        if not node.agent_address:
            return
        wait_s = max(preemption.grace_time_s, state.config.scheduler.kill_wait_s)
        kill = (node.name, node.agent_address, victim.job_id, victim.restart_count, wait_s)
        spec, run = victim.spec, (victim.job_id, victim.restart_count)
        if state.config.scheduler.preempt_send_user_signal and spec.warn_signal and run not in self._warned:
            self._warned.add(run)
            scope = SignalScope.BATCH if spec.warn_batch_only else SignalScope.STEPS
            acts.warnings.append((run, spec.warn_signal, scope, signals.signal_targets(state, victim, scope)))
            if preemption.grace_time_s > 0:
                at_grace_end = kill[:4] + (state.config.scheduler.kill_wait_s,)   # (SIGTERM then, SIGKILL later)
                self._due_kills.append((now + preemption.grace_time_s, at_grace_end))
                return
        acts.kills.append(kill)
