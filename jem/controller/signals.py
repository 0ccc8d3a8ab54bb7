"""Signals to jobs' processes: which agents get a SignalJob, and the warning signals of
`sbatch --signal` sent before a job's time limit.

A kill (signal 0) goes to the batch script's node, whose agent kills the whole
job there (the job's steps elsewhere are ended by the step relay). A signal goes
where its scope's processes are: the batch shell's node for BATCH, every node of
the job for STEPS and FULL. Callers do not hold the controller lock while sending:
the RPCs are asynchronous and only log their failures.
"""

import logging

from jem.controller.state import ClusterState
from jem.controller.suspension import extra_time_s
from jem.model.execution import SignalScope
from jem.model.job import Job
from jem.model.states import JobState

log = logging.getLogger(__name__)

Target = tuple[str, str]   # (node name, agent address)


def kill_targets(state: ClusterState, job: Job) -> list[Target]:
    """Where a kill goes: the batch script's node (the job's first). Lock held."""
    return _targets(state, job.nodes[:1])


def signal_targets(state: ClusterState, job: Job, scope: SignalScope) -> list[Target]:
    """Where a signal of `scope` goes. Lock held."""
    return _targets(state, job.nodes[:1] if scope is SignalScope.BATCH else job.nodes)


def send(state: ClusterState, job_id: int, targets: list[Target], *, signal: int, run: int,
         scope: SignalScope = SignalScope.FULL) -> None:
    """Send one SignalJob per target (signal 0: kill), for run `run` of the job only: an agent
    that holds another run of it (a later one, after a requeue) is not touched."""
    for node_name, address in targets:
        state.agents.signal(node_name, address, job_id, signal=signal,
                            kill_wait_s=state.config.scheduler.kill_wait_s, scope=scope, restart_count=run)


def send_due_warnings(state: ClusterState, *, now: float, sent: set[tuple[int, int]]) -> int:
    """sbatch --signal: send each running job its warning signal once it is within warn_time_s
    of its time limit (to the batch shell with B:, else to its steps). The limit is the job's
    as it is now: one changed while the job runs (scontrol update TimeLimit=) moves the warning
    with it. `sent` holds the (job id, run) already warned, so each run is warned once, as Slurm's
    WARN_SENT: a limit raised after the warning brings no second one. Returns how many were sent."""
    due, live = [], set()
    with state.lock:
        for job in state.jobs.live():
            live.add((job.job_id, job.restart_count))
            spec = job.spec
            if (not spec.warn_signal or job.state is not JobState.RUNNING or job.time_limit_s is None
                    or job.start_time is None or (job.job_id, job.restart_count) in sent):
                continue
            # (a job suspended a while ends that much later: its agent's clock stopped meanwhile)
            suspended_s = extra_time_s(state, job, now=now) if job.job_id in state.nodes.suspensions else 0
            if now >= job.start_time + job.time_limit_s + (suspended_s or 0) - spec.warn_time_s:
                scope = SignalScope.BATCH if spec.warn_batch_only else SignalScope.STEPS
                sent.add((job.job_id, job.restart_count))
                due.append((job.job_id, job.restart_count, spec.warn_signal, scope,
                            signal_targets(state, job, scope)))
        sent.intersection_update(live)   # forget runs that ended
    for job_id, run, signum, scope, targets in due:
        log.info("warning signal job_id=%d signal=%d scope=%s", job_id, signum, scope.value)
        send(state, job_id, targets, signal=signum, scope=scope, run=run)
    return len(due)


def _targets(state: ClusterState, names: tuple[str, ...]) -> list[Target]:
    nodes = (state.nodes.get(name) for name in names)
    return [(node.name, node.agent_address) for node in nodes if node is not None and node.agent_address]
