"""Who is calling: the one place the controller learns a caller's identity.

An `Authenticator` turns a request's metadata into an `Identity` or raises
`Unauthenticated`. Nothing the client asserts about itself is believed: the
uid and gid come from a credential a trusted service signed, the user name
and groups from this host's NSS (pwd/grp).

- `jem-token: <JWS>`: a token of a host's credential service (`jem authd`),
  checked for signature (a key in `authd-keys/`), audience `jem-controller`,
  expiry, and used once (`ReplayCache`).
- `authorization: Bearer <JWT>`: a token from `jem token` (audience `jem-api`,
  signed by the controller's key, a user name in `sub`), what portals and
  scripts hold; it may be used until it expires.
"""

import os
import pwd
from typing import Protocol

from jem.model.errors import Unauthenticated
from jem.model.identity import Identity
from jem.security import tokens
from jem.security.keys import PublicKeySet

TOKEN_HEADER = "jem-token"
BEARER_HEADER = "authorization"


class Authenticator(Protocol):
    def authenticate(self, metadata: dict[str, str]) -> Identity:
        """Who the caller is; raises Unauthenticated."""


def identity_of_uid(uid: int, gid: int) -> Identity:
    """The identity of `uid` as this host's NSS knows it; Unauthenticated if it knows none."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        raise Unauthenticated(f"uid {uid} is not a user on the controller's host") from None
    return Identity(user=entry.pw_name, uid=uid, gid=gid, groups=_groups(entry.pw_name, gid))


def identity_of_user(name: str) -> Identity:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise Unauthenticated(f"user {name!r} is not a user on the controller's host") from None
    return Identity(user=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid,
                    groups=_groups(entry.pw_name, entry.pw_gid))


def _groups(name: str, gid: int) -> tuple[int, ...]:
    try:
        return tuple(sorted(set(os.getgrouplist(name, gid))))
    except OSError:
        return (gid,)


class CredentialServiceAuthenticator:
    """Tokens of the hosts' credential services, each accepted once within its lifetime."""

    def __init__(self, keys: PublicKeySet):
        self._keys = keys
        self._replays = tokens.ReplayCache()

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        claims = tokens.verify_claims(metadata[TOKEN_HEADER], self._keys, audience=tokens.AUD_CONTROLLER)
        self._replays.check_and_add(str(claims["jti"]), float(claims["exp"]))
        principal = tokens.principal_of(claims)
        return identity_of_uid(principal.uid, principal.gid)


class ApiTokenAuthenticator:
    """`jem token` JWTs: signed by the controller's key for audience jem-api; `sub` is the user name."""

    def __init__(self, keys: PublicKeySet, *, user_claim: str = "sub"):
        self._keys = keys
        self._user_claim = user_claim

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        scheme, _, token = metadata[BEARER_HEADER].partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
        claims = tokens.verify_claims(token.strip(), self._keys, audience=tokens.AUD_API)
        user = claims.get(self._user_claim)
        if not isinstance(user, str) or not user:
            raise Unauthenticated(f"token carries no {self._user_claim!r} claim")
        return identity_of_user(user)


class Authenticators:
    """The configured authenticators, chosen by which credential a request carries."""

    def __init__(self, by_header: dict[str, Authenticator]):
        self._by_header = by_header

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        for header, authenticator in self._by_header.items():
            if header in metadata:
                return authenticator.authenticate(metadata)
        raise Unauthenticated(f"request carries no credential (one of: {', '.join(self._by_header)})")
