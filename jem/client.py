"""The Python client of a JEM controller, used by the `jem` CLI, the Slurm shim and portals.

Speaks jem.v1 over gRPC and hands back jem.model objects; every failure
arrives as a `JemError` subclass (the controller's error, or
`ControllerUnreachable` naming the address). The controller is found from
the `address` argument, else the client config (`jem.model.clientconfig`:
$JEM_CONFIG or /etc/jem/client.toml, $JEM_CONTROLLER over both), else the
address file that `jem up` / `jem controller` leave in the default state
directory.

Every call carries a credential: a fresh single-use token from this host's
credential service (`jem authd`, whose socket the client config names), or,
where the client config says `auth = "munge"`, a fresh MUNGE credential from
this host's munged (restricted to the controller's uid, `munge_uid`), or,
when the client was given one, a JWT (`token=`: `jem token`'s or an external
issuer's) as a bearer token.
The client never says who it is; the controller learns it from the credential.
A submit (and a step) also carries the user's signature over what runs; the
call's token and the signature come from one round trip to the service.
"""

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import grpc

from jem import accountingwire, convert, listedjobs
from jem._core.wire import top_varint
from jem.model import defaults
from jem.model.accounting import AssociationChange, QosChange
from jem.model.associations import Association, AssociationFilter, Qos, User
from jem.model.audit import AuditQuery, AuditRecord
from jem.model.errors import (ERRORS_BY_REASON, ControllerUnreachable, CrontabEntryRefused, InternalError,
                              InvalidCrontab, JemError, JobNotFound, LimitExceeded, RateLimited)
from jem.model.execution import SignalScope
from jem.model.clientconfig import ClientConfig, load_client_config
from jem.model.controllerinfo import ControllerInfo
from jem.model.cron import parse_schedule
from jem.model.crontab import Crontab, EntryRequest
from jem.model.diagnostics import Diagnostics
from jem.model.job import Job, JobSpec
from jem.model.explanation import Explanation
from jem.model.jobpriority import JobPriority
from jem.model.reservation import Reservation
from jem.model.run import RequeuedRun
from jem.model.jobfilter import JobFilter
from jem.model.node import Node, NodeState
from jem.model.partition import Partition
from jem.model.shares import ShareRow
from jem.model.states import JobState
from jem.model.step import Step, StepSpec, TaskExit, TaskOutput
from jem.model.stepusage import JobUsageReport
from jem.model.utilization import ReportKind, UsageReport
from jem.relay import RelayChannel, channel_to, socket_in_this_process
from jem.security import munge
from jem.security.authd import MAX_REQUESTS, AuthdConnection
from jem.security.digest import spec_digest, step_spec_digest
from jem.security.tokens import AUD_CONTROLLER, AUD_CRON, AUD_JOB, AUD_STEP
from jem.v1 import admin_pb2, admin_pb2_grpc, jobs_pb2, jobs_pb2_grpc, steps_pb2

ADDRESS_FILE = "controller.addr"


def find_controller(config: ClientConfig | None = None) -> str:
    """The controller's address: the client config's ($JEM_CONTROLLER first), else the default
    state dir's address file."""
    config = config or load_client_config()
    if config.controller:
        return config.controller
    path = os.path.join(defaults.state_dir(), ADDRESS_FILE)
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        raise ControllerUnreachable(f"no controller address: JEM_CONTROLLER is not set and {path} does not "
                                    f"exist (start a cluster with `jem up`)") from None


def _channel(address: str, ca_file: str, relay_socket: str | None) -> "grpc.Channel | RelayChannel":
    """A channel to the controller; with `relay_socket`, one whose unary calls go through that call relay."""
    try:
        if not relay_socket:
            return channel_to(address, ca_file)
        if ca_file:   # read by the relay, but an unreadable CA is this caller's error, named as channel_to's
            open(ca_file, "rb").close()
        return RelayChannel(relay_socket, address, ca_file)
    except OSError as exc:
        raise ControllerUnreachable(f"{address}: cannot read the cluster CA {ca_file}: {exc.strerror}") from None


STEPS_BATCH = 1000   # job ids in one ListSteps call
NEXT_AFTER_JOB_ID = jobs_pb2.ListJobsResponse.DESCRIPTOR.fields_by_name["next_after_job_id"].number


def _as_is(page: bytes) -> bytes:
    """A response deserializer that keeps the serialized message."""
    return page


def _in_batches(job_ids: Sequence[int], fetch) -> list:
    """`fetch(ids)` of STEPS_BATCH job ids at a time (the controller takes at most [limits] max_args
    per call), joined in order."""
    job_ids = list(job_ids)
    return [item for i in range(0, len(job_ids), STEPS_BATCH) for item in fetch(job_ids[i:i + STEPS_BATCH])]


def _message(factory, **fields):
    """A request message; a value it cannot hold (a number past its field's range, text that is
    not UTF-8) is the caller's InvalidArgument, not a traceback."""
    with convert.checked_values():
        return factory(**fields)


def _seconds(text: str) -> float:
    """A retry-after the controller sent, within reason (a garbled one waits a second)."""
    try:
        return min(max(float(text), 0.0), 60.0)
    except ValueError:
        return 1.0


def _canonical_schedule(schedule: str) -> str:
    """The schedule a scrontab entry's job will carry (the controller's parse of it, in Slurm's canonical
    text), which its signature covers; one that does not parse is kept as written (the controller refuses it)."""
    try:
        return parse_schedule(schedule).text
    except InvalidCrontab:
        return schedule


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as the controller reports it."""

    node: Node
    state: NodeState
    partitions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobEventNotice:
    """One committed job event from WatchJobs."""

    seq: int
    time: float
    event: str
    job: Job


class Client:
    def __init__(self, address: str | None = None, *, token: str | None = None, authd_socket: str | None = None,
                 ca_file: str | None = None, auth: str | None = None, munge_socket: str | None = None,
                 munge_uid: int | None = None, timeout_s: float = 30.0, relay_socket: str | None = None):
        """token: a JWT to act with; else each call takes a credential: with auth "jem" a token from
        the credential service at `authd_socket`, with auth "munge" a MUNGE credential from the
        munged at `munge_socket` restricted to `munge_uid` (each default: the client config's).
        ca_file: the cluster CA to verify the controller with (default: the client config's; none:
        plaintext, for loopback). relay_socket: a call relay (`jem.relay`) to send unary calls through
        (default: this process's, in a command server's child; else none)."""
        config = load_client_config()
        self.address = address or find_controller(config)
        self._bearer = (("authorization", f"Bearer {token}"),) if token else None
        self._authd = AuthdConnection(authd_socket or config.authd_socket)
        self._auth = auth or config.auth
        self._munge_socket = (config.munge_socket if munge_socket is None else munge_socket) or None
        self._munge_uid = config.munge_uid if munge_uid is None else munge_uid
        self._timeout_s = timeout_s
        self._channel = _channel(self.address, config.ca_file if ca_file is None else ca_file,
                                 relay_socket or socket_in_this_process())
        self._jobs = jobs_pb2_grpc.JobServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self._list_jobs_pages = self._channel.unary_unary(
            "/jem.v1.JobService/ListJobs", request_serializer=jobs_pb2.ListJobsRequest.SerializeToString,
            response_deserializer=_as_is)

    def close(self) -> None:
        self._channel.close()
        self._authd.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def _metadata(self) -> tuple[tuple[str, str], ...]:
        """A fresh credential for one call (credential-service tokens are single-use)."""
        return self._signed_metadata(None)[0]

    def _signed_metadata(self, signed: tuple[str, str] | None) -> tuple[tuple[tuple[str, str], ...], str]:
        """(metadata with a fresh credential for one call, this user's signature over the digest of
        `signed` = (audience, digest), or "" without `signed`), from one round trip to the credential
        service. Agents run only signed work by default; a JWT or MUNGE caller has no credential
        service to ask: no signature."""
        if self._bearer is not None:
            return self._bearer, ""
        if self._auth == "munge":   # no credential service to sign with: the job goes unsigned
            return (("jem-munge", munge.encode(AUD_CONTROLLER.encode(), socket_path=self._munge_socket,
                                               uid_restriction=self._munge_uid)),), ""
        wanted = [(AUD_CONTROLLER, None)] + ([signed] if signed is not None else [])
        token, *signature = self._authd.fetch(wanted)
        return (("jem-token", token),), (signature[0] if signature else "")

    def _signed_jobs(self, digests: Sequence[str], *, audience: str) -> tuple[tuple[tuple[str, str], ...], list[str]]:
        """(metadata with a fresh credential for one call, this user's signature for `audience` over each
        job digest), in as few round trips to the credential service as it answers (its MAX_REQUESTS
        each; the call's token last, so it is the freshest); no signatures without a service."""
        if self._bearer is not None or self._auth == "munge":
            return self._signed_metadata(None)[0], [""] * len(digests)
        wanted = [(audience, digest) for digest in digests] + [(AUD_CONTROLLER, None)]
        answers: list[str] = []
        for start in range(0, len(wanted), MAX_REQUESTS):
            answers += self._authd.fetch(wanted[start:start + MAX_REQUESTS])
        return (("jem-token", answers[-1]),), answers[:-1]

    def _call(self, method, request, metadata: tuple[tuple[str, str], ...] | None = None):
        try:
            return method(request, timeout=self._timeout_s, metadata=metadata or self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def _error(self, exc: grpc.RpcError) -> JemError:
        trailing = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
        reason = trailing.get("jem-reason", "")
        text = exc.details() or ""
        cls = ERRORS_BY_REASON.get(reason)
        if cls is RateLimited:
            return RateLimited(text.removeprefix(cls.message + ": "),
                               retry_after_s=_seconds(trailing.get("jem-retry-after-s", "1")))
        if cls is LimitExceeded:
            detail = text.removeprefix(cls.message).removeprefix(": ")
            return LimitExceeded(detail, limit_reason=trailing.get("jem-limit-reason", ""))
        if cls is CrontabEntryRefused:
            return CrontabEntryRefused(text, lines=trailing.get("jem-crontab-lines", ""),
                                       cause=ERRORS_BY_REASON.get(trailing.get("jem-cause-reason", ""), JemError))
        if cls is None:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return ControllerUnreachable(f"{self.address}: {text}")
            return InternalError(f"{exc.code().name}: {text}")
        if text == cls.message:
            return cls()
        return cls(text[len(cls.message) + 2:] if text.startswith(cls.message + ": ") else text)

    # ------------------------------------------------------------ jobs

    def submit(self, spec: JobSpec, *, test_only: bool = False) -> int:
        """Queue a job, signed by this user; returns its id. Over the user's submission rate,
        waits as long as the controller says and sends it again (as Slurm's commands back off),
        for up to the client's timeout."""
        digest = spec_digest(spec)
        request = _message(jobs_pb2.SubmitJobRequest, spec=convert.spec_to_pb(spec), test_only=test_only)
        give_up = time.monotonic() + self._timeout_s
        while True:
            metadata, request.user_signature = self._signed_metadata((AUD_JOB, digest))
            try:
                return self._call(self._jobs.SubmitJob, request, metadata).job_id
            except RateLimited as exc:
                if time.monotonic() + exc.retry_after_s > give_up:
                    raise
                time.sleep(exc.retry_after_s)

    def set_crontab(self, text: str, entries: Sequence[EntryRequest], *, user: str = "") -> Crontab:
        """Install `text` as `user`'s crontab ("": this user's), `entries` being its cron lines'
        jobs, each signed by this user when the crontab is theirs (another user's, root's to
        install, goes unsigned); returns it as installed (its entries' jobs and lines).
        Each is signed as a scrontab entry's job (AUD_CRON, over its spec with the schedule the
        controller gives it: jem.security.digest). Over the submission rate, waits and sends it
        again as `submit` does."""
        digests = [spec_digest(dataclasses.replace(entry.spec, cron_schedule=_canonical_schedule(entry.schedule)))
                   for entry in entries]
        give_up = time.monotonic() + self._timeout_s
        while True:
            metadata, signatures = (self._signed_jobs(digests, audience=AUD_CRON) if not user
                                    else (self._metadata, [""] * len(digests)))
            request = jobs_pb2.SetCrontabRequest(user=user, text=text, entries=[
                convert.entry_request_to_pb(dataclasses.replace(entry, user_signature=signature))
                for entry, signature in zip(entries, signatures)])
            try:
                response = self._call(self._jobs.SetCrontab, request, metadata)
            except RateLimited as exc:
                if time.monotonic() + exc.retry_after_s > give_up:
                    raise
                time.sleep(exc.retry_after_s)
                continue
            return Crontab(user, text, convert.installed_entries_from_pb(response.entries))

    def remove_crontab(self, *, user: str = "") -> None:
        """Remove `user`'s crontab ("": this user's): its pending jobs are cancelled."""
        self._call(self._jobs.SetCrontab, jobs_pb2.SetCrontabRequest(user=user, remove=True))

    def get_crontab(self, user: str = "") -> Crontab | None:
        """`user`'s crontab ("": this user's) as installed, with the lines disabled since; None if none."""
        return convert.crontab_from_pb(self._call(self._jobs.GetCrontab, jobs_pb2.GetCrontabRequest(user=user)))

    def get_job(self, job_id: int, *, wait_while_pending_s: float = 0.0) -> Job:
        """The job. `wait_while_pending_s` > 0: the controller answers once the job is no longer
        PENDING or after that long (at most its own maximum, a few seconds; at once when this user
        already holds all their stream slots), so a caller waiting for a start needs no polling."""
        request = _message(jobs_pb2.GetJobRequest, job_id=job_id, wait_while_pending_s=wait_while_pending_s)
        return convert.job_from_pb(self._call(self._jobs.GetJob, request).job)

    def list_jobs(self, job_filter: JobFilter = JobFilter(), *, include_old: bool = False) -> list[Job]:
        """Every job `job_filter` matches, in id order: the controller filters, and sends the
        listing a page at a time. `include_old`: also jobs ended long ago (from the store)."""
        return self.listing(job_filter, include_old=include_old).jobs

    def listing(self, job_filter: JobFilter = JobFilter(), *, include_old: bool = False) -> listedjobs.Listing:
        """list_jobs' jobs as a table: each field's values for all of them at once (see jem.listedjobs)."""
        request = _message(jobs_pb2.ListJobsRequest, include_old=include_old)
        convert.filter_to_pb(job_filter, request)
        pages: list[bytes] = []
        while True:   # (the pages as bytes: jem.listedjobs reads them without the protobuf runtime)
            page = self._call(self._list_jobs_pages, request)
            pages.append(page)
            after = top_varint(page, NEXT_AFTER_JOB_ID)
            if not after:
                return listedjobs.listing_of_pages(pages)
            request.after_job_id = after

    def complete_allocation(self, job_id: int, exit_code: int) -> JobState:
        """End the allocation `job_id` (salloc's job) with its command's exit code; its state after."""
        request = _message(jobs_pb2.CompleteAllocationRequest, job_id=job_id, exit_code=exit_code)
        return convert.state_from_pb(self._call(self._jobs.CompleteAllocation, request).state)

    def cancel(self, job_id: int, *, signal: int = 0, array_task_ids: Sequence[int] = (),
               scope: SignalScope = SignalScope.STEPS) -> JobState:
        """Cancel a job (signal 0) or send it a signal, to the processes `scope` names (scancel's
        default: every process but the batch shell; -b the batch shell; -f all); returns its state
        after. An array's id means every task of it; `array_task_ids` narrows that to those tasks."""
        request = _message(jobs_pb2.CancelJobRequest, job_id=job_id, signal=signal, array_task_ids=array_task_ids,
                                            scope=convert.SCOPE_TO_PB[scope])
        response = self._call(self._jobs.CancelJob, request)
        return convert.state_from_pb(response.state)

    def wait(self, job_id: int, *, max_poll_s: float = 2.0) -> int:
        """Block until the job (every task of an array) has ended; returns sbatch --wait's exit
        code: the job's, the highest of an array's tasks, 1 for one ended by a signal or cancelled."""
        delay_s = 0.05
        while True:
            records = self.list_jobs(JobFilter(job_ids=frozenset({job_id})), include_old=True)
            if not records:
                raise JobNotFound(str(job_id))
            if all(r.state.is_terminal for r in records):
                return max(1 if r.exit_signal or r.state is JobState.CANCELLED else r.exit_code for r in records)
            time.sleep(delay_s)
            delay_s = min(delay_s * 1.5, max_poll_s)

    def requeue(self, job_id: int) -> JobState:
        """Return a started or ended job to the queue; its state after (COMPLETING while a running one is killed)."""
        response = self._call(self._jobs.RequeueJob, _message(jobs_pb2.RequeueJobRequest, job_id=job_id))
        return convert.state_from_pb(response.state)

    def suspend(self, job_id: int, *, resume: bool = False) -> Job:
        """Suspend a running job, or resume a suspended one (scontrol suspend/resume; operators)."""
        response = self._call(self._jobs.SuspendJob, jobs_pb2.SuspendJobRequest(job_id=job_id, resume=resume))
        return convert.job_from_pb(response.job)

    def hold(self, job_id: int) -> str:
        """scontrol hold: an operator's is an admin hold, a user's a user hold. Who holds it now."""
        return self._call(self._jobs.HoldJob, _message(jobs_pb2.HoldJobRequest, job_id=job_id)).held_by

    def user_hold(self, job_id: int) -> str:
        """scontrol uhold: a user hold (the owner may release it) whoever asks. Who holds it now."""
        return self._call(self._jobs.HoldJob, _message(jobs_pb2.HoldJobRequest, job_id=job_id,
                                                       user_hold=True)).held_by

    def release(self, job_id: int) -> JobState:
        response = self._call(self._jobs.ReleaseJob, _message(jobs_pb2.ReleaseJobRequest, job_id=job_id))
        return convert.state_from_pb(response.state)

    def update(self, job_id: int, *, name: str | None = None, time_limit_s: int | None = None,
               nice: int | None = None, partition: str | None = None, n_nodes: int | None = None) -> Job:
        fields = {k: v for k, v in (("name", name), ("time_limit_s", time_limit_s), ("nice", nice),
                                    ("partition", partition), ("n_nodes", n_nodes)) if v is not None}
        response = self._call(self._jobs.UpdateJob, _message(jobs_pb2.UpdateJobRequest, job_id=job_id, **fields))
        return convert.job_from_pb(response.job)

    def watch(self, *, job_ids: Sequence[int] = (), users: Sequence[str] = ()) -> Iterator[JobEventNotice]:
        """Committed job events as they happen, until the caller stops iterating."""
        request = _message(jobs_pb2.WatchJobsRequest, job_ids=job_ids, users=users)
        call = self._jobs.WatchJobs(request, metadata=self._metadata)
        try:
            for response in call:
                yield JobEventNotice(response.seq, convert.time_from_pb(response, "time") or 0.0, response.event,
                                     convert.job_from_pb(response.job))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise self._error(exc) from None
        finally:
            call.cancel()

    # ------------------------------------------------------------ job steps

    def run_step(self, job_id: int, spec: StepSpec) -> Iterator[Step | TaskOutput | TaskExit]:
        """Run a step in a running job: the step (RUNNING), then its tasks' output and
        exits as they come, then the ended step. Closing the iterator early (or an
        exception in the caller's loop) cancels the call, which kills the step."""
        metadata, signature = self._signed_metadata((AUD_STEP, step_spec_digest(spec)))
        request = _message(steps_pb2.RunStepRequest, job_id=job_id, spec=convert.step_spec_to_pb(spec),
                                           user_signature=signature)
        call = self._jobs.RunStep(request, metadata=metadata)
        try:
            for response in call:
                kind = response.WhichOneof("item")
                if kind == "output":
                    yield convert.task_output_from_pb(response.output)
                elif kind == "exit":
                    yield convert.task_exit_from_pb(response.exit)
                else:
                    yield convert.step_from_pb(response.step)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        finally:
            call.cancel()

    def wait_until_running(self, job_id: int, *, on_waiting: Callable[[], None] = lambda: None,
                           quiet_s: float = 0.5, poll_s: float = 0.1) -> Job:
        """Wait until the job leaves PENDING (running, or ended without running) and
        return it; `on_waiting()` is called once if it still waits after `quiet_s`."""
        t_start, has_waited = time.monotonic(), False
        while True:
            job = self.get_job(job_id)
            if job.state is not JobState.PENDING:
                return job
            if not has_waited and time.monotonic() - t_start >= quiet_s:
                on_waiting()
                has_waited = True
            time.sleep(poll_s)

    def list_steps(self, job_ids: Sequence[int]) -> list[Step]:
        """The steps of the given jobs, running and ended, by job and step id (asked for
        STEPS_BATCH jobs at a time: the controller takes at most [limits] max_args per call)."""
        def fetch(ids: list[int]) -> list[Step]:
            request = _message(steps_pb2.ListStepsRequest, job_ids=ids)
            return [convert.step_from_pb(pb) for pb in self._call(self._jobs.ListSteps, request).steps]

        return _in_batches(job_ids, fetch)

    def list_runs(self, job_ids: Sequence[int]) -> list[RequeuedRun]:
        """The earlier runs of the given jobs (each run requeued after it: sacct -D), by job and run
        (asked for STEPS_BATCH jobs at a time, as list_steps)."""
        def fetch(ids: list[int]) -> list[RequeuedRun]:
            request = _message(jobs_pb2.ListRunsRequest, job_ids=ids)
            return [convert.requeued_run_from_pb(pb) for pb in self._call(self._jobs.ListRuns, request).runs]

        return _in_batches(job_ids, fetch)

    def job_usage(self, job_ids: Sequence[int]) -> JobUsageReport:
        """What the running steps of the jobs have used so far, from their nodes' agents (sstat),
        and why a job has no rows (jem.model.stepusage.UsageProblem)."""
        job_ids = list(job_ids)
        steps, problems = [], []
        for i in range(0, len(job_ids), STEPS_BATCH):
            request = _message(jobs_pb2.JobUsageRequest, job_ids=job_ids[i:i + STEPS_BATCH])
            report = convert.job_usage_from_pb(self._call(self._jobs.JobUsage, request))
            steps += report.steps
            problems += report.problems
        return JobUsageReport(steps=tuple(steps), problems=tuple(problems))

    # ------------------------------------------------------------ nodes and partitions

    def list_nodes(self, names: Sequence[str] = ()) -> list[NodeInfo]:
        response = self._call(self._admin.ListNodes, _message(admin_pb2.ListNodesRequest, names=names))
        return [NodeInfo(node, state, tuple(parts)) for node, state, parts in map(convert.node_from_pb, response.nodes)]

    def list_shares(self, accounts: Sequence[str] = ()) -> tuple[str, list[ShareRow]]:
        """(fair-share algorithm, the tree's associations in sshare order)."""
        response = self._call(self._admin.ListShares, _message(admin_pb2.ListSharesRequest, accounts=accounts))
        return response.algorithm, [convert.share_row_from_pb(pb) for pb in response.associations]

    def diagnostics(self) -> Diagnostics:
        """The controller's statistics since it started or they were reset (sdiag)."""
        return convert.diagnostics_from_pb(self._call(self._admin.GetDiagnostics, admin_pb2.GetDiagnosticsRequest()))

    def settings(self) -> dict[str, str]:
        """The controller's scheduling, priority and privacy settings by jem.toml's names, as text."""
        return dict(self._call(self._admin.GetSettings, admin_pb2.GetSettingsRequest()).settings)

    def reset_diagnostics(self) -> None:
        """Start the controller's statistics afresh (sdiag -r; operators)."""
        self._call(self._admin.ResetDiagnostics, admin_pb2.ResetDiagnosticsRequest())

    def drain_node(self, name: str, reason: str) -> NodeInfo:
        node, state, parts = convert.node_from_pb(
            self._call(self._admin.DrainNode, _message(admin_pb2.DrainNodeRequest, name=name, reason=reason)).node)
        return NodeInfo(node, state, tuple(parts))

    def down_node(self, name: str, reason: str) -> NodeInfo:
        """Take a node DOWN until resumed (scontrol update state=down): its jobs are killed, then
        requeued or ended NODE_FAIL (operators only; a reason is required)."""
        node, state, parts = convert.node_from_pb(
            self._call(self._admin.DownNode, _message(admin_pb2.DownNodeRequest, name=name, reason=reason)).node)
        return NodeInfo(node, state, tuple(parts))

    def resume_node(self, name: str) -> NodeInfo:
        node, state, parts = convert.node_from_pb(
            self._call(self._admin.ResumeNode, _message(admin_pb2.ResumeNodeRequest, name=name)).node)
        return NodeInfo(node, state, tuple(parts))

    def undrain_node(self, name: str) -> NodeInfo:
        """Undo a drain only: a node taken DOWN stays DOWN (scontrol update state=undrain)."""
        node, state, parts = convert.node_from_pb(
            self._call(self._admin.UndrainNode, _message(admin_pb2.UndrainNodeRequest, name=name)).node)
        return NodeInfo(node, state, tuple(parts))

    def list_partitions(self) -> list[Partition]:
        response = self._call(self._admin.ListPartitions, _message(admin_pb2.ListPartitionsRequest))
        return [convert.partition_from_pb(p) for p in response.partitions]

    def list_audit(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
        """Audit records (the newest `query.limit`, oldest first): operators see all, others their own."""
        response = self._call(self._admin.ListAudit, convert.audit_query_to_pb(query))
        return [convert.audit_from_pb(pb) for pb in response.records]

    def issue_token(self, *, user: str = "", lifespan_s: int = 0) -> tuple[str, float]:
        """A `jem token` JWT for `user` (default: the caller) and its expiry (epoch seconds)."""
        request = _message(admin_pb2.IssueTokenRequest, user=user, lifespan_s=lifespan_s)
        response = self._call(self._admin.IssueToken, request)
        return response.token, convert.time_from_pb(response, "expires")

    def list_priorities(self, *, job_ids: Sequence[int] = (), users: Sequence[str] = (),
                        partitions: Sequence[str] = ()) -> tuple[dict[str, float], list[JobPriority]]:
        """(the PriorityWeight of each factor, the pending jobs chosen with their factors), as sprio shows them."""
        request = _message(jobs_pb2.ListPrioritiesRequest, job_ids=job_ids, users=users, partitions=partitions)
        response = self._call(self._jobs.ListPriorities, request)
        return (convert.priority_weights_from_pb(response.weights),
                [convert.job_priority_from_pb(pb) for pb in response.jobs])

    def ping(self) -> ControllerInfo:
        """Who the controller is: its cluster's name, host and version (scontrol ping)."""
        response = self._call(self._jobs.Ping, jobs_pb2.PingRequest())
        return ControllerInfo(cluster_name=response.cluster_name, host=response.host, version=response.version,
                              server_time=convert.time_from_pb(response, "server_time") or 0.0)

    def usage_report(self, kind: ReportKind, *, start: float, end: float, accounts: Sequence[str] = (),
                     users: Sequence[str] = ()) -> UsageReport:
        """CPU time over [start, end) from the controller's store (sreport): the cluster's totals
        or its accounts' and users' usage, by `kind` (jem.model.utilization.ReportKind)."""
        request = convert.usage_request_to_pb(kind, start=start, end=end, accounts=accounts, users=users)
        return convert.usage_report_from_pb(self._call(self._jobs.UsageReport, request))

    def explain_job(self, job_id: int) -> Explanation:
        """Why the job waits (jem why)."""
        response = self._call(self._jobs.ExplainJob, _message(jobs_pb2.ExplainJobRequest, job_id=job_id))
        return convert.explanation_from_pb(response)

    # ------------------------------------------------------------ accounting (sacctmgr)

    def list_associations(self, where: AssociationFilter = AssociationFilter(), *, effective: bool = False
                          ) -> tuple[list[Association], list[tuple[User, str]]]:
        """(the associations `where` selects, by account then user; their users with AdminLevel).
        With `effective`, each as it applies: Max* limits, QOS list and default QOS inherited
        from the accounts above it filled in (as sacctmgr shows them)."""
        request = admin_pb2.ListAssociationsRequest()
        accountingwire.filter_to_pb(where, request.filter)
        response = self._call(self._admin.ListAssociations, request)
        return ([accountingwire.association_from_pb(pb)
                 for pb in (response.effective if effective else response.associations)],
                [(User(pb.name, pb.default_account), pb.admin_level) for pb in response.users])

    def add_accounts(self, accounts: Sequence[Association]) -> list[Association]:
        request = _message(admin_pb2.AddAccountsRequest,
                           accounts=[accountingwire.association_to_pb(a) for a in accounts])
        return [accountingwire.association_from_pb(pb) for pb in self._call(self._admin.AddAccounts, request).added]

    def add_users(self, associations: Sequence[Association], *, default_account: str = "") -> list[Association]:
        request = _message(admin_pb2.AddUsersRequest, default_account=default_account,
                           associations=[accountingwire.association_to_pb(a) for a in associations])
        return [accountingwire.association_from_pb(pb) for pb in self._call(self._admin.AddUsers, request).added]

    def modify_associations(self, where: AssociationFilter, change: AssociationChange) -> list[Association]:
        with convert.checked_values():
            request = admin_pb2.ModifyAssociationsRequest(change=accountingwire.association_change_to_pb(change))
            accountingwire.filter_to_pb(where, request.filter)
        response = self._call(self._admin.ModifyAssociations, request)
        return [accountingwire.association_from_pb(pb) for pb in response.modified]

    def delete_associations(self, where: AssociationFilter) -> list[Association]:
        request = admin_pb2.DeleteAssociationsRequest()
        accountingwire.filter_to_pb(where, request.filter)
        response = self._call(self._admin.DeleteAssociations, request)
        return [accountingwire.association_from_pb(pb) for pb in response.deleted]

    def list_qos(self, names: Sequence[str] = ()) -> list[Qos]:
        response = self._call(self._admin.ListQos, _message(admin_pb2.ListQosRequest, names=names))
        return [accountingwire.qos_from_pb(pb) for pb in response.qos]

    def add_qos(self, qos: Sequence[Qos]) -> list[Qos]:
        request = _message(admin_pb2.AddQosRequest, qos=[accountingwire.qos_to_pb(q) for q in qos])
        return [accountingwire.qos_from_pb(pb) for pb in self._call(self._admin.AddQos, request).added]

    def modify_qos(self, names: Sequence[str], change: QosChange) -> list[Qos]:
        with convert.checked_values():
            request = admin_pb2.ModifyQosRequest(names=names, change=accountingwire.qos_change_to_pb(change))
        return [accountingwire.qos_from_pb(pb) for pb in self._call(self._admin.ModifyQos, request).modified]

    def delete_qos(self, names: Sequence[str]) -> list[Qos]:
        request = _message(admin_pb2.DeleteQosRequest, names=names)
        return [accountingwire.qos_from_pb(pb) for pb in self._call(self._admin.DeleteQos, request).deleted]

    # ------------------------------------------------------------ reservations (scontrol)

    def list_reservations(self, names: Sequence[str] = ()) -> list[Reservation]:
        response = self._call(self._admin.ListReservations, _message(admin_pb2.ListReservationsRequest, names=names))
        return [convert.reservation_from_pb(pb) for pb in response.reservations]

    def create_reservation(self, reservation: Reservation, *, node_count: int = 0) -> Reservation:
        """Create `reservation` (operators only); with `node_count` and no node names, that many
        usable nodes of its partition are picked. Returns it as stored."""
        with convert.checked_values():
            pb = convert.reservation_to_pb(reservation)
            pb.node_count = node_count
        response = self._call(self._admin.CreateReservation, admin_pb2.CreateReservationRequest(reservation=pb))
        return convert.reservation_from_pb(response.reservation)

    def update_reservation(self, reservation: Reservation) -> Reservation:
        with convert.checked_values():
            pb = convert.reservation_to_pb(reservation)
        response = self._call(self._admin.UpdateReservation, admin_pb2.UpdateReservationRequest(reservation=pb))
        return convert.reservation_from_pb(response.reservation)

    def delete_reservation(self, name: str) -> Reservation:
        response = self._call(self._admin.DeleteReservation, _message(admin_pb2.DeleteReservationRequest, name=name))
        return convert.reservation_from_pb(response.reservation)
