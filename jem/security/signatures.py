"""Users' signatures over what they run: the controller alone cannot run code as a user.

A client asks its host's credential service (`jem authd`, which reads the
caller's uid with SO_PEERCRED) for a token over the digest of the job or
step (`digest.py`): audience `jem-job` or `jem-step`, claims uid, gid, host
and `dig`. The signature travels with the request, is kept with the job
(requeues and array tasks keep the original), and reaches the agent inside
the launch. The agent verifies it against the credential services' public
keys before it runs anything as that user, so a compromised controller, or
a stolen controller key, cannot start work for someone who never asked
(Flux's signed jobspec). A job signature lives as long as a job may pend
(`jem authd --job-signature-lifetime`, 30 days by default).

A scrontab entry's job runs again on every time of its schedule, long after
its user installed it, so it is signed for an audience of its own,
`jem-cron` (`--cron-signature-lifetime`, 366 days by default), over a digest
that covers its schedule. `job_audience` is the one rule that picks it: the
controller (at submit and at crontab install) and the agent (at every launch)
accept a `jem-cron` signature only for a job with a schedule and a `jem-job`
one only for a job without, so neither kind ever runs as the other.

    signature = sign_request(socket, AUD_JOB, spec_digest(spec))      # a client (jem.client asks for it
                                                                      # with its call token: authd.fetch_tokens)
    check_signature(signature, keys, audience=AUD_JOB, uid=..., gid=..., digest=...)   # controller, agent
"""

import enum
from dataclasses import dataclass

from jem.model.errors import BadUserSignature, Unauthenticated
from jem.security import tokens
from jem.security.authd import fetch_token
from jem.security.keys import PublicKeySet


class UnsignedWork(enum.Enum):
    """What an agent does with a job or step that carries no user signature."""

    REFUSE = "refuse"   # the default: only work its user signed runs
    ALLOW = "allow"     # also work submitted without one (portals holding only a `jem token` JWT)


def job_audience(cron_schedule: str) -> str:
    """The audience a job's signature must have: AUD_CRON for a scrontab entry's job (a schedule), else AUD_JOB."""
    return tokens.AUD_CRON if cron_schedule else tokens.AUD_JOB


@dataclass(frozen=True, slots=True)
class SignatureTerms:
    """What a signature checked before says of its own use: for which audience, and until when."""

    audience: str
    expires_at: float   # epoch seconds (its `exp`)


def signature_terms(signature: str) -> SignatureTerms:
    """The audience and expiry of a signature already checked (kept with a job), read without checking
    it again: to tell that it will no longer do, never that it will. Raises BadUserSignature when unreadable."""
    try:
        claims = tokens.unverified_claims(signature)
        return SignatureTerms(str(claims.get("aud", "")), float(claims["exp"]))
    except Unauthenticated as exc:
        raise BadUserSignature(exc.detail) from None
    except (KeyError, TypeError, ValueError):
        raise BadUserSignature("the signature carries no expiry") from None


def sign_request(authd_socket: str, audience: str, digest: str) -> str:
    """This process's user's signature over `digest`, from the host's credential service."""
    return fetch_token(authd_socket, audience, digest)


def check_signature(signature: str, keys: PublicKeySet, *, audience: str, uid: int, gid: int, digest: str) -> None:
    """Raises BadUserSignature unless `signature` is a credential service's, for `audience`,
    by `uid`/`gid`, over exactly `digest`, and unexpired."""
    try:
        claims = tokens.verify_claims(signature, keys, audience=audience)
        principal = tokens.principal_of(claims)
    except Unauthenticated as exc:
        raise BadUserSignature(exc.detail) from None
    if principal.uid != uid or principal.gid != gid:
        raise BadUserSignature(f"signed by uid {principal.uid} gid {principal.gid}, "
                           f"but the work runs as uid {uid} gid {gid}")
    if claims.get("dig") != digest:
        raise BadUserSignature("the signature is over other work than this")


def check_work(signature: str, keys: PublicKeySet, *, unsigned: UnsignedWork, audience: str, uid: int, gid: int,
               digest: str, what: str) -> None:
    """The agent's check before it runs `what` ("job 12", "step 12.0"): its signature verifies,
    or it has none and `unsigned` allows that."""
    if not signature:
        if unsigned is UnsignedWork.ALLOW:
            return
        raise BadUserSignature(f"{what} carries no signature of its user (submitted with a JWT?); "
                           f"agents run unsigned work only with --unsigned-jobs allow")
    check_signature(signature, keys, audience=audience, uid=uid, gid=gid, digest=digest)
