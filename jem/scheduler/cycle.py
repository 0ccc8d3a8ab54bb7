"""One scheduling cycle: eligibility, queue order, and first fit through jem._core.

`plan_cycle(snapshot, now)` is a pure function of its arguments (the clock is
an argument), so the controller and a simulator run the same code.
"""

import numpy as np

from jem._core import fit
from jem.model.reasons import JobReason
from jem.model.resources import N_RES
from jem.scheduler.decisions import Decisions, Start
from jem.scheduler.priority import queue_order_key
from jem.scheduler.snapshot import PendingJob, Snapshot

_FIT_REASON = {fit.RESOURCES: JobReason.RESOURCES, fit.PRIORITY: JobReason.PRIORITY}


def ineligibility(job: PendingJob, snapshot_partitions: dict, now: float) -> JobReason | None:
    """Why `job` may not be considered at all this cycle, or None if it may."""
    if job.held_by == "admin":
        return JobReason.JOB_HELD_ADMIN
    if job.held_by:
        return JobReason.JOB_HELD_USER
    if job.begin_time is not None and job.begin_time > now:
        return JobReason.BEGIN_TIME
    partition = snapshot_partitions.get(job.partition)
    if partition is None or not partition.is_up:
        return JobReason.PARTITION_DOWN
    return None


def plan_cycle(snapshot: Snapshot, now: float) -> Decisions:
    """Decide which pending jobs start now and on which nodes; give every other a reason."""
    decisions = Decisions()
    partitions = {p.name: p for p in snapshot.partitions}
    eligible: list[PendingJob] = []
    for job in snapshot.pending:
        reason = ineligibility(job, partitions, now)
        if reason is None:
            eligible.append(job)
        else:
            decisions.reasons[job.job_id] = reason
    if not eligible:
        return decisions
    eligible.sort(key=lambda j: queue_order_key(j.priority, j.submit_time, j.job_id))

    nodes = snapshot.nodes
    part_names = sorted({j.partition for j in eligible})
    part_row = {name: row for row, name in enumerate(part_names)}
    free = np.zeros((len(nodes), N_RES), dtype=np.int64)  # (n_nodes, n_res)
    usable = np.zeros(len(nodes), dtype=np.uint8)          # (n_nodes,)
    membership = np.zeros((len(part_names), len(nodes)), dtype=np.uint8)  # (n_parts, n_nodes)
    for node_idx, node in enumerate(nodes):
        free[node_idx] = (node.capacity - node.allocated).as_row()
        usable[node_idx] = node.is_schedulable
        for name, row in part_row.items():
            membership[row, node_idx] = partitions[name].has_node(node.name)
    requests = np.array([j.per_node.as_row() for j in eligible], dtype=np.int64).reshape(len(eligible), N_RES)
    n_nodes_req = np.array([j.n_nodes for j in eligible], dtype=np.int64)
    part_idx = np.array([part_row[j.partition] for j in eligible], dtype=np.intp)

    status, offsets, assigned = fit.first_fit(free, usable, membership, requests, n_nodes_req, part_idx)
    for job_idx, job in enumerate(eligible):
        if status[job_idx] == fit.STARTED:
            chosen = assigned[offsets[job_idx]:offsets[job_idx + 1]]
            decisions.starts.append(Start(job.job_id, tuple(nodes[i].name for i in chosen)))
        else:
            decisions.reasons[job.job_id] = _FIT_REASON[int(status[job_idx])]
    return decisions
