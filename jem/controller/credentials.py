"""The controller's keys and the credentials it signs for agents.

Layout of the security directory (`auth.security_dir`, `/etc/jem` on a real
cluster, `<state_dir>/security` by default):

    controller-signing.key   Ed25519, 0600: signs launch credentials, agent calls and `jem token` JWTs
    controller-keys/<kid>.pub its public half (agents verify with it; several during a rotation)
    authd.key                Ed25519, 0600: the built-in credential service's key (when serve_authd)
    authd-keys/<kid>.pub     public keys of every host's credential service (callers' tokens, job signatures)

A missing controller or authd key is generated on first start (0600; a missing
directory is made 0755, since it also holds what users read); a site installs the public halves on its agents and login
nodes (docs/security.md).
"""

import os
import time

from jem.model import defaults
from jem.model.execution import Launch
from jem.security import tokens
from jem.security.digest import spec_digest
from jem.security.keys import PublicKeySet, SigningKey, load_or_generate_signing_key, make_security_dir

AGENT_CALL_HEADER = "jem-controller-token"
AGENT_CALL_LIFETIME_S = 60.0


def security_paths(security_dir: str) -> dict[str, str]:
    return {
        "controller_key": os.path.join(security_dir, "controller-signing.key"),
        "controller_keys": os.path.join(security_dir, "controller-keys"),
        "authd_key": os.path.join(security_dir, "authd.key"),
        "authd_keys": os.path.join(security_dir, "authd-keys"),
    }


class ControllerKeys:
    """The controller's signing key and the public keys it trusts."""

    def __init__(self, security_dir: str, *, with_authd_key: bool):
        make_security_dir(security_dir)
        paths = security_paths(security_dir)
        self.security_dir = security_dir
        self.signing_key: SigningKey = load_or_generate_signing_key(paths["controller_key"],
                                                                    public_dir=paths["controller_keys"])
        self.authd_key: SigningKey | None = (load_or_generate_signing_key(paths["authd_key"],
                                                                           public_dir=paths["authd_keys"])
                                             if with_authd_key else None)
        self.controller_keys = PublicKeySet(paths["controller_keys"])
        self.authd_keys = PublicKeySet(paths["authd_keys"])

    def agent_call_metadata(self) -> tuple[tuple[str, str], ...]:
        """Metadata that proves a call to an agent comes from this controller (short-lived, single use)."""
        token = tokens.sign_claims(self.signing_key, {}, audience=tokens.AUD_AGENT, lifetime_s=AGENT_CALL_LIFETIME_S)
        return ((AGENT_CALL_HEADER, token),)

    def launch_credential(self, launch: Launch) -> str:
        """Slurm's job credential: this run of this job, as this user, on these nodes, until it expires."""
        spec = launch.spec
        return tokens.sign_claims(self.signing_key, {
            "job": launch.job_id, "run": launch.restart_count, "uid": launch.uid, "gid": launch.gid,
            "nodes": list(launch.nodes), "dig": spec_digest(spec),
        }, audience=tokens.AUD_LAUNCH, lifetime_s=defaults.LAUNCH_CREDENTIAL_LIFETIME_S)

    def step_credential(self, *, job_id: int, step_id: int, uid: int, gid: int, nodes, digest: str) -> str:
        return tokens.sign_claims(self.signing_key, {
            "job": job_id, "step": step_id, "uid": uid, "gid": gid, "nodes": list(nodes), "dig": digest,
        }, audience=tokens.AUD_STEP_ORDER, lifetime_s=defaults.LAUNCH_CREDENTIAL_LIFETIME_S)

    def api_token(self, user: str, lifespan_s: int, now: float | None = None) -> tuple[str, float]:
        now = time.time() if now is None else now
        return (tokens.sign_claims(self.signing_key, {"sub": user}, audience=tokens.AUD_API, lifetime_s=lifespan_s,
                                   now=now), now + lifespan_s)

