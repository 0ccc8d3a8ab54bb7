"""An immutable view of the cluster for one scheduling cycle.

The controller builds it under its lock from its live tables; the scheduler
reads only this, so a cycle never sees state change under it.
"""

from dataclasses import dataclass

from jem.model.job import Job
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.resources import Resources


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    capacity: Resources
    allocated: Resources
    is_schedulable: bool


@dataclass(frozen=True, slots=True)
class PendingJob:
    job_id: int
    priority: int
    submit_time: float
    partition: str
    n_nodes: int
    per_node: Resources
    held_by: str
    begin_time: float | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: tuple[NodeView, ...]          # in name order: node index = position
    partitions: tuple[Partition, ...]
    pending: tuple[PendingJob, ...]


def take_snapshot(pending_jobs: list[Job], nodes: list[Node], partitions: tuple[Partition, ...]) -> Snapshot:
    """Copy what the scheduler needs out of the controller's live objects."""
    node_views = tuple(
        NodeView(n.name, n.capacity, n.allocated, n.is_schedulable)
        for n in sorted(nodes, key=lambda n: n.name)
    )
    pending = tuple(
        PendingJob(
            job_id=j.job_id, priority=j.priority, submit_time=j.submit_time,
            partition=j.spec.partition, n_nodes=j.shape.n_nodes, per_node=j.shape.per_node,
            held_by=j.held_by, begin_time=j.spec.begin_time,
        )
        for j in pending_jobs
    )
    return Snapshot(nodes=node_views, partitions=partitions, pending=pending)
