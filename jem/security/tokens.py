"""Signed claims as compact JWS (JWT, EdDSA over Ed25519), through PyJWT.

Every credential JEM's daemons hand each other is one of these, told apart
by its audience:

| audience       | signed by            | claims beyond iat/exp/jti           | verified by            |
|----------------|----------------------|-------------------------------------|------------------------|
| `jem-controller` | a host's `jem authd` | uid, gid, host                      | the controller (once)  |
| `jem-job`      | a host's `jem authd` | uid, gid, host, dig (job digest)    | controller, agents     |
| `jem-cron`     | a host's `jem authd` | uid, gid, host, dig (job digest)    | controller, agents     |
| `jem-step`     | a host's `jem authd` | uid, gid, host, dig (step digest)   | controller, agents     |
| `jem-launch`   | the controller       | job, run, uid, gid, nodes, dig      | agents (once per run)  |
| `jem-steporder`| the controller       | job, step, uid, gid, nodes, dig     | agents (once)          |
| `jem-api`      | the controller       | sub (user name)                     | the controller         |
| `jem-agent`    | the controller       | (none: any call to an agent)        | agents (once)          |

The header's `kid` names the key; the verifier looks it up in a
`PublicKeySet`, so keys rotate by adding a file. Verification checks the
signature, the algorithm (EdDSA only: no `none`, no HMAC confusion), the
audience and the expiry, with `LEEWAY_S` for clock skew between hosts.
"""

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Sequence

import jwt

from jem.model.errors import Unauthenticated
from jem.security.keys import PublicKeySet, SigningKey

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
LEEWAY_S = 5

AUD_CONTROLLER = "jem-controller"
AUD_JOB = "jem-job"
AUD_CRON = "jem-cron"   # a scrontab entry's job: runs again and again, so it lives longer than AUD_JOB
AUD_STEP = "jem-step"
AUD_LAUNCH = "jem-launch"
AUD_STEP_ORDER = "jem-steporder"
AUD_API = "jem-api"
AUD_AGENT = "jem-agent"


def sign_claims(key: SigningKey, claims: dict, *, audience: str, lifetime_s: float, now: float | None = None) -> str:
    """A compact JWS of `claims` plus aud, iat, exp and a fresh jti."""
    now = time.time() if now is None else now
    body = dict(claims, aud=audience, iat=int(now), exp=int(now + lifetime_s), jti=uuid.uuid4().hex)
    return jwt.encode(body, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify_claims(token: str, keys: PublicKeySet, *, audience: str, now: float | None = None) -> dict:
    """The claims of a token signed by a key in `keys` for `audience`; raises Unauthenticated."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"malformed credential: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise Unauthenticated(f"credential algorithm {header.get('alg')!r} is not accepted")
    public_key = keys.get(str(header.get("kid", "")))
    if public_key is None:
        raise Unauthenticated(f"credential signed by unknown key {header.get('kid')!r}")
    options = {"require": ["exp", "iat", "aud", "jti"]}
    try:
        if now is None:
            return jwt.decode(token, public_key, algorithms=[ALGORITHM], audience=audience, leeway=LEEWAY_S,
                              options=options)
        claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], audience=audience,
                            options=dict(options, verify_exp=False, verify_iat=False))
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"credential rejected: {exc}") from None
    if claims["exp"] + LEEWAY_S < now:
        raise Unauthenticated("credential rejected: Signature has expired")
    return claims


def unverified_claims(token: str) -> dict:
    """The claims of a token verified before (kept with a job): read without checking the signature
    or the expiry, to tell when it expires. Never a basis for trust; raises Unauthenticated."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"malformed credential: {exc}") from None
    if not isinstance(claims, dict):
        raise Unauthenticated("malformed credential: its claims are not an object")
    return claims


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a credential-service token says is calling: the kernel's answer on the host that signed it."""

    uid: int
    gid: int
    host: str


def principal_of(claims: dict) -> Principal:
    try:
        return Principal(uid=int(claims["uid"]), gid=int(claims["gid"]), host=str(claims.get("host", "")))
    except (KeyError, TypeError, ValueError):
        raise Unauthenticated("credential carries no uid/gid") from None


class ReplayCache:
    """Token ids seen within their lifetime: a token is accepted once.

    Entries are dropped once their token has expired (plus leeway), so the
    cache holds at most the tokens issued within one lifetime.

    With a `journal` file, each accepted id is also appended there (0600, one
    JSON line `[exp, jti]`), and a cache made on the same file starts with the
    ids that are still live: a restarted daemon refuses a token its
    predecessor accepted (Slurm's auth/slurm keeps no replay record at all).
    No fsync: a killed process's writes are already in the page cache, and the
    ids of a host that lost power are dead by the time it is back. The file is
    rewritten with only the live ids once it holds mostly dead ones. A journal
    that cannot be written is logged and the cache goes on in memory.
    """

    def __init__(self, journal: str | None = None, *, now: float | None = None):
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._next_purge = 0.0
        self._journal = journal
        self._fd = -1
        self._n_lines = 0
        if journal:
            self._seen = _live_entries(journal, time.time() if now is None else now)
            self._rewrite()

    def check_and_add(self, jti: str, exp: float, now: float | None = None) -> None:
        """Raise Unauthenticated if `jti` was seen before; else remember it until `exp`."""
        now = time.time() if now is None else now
        with self._lock:
            if now >= self._next_purge:
                self._seen = {k: v for k, v in self._seen.items() if v + LEEWAY_S >= now}
                self._next_purge = now + 10
                if self._journal and self._n_lines > 2 * len(self._seen) + 1000:
                    self._rewrite()
            if jti in self._seen:
                raise Unauthenticated("credential rejected: replayed")
            self._seen[jti] = exp
            if self._fd >= 0:
                self._append(json.dumps([exp, jti]).encode() + b"\n")

    def _append(self, line: bytes) -> None:
        try:
            os.write(self._fd, line)
            self._n_lines += 1
        except OSError as exc:
            log.warning("replay journal not written path=%s error=%s", self._journal, exc)
            os.close(self._fd)
            self._fd = -1

    def _rewrite(self) -> None:
        """Replace the journal with the live ids (a new file renamed over it), then append to it."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        temporary = f"{self._journal}.{os.getpid()}.new"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, b"".join(json.dumps([exp, jti]).encode() + b"\n" for jti, exp in self._seen.items()))
            finally:
                os.close(fd)
            os.rename(temporary, self._journal)
            self._fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
            self._n_lines = len(self._seen)
        except OSError as exc:
            log.warning("replay journal not written path=%s error=%s", self._journal, exc)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __len__(self) -> int:
        return len(self._seen)


def _live_entries(path: str, now: float) -> dict[str, float]:
    """{jti: exp} of a journal's lines whose token is not yet expired; a line that does not parse is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("replay journal not read path=%s error=%s", path, exc)
        return {}
    live: dict[str, float] = {}
    with os.fdopen(fd, "rb") as f:
        for line in f:
            try:
                exp, jti = json.loads(line)
                if isinstance(jti, str) and float(exp) + LEEWAY_S >= now:
                    live[jti] = float(exp)
            except (ValueError, TypeError):
                continue
    return live


class PersistentReplayLog:
    """Replay record that survives a restart: one line per accepted id in an append-only file (0600).

    The agent keeps one per node for launch credentials: a (job, run) it has
    launched is never launched again, even by a new agent process. The ids
    of one batch (a LaunchJobs call) are accepted together or not at all, in
    one write and one fsync: the record is durable before any of them runs.
    """

    def __init__(self, path: str):
        self._path = path
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        try:
            with open(path) as f:
                self._seen = {line.strip() for line in f if line.strip()}
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._file = os.fdopen(fd, "a")

    def check_and_add(self, keys: Sequence[str]) -> None:
        """Record every id in `keys`; raises Unauthenticated, recording none, if one was seen before
        (or is repeated in `keys`)."""
        with self._lock:
            batch: set[str] = set()
            for key in keys:
                if key in self._seen or key in batch:
                    raise Unauthenticated(f"credential rejected: {key} was already used")
                batch.add(key)
            if not batch:
                return
            self._file.write("".join(key + "\n" for key in keys))
            self._file.flush()
            os.fsync(self._file.fileno())
            self._seen |= batch

    def __contains__(self, key: str) -> bool:
        return key in self._seen

    def close(self) -> None:
        self._file.close()
