"""Who may do what: the one authorization policy every servicer asks.

Callers are identities the authenticator established (never claims). The
rules, Slurm's: a job's owner or an operator (root, or a user whose
AdminLevel is Operator or Administrator) acts on a job; operators alone
change nodes, hold as an administrator, raise time limits, set a negative
nice; root alone mints tokens for others; node N's certificate alone acts as node N (or, on a
loopback controller without TLS, root through the credential service). Every denial is
PERMISSION_DENIED with Slurm's words, "Access/permission denied", and a
detail naming what was refused.
"""

from jem.model.errors import NotJobOwner, PermissionDenied
from jem.model.identity import Identity


def may_see_job(identity: Identity, owner_uid: int, *, jobs_private: bool) -> bool:
    """Whether the caller may see that a job exists (PrivateData=jobs: only their own, unless an operator)."""
    return not jobs_private or identity.may_act_on(owner_uid)


def may_see_usage(identity: Identity, user: str, *, usage_private: bool) -> bool:
    """Whether the caller may see `user`'s fair-share usage (PrivateData=usage)."""
    return not usage_private or identity.is_operator or identity.user == user


def may_see_job_secrets(identity: Identity, owner_uid: int) -> bool:
    """Whether the caller may read a job's script and environment."""
    return identity.may_act_on(owner_uid)


def require_job_access(identity: Identity, *, owner_uid: int, owner: str, job_id) -> None:
    if not identity.may_act_on(owner_uid):
        raise NotJobOwner(f"job {job_id} belongs to {owner}")


def require_operator(identity: Identity, what: str) -> None:
    """`what` completes "only an operator may ...": "change nodes", "raise a time limit"."""
    if not identity.is_operator:
        raise PermissionDenied(f"only root or an operator may {what}")


def require_administrator(identity: Identity, what: str) -> None:
    """`what` completes "only an administrator may ...": Slurm keeps QOS to AdminLevel Administrator."""
    if not identity.is_administrator:
        raise PermissionDenied(f"only root or an administrator may {what}")


def require_node_agent(identity: Identity, *, controller_uid: int) -> None:
    """Agents run as root, or as the controller's own user (a personal cluster of one user)."""
    if not identity.is_root and identity.uid != controller_uid:
        raise PermissionDenied("only root may act as a node agent")


def require_node_certificate(certificate_node: str, node_name: str) -> None:
    """A node call for `node_name` made with node `certificate_node`'s certificate."""
    if certificate_node != node_name:
        raise PermissionDenied(f"the certificate of node {certificate_node} may not act for node {node_name}")


def require_token_for(identity: Identity, user: str) -> None:
    if user != identity.user and not identity.is_root:
        raise PermissionDenied("only root may get a token for another user")


def require_crontab_reader(identity: Identity, user: str) -> None:
    """A user reads their own crontab; operators read anyone's (Slurm: Operators and Admins)."""
    if user != identity.user and not identity.is_operator:
        raise PermissionDenied(f"only root or an operator may read {user}'s crontab")


def require_crontab_writer(identity: Identity, user: str) -> None:
    """A user installs or removes their own crontab; root anyone's (Slurm: root and SlurmUser):
    the entries' jobs run as that user."""
    if user != identity.user and not identity.is_root:
        raise PermissionDenied(f"only root may change {user}'s crontab")
