"""What the agent believes of the controller: only what the controller's key signed.

Every AgentService call must carry a fresh single-use token signed by a key
in `<security_dir>/controller-keys/` (`jem-controller-token` metadata); a
call without one is refused UNAUTHENTICATED before the servicer runs. Each
launch and each step order also carries its own credential (Slurm's job
credential): it must name this job and run (restart count), the uid and
gid the work runs as, this node among its nodes, and the digest of exactly
what is to run. A launch credential is accepted once per (job, run): the
record is an append-only root-only file in the spool, so a restarted agent
refuses a replay too.

What the controller signs is not enough to run code as a user: each launch
and step order must also carry its user's own signature over the digest of
what runs, from a credential service (`jem.security.signatures`, keys in
`<security_dir>/authd-keys/`). Work without one runs only on an agent
started with `--unsigned-jobs allow`. A scrontab entry's job (its spec has a
schedule) must carry a `jem-cron` signature and any other job a `jem-job`
one (`signatures.job_audience`): a long-lived cron signature never starts a
one-off job, and a one-off job's signature never starts a recurring one.
"""

import logging
import os
from typing import Sequence

import grpc

from jem.grpcprobes import is_probe

from jem.model.errors import JemError, Unauthenticated
from jem.model.execution import Launch
from jem.model.step import TaskOrder
from jem.security import signatures, tokens
from jem.security.digest import spec_digest, step_spec_digest
from jem.security.keys import PublicKeySet
from jem.security.signatures import UnsignedWork

log = logging.getLogger(__name__)

CALL_HEADER = "jem-controller-token"


class ControllerTrust:
    """The controller's and the credential services' public keys, and the agent's replay records."""

    def __init__(self, keys: PublicKeySet, *, user_keys: PublicKeySet, unsigned: UnsignedWork, node_name: str,
                 launch_log: tokens.PersistentReplayLog, journal_dir: str):
        """journal_dir: where the single-use call tokens and step orders are journalled, so a
        restarted agent still refuses one it accepted."""
        self._keys = keys
        self._user_keys = user_keys
        self._unsigned = unsigned
        self._node = self.node_name = node_name
        self._calls = tokens.ReplayCache(os.path.join(journal_dir, "call-tokens.log"))
        self._orders = tokens.ReplayCache(os.path.join(journal_dir, "step-orders.log"))
        self._launch_log = launch_log

    def check_call(self, metadata: dict[str, str]) -> None:
        token = metadata.get(CALL_HEADER)
        if not token:
            raise Unauthenticated("agent calls must come from the controller (no controller token)")
        claims = tokens.verify_claims(token, self._keys, audience=tokens.AUD_AGENT)
        self._calls.check_and_add(str(claims["jti"]), float(claims["exp"]))

    def _check_common(self, claims: dict, *, job_id: int, uid: int, gid: int, digest: str) -> None:
        expected = {"job": job_id, "uid": uid, "gid": gid, "dig": digest}
        for key, value in expected.items():
            if claims.get(key) != value:
                raise Unauthenticated(f"credential does not match the request ({key})")
        if self._node not in claims.get("nodes", ()):
            raise Unauthenticated(f"credential is not for node {self._node}")

    def check_launches(self, launches: Sequence[tuple[Launch, str]]) -> None:
        """Each (launch, its credential) of one call matches and was never used; then all are
        recorded as used, in one durable write. One bad credential refuses them all, recording none."""
        for launch, credential in launches:
            claims = tokens.verify_claims(credential, self._keys, audience=tokens.AUD_LAUNCH)
            self._check_common(claims, job_id=launch.job_id, uid=launch.uid, gid=launch.gid,
                               digest=spec_digest(launch.spec))
            if claims.get("run") != launch.restart_count:
                raise Unauthenticated("credential does not match the request (run)")
        self._launch_log.check_and_add([f"{launch.job_id}.{launch.restart_count}" for launch, _ in launches])

    def check_step_order(self, order: TaskOrder, credential: str) -> None:
        claims = tokens.verify_claims(credential, self._keys, audience=tokens.AUD_STEP_ORDER)
        self._check_common(claims, job_id=order.job_id, uid=order.uid, gid=order.gid,
                           digest=step_spec_digest(order.spec))
        if claims.get("step") != order.step_id:
            raise Unauthenticated("credential does not match the request (step)")
        self._orders.check_and_add(str(claims["jti"]), float(claims["exp"]))


    def check_launch_signature(self, launch: Launch) -> None:
        """The job's user signed exactly this job, as a scrontab entry's if it has a schedule and as a
        one-off job's if not (BadUserSignature otherwise)."""
        signatures.check_work(launch.user_signature, self._user_keys, unsigned=self._unsigned,
                              audience=signatures.job_audience(launch.spec.cron_schedule), uid=launch.uid,
                              gid=launch.gid, digest=spec_digest(launch.spec), what=f"job {launch.job_id}")

    def check_step_signature(self, order: TaskOrder) -> None:
        """The job's user signed exactly this step (BadUserSignature otherwise)."""
        signatures.check_work(order.user_signature, self._user_keys, unsigned=self._unsigned,
                              audience=tokens.AUD_STEP, uid=order.uid, gid=order.gid,
                              digest=step_spec_digest(order.spec), what=f"step {order.job_id}.{order.step_id}")


class ControllerCallInterceptor(grpc.ServerInterceptor):
    """Refuses every call that does not carry a valid controller token (but health and reflection's)."""

    def __init__(self, trust: ControllerTrust):
        self._trust = trust

    def intercept_service(self, continuation, handler_call_details):
        if is_probe(handler_call_details.method):
            return continuation(handler_call_details)   # health and reflection: no token (jem.grpcprobes)
        metadata = dict(handler_call_details.invocation_metadata or ())
        try:
            self._trust.check_call(metadata)
        except JemError as exc:
            # An audit line too: who it was is unknown, which is the point.
            logging.getLogger("jem.audit").warning("audit principal=unauthenticated method=%s result=%s detail=%r",
                                                   handler_call_details.method, exc.reason, exc.detail)
            return _refusal(str(exc))
        return continuation(handler_call_details)


def _refusal(text: str):
    def abort(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, text)
    # The same refusal for unary and streaming methods: abort before any response.
    return grpc.unary_unary_rpc_method_handler(abort)
