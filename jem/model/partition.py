"""A partition: a named set of nodes with time and memory defaults and limits."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition. Times in seconds (None: unlimited); memory in MiB."""

    name: str
    node_names: tuple[str, ...]
    is_default: bool = False
    is_up: bool = True
    max_time_s: int | None = None
    default_time_s: int | None = None        # None: max_time_s
    default_mem_per_cpu_mib: int | None = None  # None: the smallest node's memory per CPU
    priority_tier: int = 1
    has_all_nodes: bool = False              # nodes = "ALL": also nodes that join later
    max_nodes: int | None = None             # nodes one job may have here (None: no limit)
    allow_accounts: tuple[str, ...] = ()     # (): every account
    allow_qos: tuple[str, ...] = ()          # (): every QOS
    allow_groups: tuple[str, ...] = ()       # Unix groups whose members may use it (): everyone
    qos: str = ""                            # the partition QOS, whose limits come before the job's QOS'

    def allows_account(self, account: str) -> bool:
        return not self.allow_accounts or account in self.allow_accounts

    def allows_qos(self, qos: str) -> bool:
        return not self.allow_qos or qos in self.allow_qos

    def has_node(self, name: str) -> bool:
        return self.has_all_nodes or name in self.node_names

    def resolve_time_limit(self, requested_s: int | None, *, is_unlimited: bool) -> int | None:
        """The time limit a job gets here: its own, else the default, else the maximum."""
        if is_unlimited:
            return None
        if requested_s is not None:
            return requested_s
        return self.default_time_s if self.default_time_s is not None else self.max_time_s

    def allows_time_limit(self, limit_s: int | None) -> bool:
        """True when a job's resolved limit fits under the partition's maximum."""
        if self.max_time_s is None:
            return True
        return limit_s is not None and limit_s <= self.max_time_s
