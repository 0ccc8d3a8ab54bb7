"""The controller's user directory: NSS's answer kept for a while, never a failure, refreshed when it expires."""

import pytest

from jem.controller.authn import UserDirectory
from jem.model.errors import Unauthenticated
from jem.model.identity import Identity


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _identity(groups: tuple[int, ...]) -> Identity:
    return Identity(user="alice", uid=1000, gid=1000, groups=groups)


def test_an_answer_is_kept_for_its_time_then_asked_again():
    clock, asked = Clock(), []
    directory = UserDirectory(ttl_s=60.0, clock=clock)

    def resolve():
        asked.append(clock.now)
        return _identity((1000,) if len(asked) == 1 else (1000, 2000))   # added to a group meanwhile

    assert directory.lookup(("uid", 1000, 1000), resolve).groups == (1000,)
    clock.now += 59.0
    assert directory.lookup(("uid", 1000, 1000), resolve).groups == (1000,)
    assert len(asked) == 1
    clock.now += 2.0
    assert directory.lookup(("uid", 1000, 1000), resolve).groups == (1000, 2000)
    assert len(asked) == 2


def test_an_unknown_user_is_never_kept():
    clock, asked = Clock(), []
    directory = UserDirectory(ttl_s=60.0, clock=clock)

    def unknown():
        asked.append(1)
        raise Unauthenticated("uid 4242 is not a user on the controller's host")

    for _ in range(2):
        with pytest.raises(Unauthenticated):
            directory.lookup(("uid", 4242, 4242), unknown)
    assert len(asked) == 2
    assert directory.lookup(("uid", 4242, 4242), lambda: _identity((1000,))).user == "alice"   # created since


def test_keys_are_separate_and_the_directory_stays_bounded():
    clock = Clock()
    directory = UserDirectory(ttl_s=60.0, max_entries=8, clock=clock)
    for uid in range(100):
        directory.lookup(("uid", uid, uid), lambda uid=uid: Identity(user=f"u{uid}", uid=uid, gid=uid, groups=(uid,)))
    assert len(directory._entries) <= 8
    assert directory.lookup(("uid", 99, 99), lambda: pytest.fail("kept")).user == "u99"
    assert directory.lookup(("uid", 7, 8), lambda: _identity((8,))).groups == (8,)   # another gid: another key


def test_a_guess_made_while_nss_failed_is_not_kept():
    clock, asked = Clock(), []
    directory = UserDirectory(ttl_s=60.0, clock=clock)

    def groups_unavailable():
        asked.append(1)
        directory.do_not_keep()
        return _identity((1000,))   # the primary group only, for this request

    directory.lookup(("name", "alice"), groups_unavailable)
    assert directory.lookup(("name", "alice"), lambda: _identity((1000, 2000))).groups == (1000, 2000)
    assert directory.lookup(("name", "alice"), lambda: pytest.fail("kept")).groups == (1000, 2000)
