"""Everything the controller's operations share, behind one lock.

Invariant: `lock` is held while reading or changing `jobs` or `nodes`; RPCs
to agents are sent after it is released.
"""

import threading
from dataclasses import dataclass, field
from typing import Callable

from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.jobtable import JobTable
from jem.controller.nodes import NodeTable
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.config import Config
from jem.model.partition import Partition
from jem.scheduler.fairshare import Usage
from jem.store import Store


@dataclass
class ClusterState:
    config: Config
    store: Store
    jobs: JobTable
    nodes: NodeTable
    bus: EventBus
    agents: AgentLinks
    keys: ControllerKeys | None = None   # the controller's signing key (jem token, credentials)
    lock: threading.RLock = field(default_factory=threading.RLock)
    wake_scheduler: Callable[[], None] = lambda: None
    usage: Usage | None = None    # fair-share usage, charged by the scheduling loop (under `lock`)
    steps: StepTable | None = None   # the running job steps (set by the controller)

    @property
    def partitions(self) -> tuple[Partition, ...]:
        return self.config.partitions

    def partition(self, name: str) -> Partition | None:
        for partition in self.config.partitions:
            if partition.name == name:
                return partition
        return None

    def partition_names_of(self, node_name: str) -> list[str]:
        return [p.name for p in self.config.partitions if p.has_node(node_name)]

    def assert_locked(self) -> None:
        assert self.lock._is_owned(), "controller lock must be held"  # type: ignore[attr-defined]
