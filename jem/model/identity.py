"""Who is asking: the identity that travels with every request."""

import os
import pwd
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller as the controller's authenticator established it."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...] = field(default=())

    @property
    def is_root(self) -> bool:
        """True for the superuser, who may act on every job and node."""
        return self.uid == 0

    def may_act_on(self, owner_uid: int) -> bool:
        """True when this caller may cancel, hold or update a job owned by `owner_uid`."""
        return self.is_root or self.uid == owner_uid


def local_identity() -> Identity:
    """The identity of this process: its real uid, gid, user name and groups."""
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return Identity(user=user, uid=uid, gid=gid, groups=tuple(os.getgroups()))
