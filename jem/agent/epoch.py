"""The node's epoch: a number that grows each time the agent registers with the
controller, and half of the fencing token of every launch (with the job's run).

The controller stamps each launch with the epoch of the node's latest
registration. An agent that registers again lists what it holds and moves to a
new epoch in one step (`RunningJobs.begin_registration`), so a launch sent
before that registration (and perhaps settled by it: the controller requeued a
job the list did not hold) is refused. The number is kept in the spool's
root-only `private/epoch`, so it keeps growing across agent restarts.
"""

from jem.agent.spool import Spool

EPOCH_FILE = "epoch"


def next_epoch(spool: Spool) -> int:
    """One more than the last epoch this node used, now recorded as used."""
    record = spool.read_private_record(EPOCH_FILE) or {}
    last = record.get("epoch", 0)
    epoch = (last if isinstance(last, int) else 0) + 1
    spool.write_private_record(EPOCH_FILE, {"epoch": epoch})
    return epoch
