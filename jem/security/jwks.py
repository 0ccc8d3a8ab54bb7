"""An external JWT issuer's public keys (a JWKS file) and the tokens they sign.

A portal's identity provider signs JWTs with its own keys and publishes them as
a JSON Web Key Set. The controller trusts the keys in a local copy of that set
(`[auth] jwks_file`; nothing is fetched over the network). `JwkSet` re-reads the
file when its mtime, inode or size changes, so replacing the file (write a new
one, rename it over the old) rotates keys without a restart.

Only asymmetric signatures are accepted: RS256 (RSA of at least 2048 bits) and
ES256 (P-256). A key of another type (`oct`, so no HMAC confusion), one marked
for another `use` or `alg`, one without a `kid`, or one holding a private part
is skipped. A token must name a key of the set in its header's `kid`, be signed
with that key's algorithm (never `none`), and carry `exp` and the configured
audience. Signature checks are PyJWT's.
"""

import json
import logging
import os
import threading
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jem.model.errors import ConfigError, Unauthenticated
from jem.security.tokens import LEEWAY_S

log = logging.getLogger(__name__)

MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class PublicJwk:
    """One usable key of a set: its algorithm and its public key."""

    algorithm: str       # "RS256" or "ES256"
    key: object          # an RSAPublicKey or EllipticCurvePublicKey


def parse_jwks(text: str, *, where: str) -> dict[str, PublicJwk]:
    """The usable keys of a JWKS document, by kid; ConfigError if it is not a JWKS at all."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ConfigError(f"{where}: expected a JSON object with a \"keys\" array (a JWKS)")
    keys: dict[str, PublicJwk] = {}
    for entry in document["keys"]:
        usable = _usable_key(entry)
        if usable is None:
            log.warning("jwks key skipped file=%s kid=%s", where, entry.get("kid") if isinstance(entry, dict) else None)
            continue
        keys[entry["kid"]] = usable
    return keys


def _usable_key(entry: object) -> PublicJwk | None:
    """The key of one JWKS entry if it is a public RS256/ES256 signing key with a kid, else None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
        return None
    if entry.get("use", "sig") != "sig" or "d" in entry:      # "d": a private key has no place in a JWKS
        return None
    kty, alg = entry.get("kty"), entry.get("alg")
    if kty == "RSA" and alg in (None, "RS256"):
        algorithm = "RS256"
    elif kty == "EC" and entry.get("crv") == "P-256" and alg in (None, "ES256"):
        algorithm = "ES256"
    else:
        return None
    try:
        key = jwt.PyJWK(entry, algorithm=algorithm).key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if algorithm == "RS256" and not (isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS):
        return None
    if algorithm == "ES256" and not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    return PublicJwk(algorithm, key)


class JwkSet:
    """The keys of a JWKS file, by kid; re-read when the file changes.

    The file is read at construction (ConfigError if it cannot be). A later
    change that leaves it unreadable or malformed empties the set: external
    tokens are refused until the file is fixed, never checked against keys
    the operator meant to replace.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._stamp_now()
        self._keys = self._read()

    def _stamp_now(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def _read(self) -> dict[str, PublicJwk]:
        try:
            with open(self.path) as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError(f"auth.jwks_file: {self.path}: {exc.strerror}") from None
        return parse_jwks(text, where=self.path)

    def get(self, kid: str) -> PublicJwk | None:
        with self._lock:
            stamp = self._stamp_now()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._keys = self._read()
                except ConfigError as exc:
                    log.warning("jwks file unusable, external tokens refused: %s", exc.detail)
                    self._keys = {}
            return self._keys.get(kid)

    def kids(self) -> list[str]:
        self.get("")
        return sorted(self._keys)


def verify_external(token: str, keys: JwkSet, *, audience: str, issuer: str = "") -> dict:
    """The claims of an external JWT signed by a key of `keys` for `audience` (and, when `issuer` is
    given, issued by it: `iss` required and equal); raises Unauthenticated."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"malformed credential: {exc}") from None
    key = keys.get(str(header.get("kid", "")))
    if key is None:
        raise Unauthenticated(f"credential signed by unknown key {header.get('kid')!r}")
    if header.get("alg") != key.algorithm:
        raise Unauthenticated(f"credential algorithm {header.get('alg')!r} is not key "
                              f"{header.get('kid')!r}'s {key.algorithm}")
    try:
        return jwt.decode(token, key.key, algorithms=[key.algorithm], audience=audience, leeway=LEEWAY_S,
                          issuer=issuer or None, options={"require": ["exp", "aud", *(["iss"] if issuer else [])]})
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"credential rejected: {exc}") from None


def has_kid(token: str, keys: JwkSet) -> bool:
    """Whether the token's header names a key of `keys` (then it is the external issuer's)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return False
    return isinstance(kid, str) and keys.get(kid) is not None
