"""Every error JEM reports to a user, in one table (after Slurm's slurm_errtab).

Each `JemError` subclass carries a stable `reason` (sent as the gRPC trailing
metadata `jem-reason`), the message a CLI prints, and the name of the gRPC
status code it maps to. Domain code raises these; one server interceptor maps
them to statuses, and the client maps statuses back to these classes.
"""


class JemError(Exception):
    """Base of all errors shown to users."""

    reason = "JemError"
    message = "Unexpected error"
    grpc_code = "INTERNAL"

    def __init__(self, detail: str = ""):
        super().__init__(detail or self.message)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message}: {self.detail}" if self.detail and self.detail != self.message else self.message


class InvalidJobSpec(JemError):
    """A job specification that is malformed (bad value, conflicting options)."""

    reason = "InvalidJobSpec"
    message = "Invalid job specification"
    grpc_code = "INVALID_ARGUMENT"


class InvalidArraySpec(InvalidJobSpec):
    """An --array specification that is malformed or has more tasks than the cluster allows."""

    reason = "InvalidArraySpec"
    message = "Invalid job array specification"


class DependencyProblem(InvalidJobSpec):
    """A --dependency that is malformed or names a job the controller never had."""

    reason = "DependencyProblem"
    message = "Job dependency problem"


class InvalidRetryPolicy(InvalidJobSpec):
    """A retry policy (--retries, --retry-delay, --retry-on) out of range or naming a state that is no failure."""

    reason = "InvalidRetryPolicy"
    message = "Invalid retry policy"


class ParameterTooLong(JemError):
    """A string or repeated field longer than the cluster allows (jem.model.limits)."""

    reason = "ParameterTooLong"
    message = "Pathname of a file, directory or other parameter too long"
    grpc_code = "INVALID_ARGUMENT"


class InvalidArgument(JemError):
    """A request argument that is malformed (not a job specification)."""

    reason = "InvalidArgument"
    message = "Invalid argument"
    grpc_code = "INVALID_ARGUMENT"


class InvalidCrontab(JemError):
    """A scrontab line that is neither blank, a comment, an #SCRON line, a variable setting nor a
    valid cron entry (jem.model.cron, jem.model.crontab). `line` (1-based) is set where the parse
    knew it; a controller's refusal names it in the detail too."""

    def __init__(self, detail: str = "", *, line: int = 0):
        super().__init__(detail)
        self.line = line

    reason = "InvalidCrontab"
    message = "Invalid crontab"
    grpc_code = "INVALID_ARGUMENT"


class CrontabEntryRefused(JemError):
    """One entry of a crontab whose job admission refused (the crontab is not installed). It
    travels with the refusal's own status code and message (`cause`: that error's class) and
    the entry's lines (`lines`: "3-4"), as scrontab reports them."""

    def __init__(self, detail: str = "", *, lines: str = "", cause: type["JemError"] | None = None):
        super().__init__(detail)
        self.lines = lines
        self.cause = cause or JemError
        self.grpc_code = self.cause.grpc_code

    reason = "CrontabEntryRefused"
    message = "Crontab entry refused"
    grpc_code = "INVALID_ARGUMENT"

    def __str__(self) -> str:
        return self.detail or self.cause.message


class UnknownPartition(JemError):
    reason = "UnknownPartition"
    message = "Invalid partition name specified"
    grpc_code = "INVALID_ARGUMENT"


class Unsatisfiable(JemError):
    """A job no node set of its partition could ever run ("never", not "not now")."""

    reason = "Unsatisfiable"
    message = "Requested node configuration is not available"
    grpc_code = "FAILED_PRECONDITION"


class InvalidFeature(JemError):
    """A constraint (-C) that is malformed or that no node of the partition satisfies."""

    reason = "InvalidFeature"
    message = "Invalid feature specification"
    grpc_code = "INVALID_ARGUMENT"


class InvalidQos(JemError):
    """A QOS name the configuration does not define."""

    reason = "InvalidQos"
    message = "Invalid qos specification"
    grpc_code = "INVALID_ARGUMENT"


class InvalidGres(JemError):
    """A --gres name no node of the partition has."""

    reason = "InvalidGres"
    message = "Invalid generic resource (gres) specification"
    grpc_code = "INVALID_ARGUMENT"


class PartitionTimeLimit(JemError):
    reason = "PartitionTimeLimit"
    message = "Requested time limit is invalid (missing or exceeds some limit)"
    grpc_code = "FAILED_PRECONDITION"


class JobNotFound(JemError):
    reason = "JobNotFound"
    message = "Invalid job id specified"
    grpc_code = "NOT_FOUND"


class NodeNotFound(JemError):
    reason = "NodeNotFound"
    message = "Invalid node name specified"
    grpc_code = "NOT_FOUND"


class UserNotFound(JemError):
    reason = "UserNotFound"
    message = "Invalid user id"
    grpc_code = "NOT_FOUND"


class InvalidLifespan(JemError):
    reason = "InvalidLifespan"
    message = "Invalid lifespan"
    grpc_code = "INVALID_ARGUMENT"


class NotJobOwner(JemError):
    reason = "NotJobOwner"
    message = "Access/permission denied"
    grpc_code = "PERMISSION_DENIED"


class PermissionDenied(JemError):
    reason = "PermissionDenied"
    message = "Access/permission denied"
    grpc_code = "PERMISSION_DENIED"


class Unauthenticated(JemError):
    reason = "Unauthenticated"
    message = "Authentication failure"
    grpc_code = "UNAUTHENTICATED"


class BadUserSignature(Unauthenticated):
    """A user's signature over a job or step that is missing where required, malformed,
    expired, or not over this work (jem.security.signatures)."""

    reason = "BadUserSignature"
    message = "Invalid user signature"


class JobStateConflict(JemError):
    """A request the job's current state does not allow (hold a running job, ...)."""

    reason = "JobStateConflict"
    message = "Job state does not allow this request"
    grpc_code = "FAILED_PRECONDITION"


class IllegalTransition(JobStateConflict):
    """An event the job's state does not allow (`jem.model.states.transition`). A request
    that meets one is answered as Slurm answers a request the job's state refuses, never as
    an internal error. `state` and `event` are set where it is raised (the client, which
    has only the message, leaves them None)."""

    reason = "IllegalTransition"

    def __init__(self, detail: str = "", *, state=None, event=None):
        super().__init__(detail)
        self.state = state   # the job's JobState, None for "no job yet"
        self.event = event   # the JobEvent refused


class JobIsPending(JobStateConflict):
    """A request that needs a started (or ended) job, on a pending one."""

    reason = "JobIsPending"
    message = "Job is pending execution"


class JobNotRunning(JobStateConflict):
    """A suspend of a job that is not running (Slurm's ESLURM_JOB_NOT_RUNNING)."""

    reason = "JobNotRunning"
    message = "Job is not running"


class JobNotSuspended(JobStateConflict):
    """A resume of a job that is not suspended (Slurm's ESLURM_JOB_NOT_SUSPENDED)."""

    reason = "JobNotSuspended"
    message = "Job is not suspended"


class SuspendedForPreemptor(JobStateConflict):
    """A resume of a job suspended by preemption: its share of its nodes is lent to its
    preemptor, and it resumes by itself when that job ends (Slurm's ESLURM_DISABLED words)."""

    reason = "SuspendedForPreemptor"
    message = "Requested operation is presently disabled"


class RequeueDisabled(JemError):
    """A requeue of a job submitted with --no-requeue."""

    reason = "RequeueDisabled"
    message = "Requested operation is presently disabled"
    grpc_code = "FAILED_PRECONDITION"


class AlreadyDone(JemError):
    reason = "AlreadyDone"
    message = "Job/step already completing or completed"
    grpc_code = "FAILED_PRECONDITION"


class NotAnAllocation(JemError):
    """CompleteAllocation of a job that salloc (or srun outside a job) did not make: a batch job
    ends with its script."""

    reason = "NotAnAllocation"
    message = "Only an allocation (salloc's job) may be completed by its user"
    grpc_code = "INVALID_ARGUMENT"


class LimitExceeded(JemError):
    """A submission over a per-user or per-account limit (Slurm's ESLURM_ACCOUNTING_POLICY). An
    association or QOS limit names itself in `limit_reason` (Slurm's reason, e.g.
    AssocMaxSubmitJobLimit), which sbatch prints on a line of its own before the message."""

    def __init__(self, detail: str = "", *, limit_reason: str = ""):
        super().__init__(detail)
        self.limit_reason = limit_reason

    reason = "LimitExceeded"
    message = "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)"
    grpc_code = "RESOURCE_EXHAUSTED"


class InvalidAccount(JemError):
    """A job's account that does not exist, or that its user (or its partition) may not use
    (Slurm's ESLURM_INVALID_ACCOUNT)."""

    reason = "InvalidAccount"
    message = "Invalid account or account/partition combination specified"
    grpc_code = "INVALID_ARGUMENT"


class InvalidNodeCount(JemError):
    """More nodes than the partition's MaxNodes (Slurm's ESLURM_INVALID_NODE_COUNT)."""

    reason = "InvalidNodeCount"
    message = "Node count specification invalid"
    grpc_code = "INVALID_ARGUMENT"


class PartitionAccessDenied(JemError):
    """A partition whose AllowGroups the job's user is in none of (Slurm's ESLURM_JOB_MISSING_REQUIRED_PARTITION_GROUP)."""

    reason = "PartitionAccessDenied"
    message = "User's group not permitted to use this partition"
    grpc_code = "PERMISSION_DENIED"


# Reservations (scontrol create reservation).
class InvalidReservation(JemError):
    """A reservation that cannot be: no nodes, an end before its start, an unknown one named."""

    reason = "InvalidReservation"
    message = "Requested reservation is invalid"
    grpc_code = "INVALID_ARGUMENT"


class ReservationAccessDenied(JemError):
    """A job naming a reservation that does not admit its user or account."""

    reason = "ReservationAccessDenied"
    message = "Access denied to requested reservation"
    grpc_code = "PERMISSION_DENIED"


class ReservationBusy(JemError):
    """A reservation over nodes that running jobs or another reservation hold then (Slurm's
    ESLURM_NODES_BUSY; IGNORE_JOBS or OVERLAP allow it)."""

    reason = "ReservationBusy"
    message = "Requested nodes are busy"
    grpc_code = "FAILED_PRECONDITION"


# Managing associations and QOS (sacctmgr, `jem accounts`).
class AccountingEntityExists(JemError):
    """An account, user association or QOS added that is there already."""

    reason = "AccountingEntityExists"
    message = "Already existing account, user association or QOS"
    grpc_code = "ALREADY_EXISTS"


class AccountingEntityNotFound(JemError):
    """An account, user association or QOS named that is not there."""

    reason = "AccountingEntityNotFound"
    message = "No such account, user association or QOS"
    grpc_code = "NOT_FOUND"


class AccountingEntityInUse(JemError):
    """A deletion that would leave the tree broken or jobs without their account or QOS."""

    reason = "AccountingEntityInUse"
    message = "Account, user association or QOS in use"
    grpc_code = "FAILED_PRECONDITION"


class InvalidSetting(JemError):
    """A sacctmgr setting (Name=Value) that is unknown or has a bad value."""

    reason = "InvalidSetting"
    message = "Invalid setting"
    grpc_code = "INVALID_ARGUMENT"


class RateLimited(JemError):
    """A user sent more requests than their rate allows (Slurm's rl_* limits). `retry_after_s`
    says when one more will be taken; the client library waits that long and sends it again."""

    reason = "RateLimited"
    message = "Request rate limit exceeded; retry later"
    grpc_code = "RESOURCE_EXHAUSTED"

    def __init__(self, detail: str = "", *, retry_after_s: float = 1.0):
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class TooManyStreams(JemError):
    """A user holds as many open streams (WatchJobs, steps) as they may, or the controller
    has no room for another."""

    reason = "TooManyStreams"
    message = "Too many open streams"
    grpc_code = "RESOURCE_EXHAUSTED"


class StepTooLarge(JemError):
    """A step asks for more tasks, CPUs or nodes than its job's allocation holds."""

    reason = "StepTooLarge"
    message = "More processors requested than permitted"
    grpc_code = "RESOURCE_EXHAUSTED"


class StaleRun(JemError):
    """An order for a run of a job the node does not hold (the job was requeued and runs
    again, or its run ended there), or sent under an earlier node epoch (the node registered
    since): refused, never run (`jem.agent.fencing`). Slurm's slurmd refuses such a step
    with ESLURMD_CREDENTIAL_REVOKED."""

    reason = "StaleRun"
    message = "Job credential revoked"
    grpc_code = "FAILED_PRECONDITION"


class StaleDecision(JemError):
    """Live state changed under a scheduling decision; the loop re-plans."""

    reason = "StaleDecision"
    message = "Scheduling decision is stale"
    grpc_code = "ABORTED"


class ControllerNotReady(JemError):
    reason = "ControllerNotReady"
    message = "JEM controller is not ready; retry"
    grpc_code = "UNAVAILABLE"


class StoreUnavailable(JemError):
    """The controller's store refused a write (a full disk, an I/O error): nothing was changed."""

    reason = "StoreUnavailable"
    message = "JEM controller cannot write its state now; nothing was changed, retry later"
    grpc_code = "UNAVAILABLE"


class ControllerUnreachable(JemError):
    """The client could not reach the controller (raised client-side)."""

    reason = "ControllerUnreachable"
    message = "Unable to contact JEM controller"
    grpc_code = "UNAVAILABLE"


class InternalError(JemError):
    reason = "InternalError"
    message = "Unexpected controller error"
    grpc_code = "INTERNAL"


class ConfigError(JemError):
    """A configuration file that fails validation; the detail names the key."""

    reason = "ConfigError"
    message = "Invalid configuration"
    grpc_code = "INVALID_ARGUMENT"


# The cluster CA and certificates (jem.security.ca, `jem ca`).

class CAError(JemError):
    reason = "CAError"
    message = "cluster CA"
    grpc_code = "FAILED_PRECONDITION"


class CAExists(CAError):
    """`init_ca` on a directory that already has a CA key."""

    reason = "CAExists"
    message = "a cluster CA already exists"


class CANotFound(CAError):
    """Issuing a certificate in a directory with no CA (run `jem ca init` first)."""

    reason = "CANotFound"
    message = "no cluster CA"


class CertExists(CAError):
    """Issuing a certificate whose key is already there, without `replace=True`."""

    reason = "CertExists"
    message = "a certificate already exists"


class InvalidName(CAError):
    """A node name or host that cannot go into a certificate or a file name."""

    reason = "InvalidName"
    message = "invalid name"
    grpc_code = "INVALID_ARGUMENT"



def _all_errors() -> dict[str, type[JemError]]:
    found: dict[str, type[JemError]] = {}
    stack = [JemError]
    while stack:
        cls = stack.pop()
        found[cls.reason] = cls
        stack.extend(cls.__subclasses__())
    return found


ERRORS_BY_REASON: dict[str, type[JemError]] = _all_errors()
