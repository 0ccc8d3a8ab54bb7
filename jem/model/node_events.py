"""A node's time out of service, as Slurm's accounting keeps it (slurmdbd's event table,
`sacctmgr show event`): from when an administrator or a failing health check drained the
node or took it DOWN to when it was resumed, with its CPUs then. Usage reports count it as
Down time (jem.model.utilization).

One event per node is open at a time: a change of its state or reason while it is out of
service ends that event and opens the next one, as slurmdbd does.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeEvent:
    node: str
    state: str                     # "DOWN", "DRAIN" or "DOWN+DRAIN"
    reason: str
    cpus: int
    time_start: float              # epoch seconds
    time_end: float | None = None  # None: the node is still out of service

    def span(self, *, now: float) -> tuple[int, int]:
        """The whole-second span it covers, up to `now` while it is open."""
        return int(self.time_start), int(self.time_end if self.time_end is not None else now)


def event_state(*, is_drained: bool, is_down: bool) -> str:
    """The event state of a node drained and/or DOWN ("" when it is neither: in service)."""
    return "+".join(name for name, flag in (("DOWN", is_down), ("DRAIN", is_drained)) if flag)
