"""One association of the fair-share tree as `jem shares` (like sshare) shows it.

Shares are whole numbers; usage is decayed CPU-seconds; normalized shares,
effective usage, level fairshare and the factor are floats (scores, never
resource amounts). The factor is NaN for an account (only users have one).
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One account (`user` == "") or user association, `depth` levels below root."""

    account: str
    user: str
    depth: int
    raw_shares: int
    norm_shares: float
    raw_usage: float
    effective_usage: float
    level_fs: float          # Fair Tree's Level Fairshare (inf without usage)
    factor: float            # the fair-share factor in [0, 1]; NaN for an account
