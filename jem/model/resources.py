"""The countable resources a node offers and a job requests, as matrix columns.

`Res` fixes the column order of every (n_nodes, n_res) matrix the scheduler
builds; `jem/_core/_types.pxd` mirrors it and a test checks they agree.
All amounts are integers: CPUs in cores, memory in MiB, GPUs in devices.
"""

import enum
import operator
from dataclasses import dataclass


class Res(enum.IntEnum):
    """Column index of each resource in node x resource matrices."""

    CPU = 0
    MEM_MIB = 1
    GPU = 2


N_RES = len(Res)
ROW_FIELDS = ("cpus", "mem_mib", "gpus")   # the Resources field of each Res column, in order


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of each resource (capacity, allocation or request)."""

    cpus: int = 0
    mem_mib: int = 0
    gpus: int = 0

    def as_row(self) -> tuple[int, ...]:
        """The amounts in `Res` column order."""
        return _row(self)

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.cpus + other.cpus, self.mem_mib + other.mem_mib, self.gpus + other.gpus)

    def __sub__(self, other: "Resources") -> "Resources":
        return Resources(self.cpus - other.cpus, self.mem_mib - other.mem_mib, self.gpus - other.gpus)

    def fits_in(self, other: "Resources") -> bool:
        """True when every amount is at most `other`'s."""
        return self.cpus <= other.cpus and self.mem_mib <= other.mem_mib and self.gpus <= other.gpus


_row = operator.attrgetter(*ROW_FIELDS)
