"""Who is asking: the identity that travels with every request."""

import enum
import os
import pwd
from dataclasses import dataclass, field


class AdminLevel(enum.IntEnum):
    """Slurm's AdminLevel: what a user may do beyond their own jobs. Operators act on every
    job and node and see everything; administrators also manage the cluster's accounts."""

    NONE = 0
    OPERATOR = 1
    ADMINISTRATOR = 2

    @property
    def label(self) -> str:
        """The name Slurm prints: None, Operator, Administrator."""
        return self.name.capitalize()


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller as the controller's authenticator established it; its admin level is the
    cluster's word for that user (`[[users]]` in jem.toml), never the caller's."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...] = field(default=())
    admin_level: AdminLevel = AdminLevel.NONE

    @property
    def is_root(self) -> bool:
        """True for the superuser, who may do everything."""
        return self.uid == 0

    @property
    def is_operator(self) -> bool:
        """Root, an operator or an administrator: acts on every job and node, sees everything."""
        return self.is_root or self.admin_level >= AdminLevel.OPERATOR

    @property
    def is_administrator(self) -> bool:
        return self.is_root or self.admin_level >= AdminLevel.ADMINISTRATOR

    def may_act_on(self, owner_uid: int) -> bool:
        """True when this caller may cancel, hold or update a job owned by `owner_uid`."""
        return self.is_operator or self.uid == owner_uid


def local_identity() -> Identity:
    """The identity of this process: its real uid, gid, user name and groups."""
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return Identity(user=user, uid=uid, gid=gid, groups=tuple(os.getgroups()))
