"""Who is calling: the one place the controller learns a caller's identity.

An `Authenticator` turns a request's metadata into an `Identity` or raises
`Unauthenticated`. Nothing the client asserts about itself is believed: the
uid and gid come from a credential a trusted service signed, the user name
and groups from this host's NSS (pwd/grp).

- `jem-token: <JWS>`: a token of a host's credential service (`jem authd`),
  checked for signature (a key in `authd-keys/`), audience `jem-controller`,
  expiry, and used once (`ReplayCache`, journalled in the state dir so a
  restarted controller still refuses a token its predecessor accepted).
- `authorization: Bearer <JWT>`: a token from `jem token` (audience `jem-api`,
  signed by the controller's key, a user name in `sub`), what portals and
  scripts hold; it may be used until it expires. Or, when `[auth] jwks_file`
  is set, an external issuer's RS256/ES256 JWT: one whose header's `kid` is in
  that JWKS (`jem/security/jwks.py`), for `[auth] jwt_audience` (and from
  `[auth] jwt_issuer` when set), the user named by `[auth] jwt_user_claim`.
  An external token never makes its caller root.
- `jem-munge: <credential>` (with `[auth] method = "munge"`): a MUNGE
  credential, decoded by munged. The uid and gid are munged's answer, the
  credential must be restricted to the controller's uid and carry the payload
  `jem-controller`; munged refuses it expired, replayed, or made with another key.

A user's name and groups are NSS's answer of at most NSS_CACHE_S ago (`UserDirectory`).
"""

import os
import pwd
import threading
import time
from typing import Callable, Protocol

from jem.model.config import AuthConfig
from jem.model.errors import ControllerNotReady, Unauthenticated
from jem.model.identity import Identity
from jem.security import jwks, munge, tokens
from jem.security.keys import PublicKeySet

TOKEN_HEADER = "jem-token"
BEARER_HEADER = "authorization"
MUNGE_HEADER = "jem-munge"
MUNGE_PAYLOAD = tokens.AUD_CONTROLLER.encode()   # what a JEM client's MUNGE credential carries


class Authenticator(Protocol):
    def authenticate(self, metadata: dict[str, str]) -> Identity:
        """Who the caller is; raises Unauthenticated."""


def identity_of_uid(uid: int, gid: int) -> Identity:
    """The identity of `uid` as this host's NSS knows it; Unauthenticated if it knows none."""
    return _directory.lookup(("uid", uid, gid), lambda: _uid_identity(uid, gid))


def identity_of_user(name: str) -> Identity:
    """The identity of the user `name` as this host's NSS knows it; Unauthenticated if it knows none."""
    return _directory.lookup(("name", name), lambda: _named_identity(name))


def _uid_identity(uid: int, gid: int) -> Identity:
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        raise Unauthenticated(f"uid {uid} is not a user on the controller's host") from None
    return Identity(user=entry.pw_name, uid=uid, gid=gid, groups=_groups(entry.pw_name, gid))


def _named_identity(name: str) -> Identity:
    try:
        entry = pwd.getpwnam(name)
    except (KeyError, ValueError):   # (ValueError: a name with a NUL byte, which names no one)
        raise Unauthenticated(f"user {name!r} is not a user on the controller's host") from None
    return Identity(user=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid,
                    groups=_groups(entry.pw_name, entry.pw_gid))


def _groups(name: str, gid: int) -> tuple[int, ...]:
    try:
        return tuple(sorted(set(os.getgrouplist(name, gid))))
    except OSError:   # NSS failed for now (a directory server away): this request only, never kept
        _directory.do_not_keep()
        return (gid,)


NSS_CACHE_S = 60.0       # how long a user's entry and groups are believed (Slurm's GroupUpdateTime: 600 s)
NSS_CACHE_ENTRIES = 4096


class UserDirectory:
    """Identities as NSS gave them, each kept `ttl_s`. Without it every request reads NSS
    (the files backend parses /etc/group whole for a user's groups; LDAP asks a server)
    while holding the interpreter, which every other request then waits for. A user added
    to or removed from a group is seen within `ttl_s`, as with Slurm's group cache. An
    unknown user is never kept: the next request asks again."""

    def __init__(self, *, ttl_s: float = NSS_CACHE_S, max_entries: int = NSS_CACHE_ENTRIES, clock=time.monotonic):
        self._ttl_s, self._max_entries, self._clock = ttl_s, max_entries, clock
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, Identity]] = {}
        self._unsure = threading.local()   # set by a resolve that had to guess (`do_not_keep`)

    def do_not_keep(self) -> None:
        """Called during a `resolve`: its answer is a guess for this request, not to be kept."""
        self._unsure.value = True

    def lookup(self, key: tuple, resolve: Callable[[], Identity]) -> Identity:
        """The identity kept for `key`, or `resolve()`'s (raising Unauthenticated when NSS knows no one)."""
        now = self._clock()
        with self._lock:
            kept = self._entries.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        self._unsure.value = False
        identity = resolve()
        if self._unsure.value:
            return identity
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self._ttl_s, identity)
        return identity


_directory = UserDirectory()


class CredentialServiceAuthenticator:
    """Tokens of the hosts' credential services, each accepted once within its lifetime."""

    def __init__(self, keys: PublicKeySet, *, replay_journal: str | None = None):
        self._keys = keys
        self._replays = tokens.ReplayCache(replay_journal)

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        claims = tokens.verify_claims(metadata[TOKEN_HEADER], self._keys, audience=tokens.AUD_CONTROLLER)
        self._replays.check_and_add(str(claims["jti"]), float(claims["exp"]))
        principal = tokens.principal_of(claims)
        return identity_of_uid(principal.uid, principal.gid)


def _bearer_token(metadata: dict[str, str]) -> str:
    scheme, _, token = metadata[BEARER_HEADER].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
    return token.strip()


def _claimed_user(claims: dict, user_claim: str) -> str:
    user = claims.get(user_claim)
    if not isinstance(user, str) or not user:
        raise Unauthenticated(f"token carries no {user_claim!r} claim")
    return user


class ExternalJwtVerifier:
    """An external issuer's JWTs: signed by a key of its JWKS, for our audience, naming a user (not root)."""

    def __init__(self, keys: jwks.JwkSet, *, audience: str, user_claim: str, issuer: str = ""):
        self.keys = keys
        self._audience = audience
        self._user_claim = user_claim
        self._issuer = issuer

    def identity(self, token: str) -> Identity:
        claims = jwks.verify_external(token, self.keys, audience=self._audience, issuer=self._issuer)
        identity = identity_of_user(_claimed_user(claims, self._user_claim))
        if identity.is_root:   # an identity provider's compromise must not be root on the cluster
            raise Unauthenticated("an external token never acts as root")
        return identity


class ApiTokenAuthenticator:
    """Bearer JWTs: `jem token`'s (the controller's key, audience jem-api, `sub` the user name), or,
    when the header's kid is in the external issuer's JWKS, that issuer's (`ExternalJwtVerifier`)."""

    def __init__(self, keys: PublicKeySet, *, external: ExternalJwtVerifier | None = None):
        self._keys = keys
        self._external = external

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        token = _bearer_token(metadata)
        if self._external is not None and jwks.has_kid(token, self._external.keys):
            return self._external.identity(token)
        claims = tokens.verify_claims(token, self._keys, audience=tokens.AUD_API)
        return identity_of_user(_claimed_user(claims, "sub"))


class MungeAuthenticator:
    """MUNGE credentials: munged says who made them; each is decoded once, within its ttl."""

    def __init__(self, *, socket_path: str | None, controller_uid: int):
        self._socket_path = socket_path
        self._controller_uid = controller_uid

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        try:
            cred = munge.decode(metadata[MUNGE_HEADER], socket_path=self._socket_path)
        except munge.MungeError as exc:
            if exc.munge_code in (munge.MungeCode.SOCKET, munge.MungeCode.TIMEOUT):
                raise ControllerNotReady(f"the controller's munged does not answer: {exc.detail}") from None
            raise
        # Restricted to us: a credential made for another service (which munged on its host
        # decoded, and remembers there) cannot be replayed here.
        if cred.uid_restriction != self._controller_uid:
            raise Unauthenticated(f"MUNGE credential is not restricted to the controller's uid "
                                  f"{self._controller_uid}")
        if cred.payload != MUNGE_PAYLOAD:
            raise Unauthenticated(f"MUNGE credential is not for the JEM controller (payload must be "
                                  f"{MUNGE_PAYLOAD.decode()!r})")
        return identity_of_uid(cred.uid, cred.gid)


class Authenticators:
    """The configured authenticators, chosen by which credential a request carries."""

    def __init__(self, by_header: dict[str, Authenticator]):
        self._by_header = by_header

    def authenticate(self, metadata: dict[str, str]) -> Identity:
        for header, authenticator in self._by_header.items():
            if header in metadata:
                return authenticator.authenticate(metadata)
        raise Unauthenticated(f"request carries no credential (one of: {', '.join(self._by_header)})")


def authenticators_for(auth: AuthConfig, *, authd_keys: PublicKeySet, controller_keys: PublicKeySet,
                       controller_uid: int, replay_journal: str | None = None) -> Authenticators:
    """The authenticators `auth` configures. Credential-service tokens are always accepted (agents
    and `jem authd` hosts use them; their ids journalled in `replay_journal`), `jem token` JWTs too;
    external JWTs with `jwks_file`, MUNGE credentials with `method = "munge"`. ConfigError if the
    JWKS file is unusable."""
    external = None
    if auth.jwks_file:
        external = ExternalJwtVerifier(jwks.JwkSet(auth.jwks_file), audience=auth.jwt_audience,
                                       user_claim=auth.jwt_user_claim, issuer=auth.jwt_issuer)
    by_header: dict[str, Authenticator] = {}
    if auth.method == "munge":
        by_header[MUNGE_HEADER] = MungeAuthenticator(socket_path=auth.munge_socket or None,
                                                     controller_uid=controller_uid)
    by_header[TOKEN_HEADER] = CredentialServiceAuthenticator(authd_keys, replay_journal=replay_journal)
    by_header[BEARER_HEADER] = ApiTokenAuthenticator(controller_keys, external=external)
    return Authenticators(by_header)
