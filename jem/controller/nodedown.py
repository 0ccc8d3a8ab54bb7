"""An administrator's DOWN of a node (Slurm's `scontrol update nodename=X state=down
reason=...`): the node leaves service at once, and each of its jobs is ended or
requeued exactly once.

The node stays DOWN with the administrator's reason, stored before anything else
changes, while its agent heartbeats and across controller restarts, until it is
resumed (`NodeTable.down`, `NodeTable.resume`). What becomes of its jobs depends on
whether its agent answers:

- It answers: the jobs are alive there, so each is killed (`reports.kill_for_node_failure`:
  cause REQUEUE where it may be requeued, else NODE_FAIL; the kill goes to the agent of its
  batch script's node) and settled only when that agent confirms the run gone
  (`reports.apply_reports`, `reports.reconcile_node`). A job requeued before then could run
  twice at once.
- It does not answer (DOWN from silence, or its agent failed a call): the administrator
  declares it dead, and its jobs are settled at once (`reports.settle_dead_nodes`), without
  waiting for `[scheduler] node_dead_timeout_s`. That is the administrator's word that its
  processes are gone (powered off, rebooted), as in Slurm.

A job already being killed (cancelled, requeued) is left to that kill, so a second DOWN
changes only the reason. Every job dealt with also has its steps cancelled, so that its
tasks on its other nodes end with it.
"""

import logging

from jem.controller.reports import Kill, kill_for_node_failure, settle_dead_nodes
from jem.controller.state import ClusterState

log = logging.getLogger(__name__)


def down_node(state: ClusterState, name: str, reason: str, *, now: float) -> list[Kill]:
    """Take node `name` DOWN for `reason` and kill or settle its jobs (module docstring).
    Commits; returns the kills for the caller to send once the lock is released
    (`reports.send_kills`). Raises NodeNotFound, or InvalidArgument without a reason.
    Lock held."""
    state.assert_locked()
    node = state.nodes.down(name, reason)
    why = f"node {name} down: {reason}"
    jobs = [j for j in state.jobs.live() if name in j.nodes]
    job_ids = [j.job_id for j in jobs]
    if not node.is_responding:
        kills = settle_dead_nodes(state, {name}, now=now, why=why)
    else:
        changes, kills = [], []
        for job in jobs:
            if job.kill_cause is None:
                change, job_kills = kill_for_node_failure(state, job, now=now, why=why)
                changes.append(change)
                kills += job_kills
        state.commit(changes)
    if job_ids:
        log.warning("jobs of a node taken down node=%s responding=%s job_ids=%s", name, node.is_responding, job_ids)
    for job_id in job_ids:
        state.steps.cancel(job_id)
    return kills
