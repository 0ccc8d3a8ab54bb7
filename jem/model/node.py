"""A compute node as the controller sees it, and its sinfo state.

Resources are integers (CPUs, MiB, GPUs); times are epoch seconds.
"""

import enum
from dataclasses import dataclass, field

import hostlist

from jem.model.resources import Resources


class NodeState(enum.Enum):
    """A node's state, named as Slurm's sinfo names it."""

    IDLE = "IDLE"
    MIXED = "MIXED"
    ALLOCATED = "ALLOCATED"
    DRAINING = "DRAINING"
    DRAINED = "DRAINED"
    DOWN = "DOWN"


@dataclass(slots=True)
class Node:
    """One node: what it offers, what is allocated, and whether it may run jobs."""

    name: str
    capacity: Resources
    allocated: Resources = field(default_factory=Resources)
    is_responding: bool = False      # registered and heartbeating
    is_drained: bool = False         # an administrator drained it (kept across restarts)
    is_down: bool = False            # an administrator took it DOWN (kept across restarts, until resumed)
    reason: str = ""                 # why drained or down
    agent_address: str = ""
    last_heartbeat: float = 0.0
    boot_id: str = ""
    cgroup_mode: str = ""
    gpu_isolation: str = ""          # "devices", "ebpf" or "none": as the agent reports it
    job_ids: set[int] = field(default_factory=set)
    cpu_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)   # job id -> the CPU indices it holds
    gpu_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)   # job id -> the GPU indices it holds
    # Features, the GPUs' type and further countable resources (GRES), from the configuration.
    features: tuple[str, ...] = ()
    gpu_type: str = ""               # its GPUs' type (gres.conf Type=); "": untyped
    gres: dict[str, int] = field(default_factory=dict)             # name -> count the node has
    gres_allocated: dict[str, int] = field(default_factory=dict)   # name -> count running jobs hold
    held: dict[int, Resources] = field(default_factory=dict)       # job id -> what it holds (exclusive: all)

    @property
    def state(self) -> NodeState:
        """The state sinfo shows, derived from responsiveness, an administrator's DOWN,
        drain and allocation."""
        if not self.is_responding or self.is_down:
            return NodeState.DOWN
        if self.is_drained:
            return NodeState.DRAINING if self.job_ids else NodeState.DRAINED
        if self.allocated.cpus >= self.capacity.cpus and self.capacity.cpus > 0:
            return NodeState.ALLOCATED
        if self.job_ids:
            return NodeState.MIXED
        return NodeState.IDLE

    @property
    def is_schedulable(self) -> bool:
        """True when new jobs may start here."""
        return self.is_responding and not self.is_drained and not self.is_down

    @property
    def free(self) -> Resources:
        return self.capacity - self.allocated

    def gres_free(self, name: str) -> int:
        return self.gres.get(name, 0) - self.gres_allocated.get(name, 0)

    def take_ids(self, job_id: int, n_cpus: int, n_gpus: int, *, cpu_ids: tuple[int, ...] = (),
                 gpu_ids: tuple[int, ...] = ()) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Give `job_id` concrete CPU and GPU indices: the ones given (a restart
        re-deriving its allocation), else the lowest free ones."""
        if not cpu_ids:
            held = {i for ids in self.cpu_ids.values() for i in ids}
            cpu_ids = tuple(i for i in range(self.capacity.cpus) if i not in held)[:n_cpus]
        if not gpu_ids:
            held = {i for ids in self.gpu_ids.values() for i in ids}
            gpu_ids = tuple(i for i in range(self.capacity.gpus) if i not in held)[:n_gpus]
        self.cpu_ids[job_id], self.gpu_ids[job_id] = cpu_ids, gpu_ids
        return cpu_ids, gpu_ids


def node_list(names) -> str:
    """Node names in Slurm's compact form: n[1-3,5]."""
    return hostlist.collect_hostlist(list(names))
