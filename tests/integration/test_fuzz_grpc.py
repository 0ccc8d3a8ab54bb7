"""Property-based fuzzing of every request a user can send, against one real cluster.

Every JobService and AdminService request message is generated from its descriptor
(arbitrary field values: huge and negative numbers, odd unicode, NUL bytes, empty
and long strings, long repeated fields, enum numbers no .proto names) and sent with
a valid credential. Whatever is sent gets an answer or a clear error: never INTERNAL
or UNKNOWN, never a traceback or a Python exception's name in the message, and the
controller and both agents stay up. A plain user's requests to change root's jobs, the
nodes or site policy (accounts, QOS, reservations) are all refused; root's changes of site
policy are fuzzed on a cluster of their own, whose scheduling cycles plan waiting jobs against
whatever they leave. A few jobs with odd but accepted values run for real on the agents and
end in a terminal state with a reason.
"""

import os
import re
import time

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as FD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import LocalCluster, cancel_and_wait, wait_until
from jem import convert
from jem.controller.admin_service import AdminServicer
from jem.controller.job_service import JobServicer
from jem.model.errors import JemError
from jem.model.filenames import PatternValues, expand_pattern
from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.states import JobState
from jem.relay import channel_to
from jem.v1 import admin_pb2, admin_pb2_grpc, common_pb2, jobs_pb2, jobs_pb2_grpc, steps_pb2

pytestmark = pytest.mark.integration

OK = grpc.StatusCode.OK
# What a request may be answered with. UNAVAILABLE: the controller's own "not now" (rate
# limiting, a full queue); its process is checked to be alive after every call.
ALLOWED = {OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
           grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.RESOURCE_EXHAUSTED,
           grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.OUT_OF_RANGE,
           grpc.StatusCode.UNAVAILABLE}
ALLOWED_STREAMING = ALLOWED | {grpc.StatusCode.DEADLINE_EXCEEDED}
# A Python traceback or exception leaking into what a user reads.
LEAK = re.compile(r"Traceback|File \"/|\b\w*(?:Error|Exception)\(|\b(?:Key|Value|Type|Index|Attribute|Overflow|"
                  r"ZeroDivision|Unicode\w*|Recursion|Assertion|Runtime|OS|Lookup|Name)Error\b")
UNARY_TIMEOUT_S = 20.0
SLEEP = "#!/bin/sh\nsleep 600\n"


def fuzz_settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# ---------------------------------------------------------------- strategies from descriptors

_INT_RANGES = {
    FD.TYPE_INT32: (-2 ** 31, 2 ** 31 - 1), FD.TYPE_SINT32: (-2 ** 31, 2 ** 31 - 1),
    FD.TYPE_SFIXED32: (-2 ** 31, 2 ** 31 - 1), FD.TYPE_INT64: (-2 ** 63, 2 ** 63 - 1),
    FD.TYPE_SINT64: (-2 ** 63, 2 ** 63 - 1), FD.TYPE_SFIXED64: (-2 ** 63, 2 ** 63 - 1),
    FD.TYPE_UINT32: (0, 2 ** 32 - 1), FD.TYPE_FIXED32: (0, 2 ** 32 - 1),
    FD.TYPE_UINT64: (0, 2 ** 64 - 1), FD.TYPE_FIXED64: (0, 2 ** 64 - 1),
}
# Strings a careless or hostile user types, and names this cluster has.
ODD_STRINGS = [
    "", " ", "\0", "a\0b", "\n", "\r\n", "\t", "..", "../..", "/", "//", "/etc/passwd", "/dev/null", "-", "--",
    "%", "%%", "%j%x%u%N%A%a%n%t%s%J", "%99999999999999999999j", "%-5j", "$(id)", "`id`", "'\"\\", "a,b,,c",
    "\u202e", "\ufeff", "\u0301", "\U0010ffff", "\U0001f4a5", "ß", "İ", "\u00a0", "\u2028", "²", "٣", "①",
    "n1", "n2", "n[1-2]", "debug", "normal", "root", "nobody", "ALL", "NONE", "0", "-1", "9" * 40, "1e9", "nan",
    "inf", "*", "?", "afterok:1", "afterany:1:2?singleton", "after+99999999999:1", "singleton", "1_[0-3]",
    "0-3%1", "0-4294967295", "1-99999999999:0", "0-10:-1", "%0", "a&b|c", "a|", "&", "(a)", "[a*2]", "gpu:1",
    "append", "truncate", "A=B", "=", "PATH", "SLURM_JOB_ID",
]


UTF8 = st.characters(codec="utf-8")   # any character protobuf can carry (no lone surrogates)


def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = [v for v in (0, 1, -1, 2, 64, 65, 255, 65535, 65536, 2 ** 31 - 1, -2 ** 31, 2 ** 31, 2 ** 32 - 1,
                         2 ** 53 + 1, 2 ** 62, lo, hi, lo + 1, hi - 1) if lo <= v <= hi]
    return st.one_of(st.integers(max(lo, -3), min(hi, 70)), st.sampled_from(edges), st.integers(lo, hi))


def _long_text() -> st.SearchStrategy[str]:
    """Up to ~64 KiB: one repeated character, or a short piece repeated."""
    return st.builds(lambda piece, n: (piece * n)[:65536], st.text(UTF8, min_size=1, max_size=4),
                     st.integers(1000, 65536))


def strings(*, long: bool = True) -> st.SearchStrategy[str]:
    options = [st.text(UTF8, max_size=40), st.sampled_from(ODD_STRINGS),
               st.text(st.characters(codec="utf-8", min_codepoint=0x80), max_size=20)]
    if long:
        options.append(_long_text())
    return st.one_of(options)


def _scalar(fd, *, long_strings: bool) -> st.SearchStrategy:
    if fd.type in _INT_RANGES:
        return _ints(*_INT_RANGES[fd.type])
    if fd.type == FD.TYPE_BOOL:
        return st.booleans()
    if fd.type == FD.TYPE_STRING:
        return strings(long=long_strings)
    if fd.type == FD.TYPE_BYTES:
        return st.binary(max_size=256)
    if fd.type == FD.TYPE_ENUM:   # proto3 enums are open: any int32 travels
        return st.one_of(st.sampled_from([v.number for v in fd.enum_type.values]), _ints(-2 ** 31, 2 ** 31 - 1))
    if fd.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=64 if fd.type == FD.TYPE_DOUBLE else 32)
    raise AssertionError(f"no strategy for {fd.full_name}")


def _is_map(fd) -> bool:
    return fd.type == FD.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry


def field_values(fd, depth: int = 0) -> st.SearchStrategy:
    """A value for field `fd`: a scalar, a message, a list (repeated) or a dict (map)."""
    if _is_map(fd):
        key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        return st.one_of(
            st.dictionaries(_scalar(key_fd, long_strings=False), _scalar(value_fd, long_strings=True), max_size=6),
            st.dictionaries(_scalar(key_fd, long_strings=False), _scalar(value_fd, long_strings=False),
                            min_size=200, max_size=1200))
    if fd.type == FD.TYPE_MESSAGE:
        one = messages(fd.message_type, depth + 1)
    else:
        one = _scalar(fd, long_strings=not fd.is_repeated)
    if not fd.is_repeated:
        return one
    if fd.type == FD.TYPE_MESSAGE:
        return st.lists(one, max_size=3)
    short = _scalar(fd, long_strings=False)
    return st.one_of(st.lists(one, max_size=6), st.lists(short, min_size=500, max_size=5000))


def set_field(msg, name: str, value) -> None:
    fd = msg.DESCRIPTOR.fields_by_name[name]
    target = getattr(msg, name)
    if _is_map(fd):
        target.clear()
        if fd.message_type.fields_by_name["value"].type == FD.TYPE_MESSAGE:
            for k, v in value.items():
                target[k].CopyFrom(v)
        else:
            target.update(value)
    elif fd.is_repeated:
        del target[:]
        if fd.type == FD.TYPE_MESSAGE:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif fd.type == FD.TYPE_MESSAGE:
        target.CopyFrom(value)
    else:
        setattr(msg, name, value)


def messages(descriptor, depth: int = 0) -> st.SearchStrategy:
    """Arbitrary messages of `descriptor`'s type: each field set or not, with any value."""
    fields = {fd.name: field_values(fd, depth) for fd in descriptor.fields
              if not (fd.type == FD.TYPE_MESSAGE and not _is_map(fd) and depth >= 3)}
    cls = _message_class(descriptor)

    def build(values: dict):
        msg = cls()
        for name, value in values.items():
            set_field(msg, name, value)
        return msg

    return st.fixed_dictionaries({}, optional=fields).map(build)


def _message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def request_strings(msg) -> list[str]:
    """Every string a request carries (a message may echo them: that is not a leak)."""
    found = []
    for fd, value in msg.ListFields():
        values = value.values() if _is_map(fd) else value if fd.is_repeated else [value]
        if _is_map(fd):
            found += [k for k in value.keys() if isinstance(k, str)]
        for v in values:
            if isinstance(v, str):
                found.append(v)
            elif hasattr(v, "ListFields"):
                found += request_strings(v)
    return found


# ---------------------------------------------------------------- the cluster, once

class Fuzzer:
    """One cluster and raw stubs to it, with a root client for credentials and cleanup."""

    def __init__(self, cluster: LocalCluster):
        self.cluster = cluster
        self.client = cluster.client()
        self.channel = channel_to(cluster.address, cluster.ca_file)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.running_job = 0
        self.victims: list[int] = []   # held jobs the job requests may act on
        self.stranger_token = ""

    def close(self) -> None:
        self.channel.close()
        self.client.close()

    def metadata(self):
        return self.client._metadata   # a fresh single-use token from the credential service

    def check_status(self, what: str, request, code: grpc.StatusCode, details: str, reason: str,
                     allowed=ALLOWED) -> None:
        shown = f"{what}({_short(request)}) -> {code.name} {details[:300]!r} jem-reason={reason!r}"
        assert code in allowed, shown
        assert reason != "InternalError", shown
        # Every refusal is the controller's, typed, and reaches the caller whole (not one gRPC
        # itself makes of an answer the client cannot take, such as an oversized message).
        assert code in (OK, grpc.StatusCode.DEADLINE_EXCEEDED) or reason, shown
        text = details
        for s in sorted(request_strings(request), key=len, reverse=True):
            if s and len(s) < 4096:
                text = text.replace(s, "").replace(repr(s), "")
        assert not LEAK.search(text), shown
        self.check_alive(shown)

    def check_alive(self, context: str = "") -> None:
        assert self.cluster.controller.poll() is None, f"controller died after {context}\n" + \
            self.cluster.log("controller.log")

    def unary(self, stub, method: str, request, metadata=None):
        """Call (as root, or with `metadata`); return (code, response or None)."""
        try:
            response = getattr(stub, method)(request, metadata=metadata or self.metadata(), timeout=UNARY_TIMEOUT_S)
        except grpc.RpcError as exc:
            reason = dict(exc.trailing_metadata() or ()).get("jem-reason", "")
            self.check_status(method, request, exc.code(), exc.details() or "", reason)
            return exc.code(), None
        self.check_status(method, request, OK, "", "")
        assert "Traceback" not in str(response)[:1 << 20], f"{method}: traceback in the response"
        return OK, response

    def streaming(self, method: str, request, *, deadline_s: float, max_messages: int):
        """Read at most `max_messages` of a stream; return (code or None when we stopped it, responses)."""
        call = getattr(self.jobs, method)(request, metadata=self.metadata(), timeout=deadline_s)
        responses = []
        try:
            for response in call:
                responses.append(response)
                if len(responses) >= max_messages:
                    call.cancel()
                    self.check_alive(method)
                    return None, responses
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.CANCELLED and len(responses) >= max_messages:
                return None, responses
            reason = dict(exc.trailing_metadata() or ()).get("jem-reason", "")
            self.check_status(method, request, exc.code(), exc.details() or "", reason, ALLOWED_STREAMING)
            return exc.code(), responses
        self.check_status(method, request, OK, "", "", ALLOWED_STREAMING)
        return OK, responses

    def ensure_running(self) -> int:
        """The id of a RUNNING job of root's (two nodes, one task each): the one from before, or a new one."""
        if self.running_job:
            try:
                if self.client.get_job(self.running_job).state is JobState.RUNNING:
                    return self.running_job
                self.client.cancel(self.running_job)
            except JemError:
                pass
        job_id = self.client.submit(self.cluster.spec(SLEEP, name="fuzz-running", n_nodes=2, n_tasks=2))
        self.cluster.wait_job(self.client, job_id, states={JobState.RUNNING})
        self.running_job = job_id
        return job_id

    def victim(self) -> int:
        """A job of root's for the job requests to act on: held when made; one a fuzzed release let
        start is cancelled (and acted on while it is being killed) so that none keeps a CPU."""
        live = []
        for job_id in self.victims:
            try:
                state = self.client.get_job(job_id).state
                if state is JobState.RUNNING:
                    self.client.cancel(job_id)
                if not state.is_terminal:
                    live.append(job_id)
            except JemError:
                pass
        self.victims = live
        if not self.victims:
            self.victims.append(self.client.submit(self.cluster.spec(SLEEP, name="fuzz-victim", hold=True)))
        return self.victims[0]

    def resume_if_suspended(self, job_id: int) -> None:
        """Resume a job a fuzzed SuspendJob suspended (the running job, a victim a release let start)."""
        try:
            if self.client.get_job(job_id).state is JobState.SUSPENDED:
                self.client.suspend(job_id, resume=True)
        except JemError:
            pass

    def cancel_quietly(self, job_id: int) -> None:
        if job_id and job_id != self.running_job:
            try:
                self.client.cancel(job_id)
            except JemError:
                pass


def _short(msg) -> str:
    text = str(msg).replace("\n", " ")
    return text if len(text) < 600 else text[:600] + f"... ({len(text)} chars)"


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    cluster = LocalCluster(str(tmp_path_factory.mktemp("fuzz")))
    fuzzer = None
    try:
        cluster.start()
        fuzzer = Fuzzer(cluster)
        yield fuzzer
    finally:
        if fuzzer is not None:
            fuzzer.close()
        cluster.stop()


# ---------------------------------------------------------------- JobService

@fuzz_settings(60)
@given(request=messages(jobs_pb2.SubmitJobRequest.DESCRIPTOR),
       signature=st.one_of(st.just(""), strings(long=False)))
def test_arbitrary_submissions_get_an_answer(fuzz, request, signature):
    request.spec.hold = True   # nothing fuzzed runs; whatever is queued is cancelled at once
    request.user_signature = signature
    code, response = fuzz.unary(fuzz.jobs, "SubmitJob", request)
    if response is not None:
        fuzz.cancel_quietly(response.job_id)


SPEC_FIELDS = {fd.name: fd for fd in common_pb2.JobSpec.DESCRIPTOR.fields if fd.name != "hold"}


@fuzz_settings(80)
@given(data=st.data(), names=st.sets(st.sampled_from(sorted(SPEC_FIELDS)), min_size=1, max_size=3),
       test_only=st.booleans())
def test_nearly_valid_submissions_get_an_answer(fuzz, data, names, test_only):
    """A valid held job with one to three fields replaced by anything: past the first checks,
    into shaping, dependencies, arrays, constraints and the store."""
    spec = convert.spec_to_pb(fuzz.cluster.spec("#!/bin/sh\nsleep 1\n", hold=True))
    for name in sorted(names):
        set_field(spec, name, data.draw(field_values(SPEC_FIELDS[name]), label=name))
    request = jobs_pb2.SubmitJobRequest(spec=spec, test_only=test_only)
    code, response = fuzz.unary(fuzz.jobs, "SubmitJob", request)
    if response is not None:
        fuzz.cancel_quietly(response.job_id)


def served(service: str, names: tuple[str, ...]) -> dict:
    """{name: request class} of the methods named that `service`'s .proto has and the controller
    serves: a method being added is fuzzed from the change that serves it."""
    module, base, servicer = {"JobService": (jobs_pb2, jobs_pb2_grpc.JobServiceServicer, JobServicer),
                              "AdminService": (admin_pb2, admin_pb2_grpc.AdminServiceServicer, AdminServicer)}[service]
    methods = module.DESCRIPTOR.services_by_name[service].methods_by_name
    return {name: _message_class(methods[name].input_type) for name in names
            if name in methods and getattr(servicer, name, None) is not getattr(base, name, None)}


JOB_METHODS = {"GetJob": jobs_pb2.GetJobRequest, "CancelJob": jobs_pb2.CancelJobRequest,
               "CompleteAllocation": jobs_pb2.CompleteAllocationRequest,
               "HoldJob": jobs_pb2.HoldJobRequest, "ReleaseJob": jobs_pb2.ReleaseJobRequest,
               "UpdateJob": jobs_pb2.UpdateJobRequest, "RequeueJob": jobs_pb2.RequeueJobRequest,
               "ExplainJob": jobs_pb2.ExplainJobRequest, "SuspendJob": jobs_pb2.SuspendJobRequest}
# The requests on a job that change nothing.
JOB_READS = {"GetJob", "ExplainJob"}
# JobService requests that name no job.
QUERY_METHODS = {"Ping": jobs_pb2.PingRequest, "ListPriorities": jobs_pb2.ListPrioritiesRequest,
                 **served("JobService", ("UsageReport", "JobUsage", "ListRuns", "SetCrontab", "GetCrontab"))}


@fuzz_settings(160)
@given(data=st.data(), method=st.sampled_from(sorted(JOB_METHODS)),
       target=st.sampled_from(["victim", "running", "random"]))
def test_arbitrary_job_requests_get_an_answer(fuzz, data, method, target):
    request = data.draw(messages(JOB_METHODS[method].DESCRIPTOR), label="request")
    if target == "victim":
        request.job_id = fuzz.victim()
    elif target == "running":
        request.job_id = fuzz.ensure_running()
    # The running job stays running: it may be read, signalled, or suspended (and resumed
    # after), not cancelled, requeued or changed.
    is_signal = method == "CancelJob" and request.signal != 0
    is_kept = method in JOB_READS or method == "SuspendJob" or is_signal
    if fuzz.running_job and request.job_id == fuzz.running_job and not is_kept:
        request.job_id = fuzz.victim()
    try:
        fuzz.unary(fuzz.jobs, method, request)
    finally:
        if method == "SuspendJob":
            fuzz.resume_if_suspended(request.job_id)


@fuzz_settings(30)
@given(data=st.data(), method=st.sampled_from(sorted(QUERY_METHODS)), with_victim=st.booleans())
def test_arbitrary_queries_get_an_answer(fuzz, data, method, with_victim):
    request = data.draw(messages(QUERY_METHODS[method].DESCRIPTOR), label="request")
    if with_victim and method == "ListPriorities":
        request.job_ids.append(fuzz.victim())
    code, response = fuzz.unary(fuzz.jobs, method, request)
    if method == "Ping" and response is not None:   # who answers, and nothing more
        assert {fd.name for fd, _ in response.ListFields()} <= {"cluster_name", "host", "version", "server_time"}


def test_requests_on_a_job_being_killed_get_an_answer(fuzz):
    """Found by the fuzzing above: requests on a job between its cancel and the end of its
    processes (COMPLETING; the script ignores SIGTERM, so that lasts until the SIGKILL
    kill_wait_s = 2 s later). A try counts if the job was COMPLETING before and after the requests."""
    fuzz.ensure_running()
    for attempt in range(3):
        fuzz.victim()   # a victim a fuzzed release let start holds no CPU now
        # (the controller says RUNNING once it sent the launch: the mark says the trap is set)
        mark = os.path.join(fuzz.cluster.workdir, f"completing-{attempt}")
        job_id = fuzz.client.submit(fuzz.cluster.spec(f"#!/bin/sh\ntrap '' TERM\ntouch {mark}\nsleep 30\n",
                                                      name="fuzz-completing"))
        wait_until(lambda: os.path.exists(mark), what="the job's trap to be set")
        fuzz.client.cancel(job_id)
        assert fuzz.client.get_job(job_id).state is JobState.COMPLETING
        for method, request in [
            ("UpdateJob", jobs_pb2.UpdateJobRequest(job_id=job_id)),
            ("UpdateJob", jobs_pb2.UpdateJobRequest(job_id=job_id, name="renamed")),
            ("HoldJob", jobs_pb2.HoldJobRequest(job_id=job_id)),
            ("ReleaseJob", jobs_pb2.ReleaseJobRequest(job_id=job_id)),
            ("CancelJob", jobs_pb2.CancelJobRequest(job_id=job_id, signal=10)),
            ("CompleteAllocation", jobs_pb2.CompleteAllocationRequest(job_id=job_id, exit_code=3)),
            ("RequeueJob", jobs_pb2.RequeueJobRequest(job_id=job_id)),
            ("SuspendJob", jobs_pb2.SuspendJobRequest(job_id=job_id)),
            ("SuspendJob", jobs_pb2.SuspendJobRequest(job_id=job_id, resume=True)),
            ("ExplainJob", jobs_pb2.ExplainJobRequest(job_id=job_id)),
            ("CancelJob", jobs_pb2.CancelJobRequest(job_id=job_id)),
        ]:
            fuzz.unary(fuzz.jobs, method, request)
        was_completing = fuzz.client.get_job(job_id).state is JobState.COMPLETING
        fuzz.cluster.wait_job(fuzz.client, job_id, timeout_s=30)
        if was_completing:
            return
    pytest.fail("the job ended before the requests were answered, three times: the machine is too slow for 2 s")


@fuzz_settings(40)
@given(request=messages(jobs_pb2.ListJobsRequest.DESCRIPTOR))
def test_arbitrary_listings_get_an_answer(fuzz, request):
    code, response = fuzz.unary(fuzz.jobs, "ListJobs", request)
    if response is not None and request.job_ids:   # what it lists is what was asked for
        assert all(j.job_id in request.job_ids or j.array_job_id in request.job_ids for j in response.jobs)


@fuzz_settings(30)
@given(request=messages(steps_pb2.ListStepsRequest.DESCRIPTOR), with_running=st.booleans())
def test_arbitrary_step_listings_get_an_answer(fuzz, request, with_running):
    if with_running and fuzz.running_job:
        request.job_ids.append(fuzz.running_job)
    fuzz.unary(fuzz.jobs, "ListSteps", request)


@fuzz_settings(10)
@given(request=messages(jobs_pb2.WatchJobsRequest.DESCRIPTOR))
def test_arbitrary_watches_get_an_answer(fuzz, request):
    fuzz.streaming("WatchJobs", request, deadline_s=0.5, max_messages=3)


@fuzz_settings(40)
@given(request=messages(steps_pb2.RunStepRequest.DESCRIPTOR), in_running_job=st.booleans(),
       signature=st.one_of(st.just(""), strings(long=False)))
def test_arbitrary_steps_get_an_answer(fuzz, request, in_running_job, signature):
    """Unsigned (or wrongly signed) steps: the controller refuses a bad signature and the agents
    an unsigned step, so nothing fuzzed runs, but every check before that is reached."""
    if in_running_job:
        request.job_id = fuzz.ensure_running()
    request.user_signature = signature
    code, responses = fuzz.streaming("RunStep", request, deadline_s=5.0, max_messages=20)
    for response in responses:
        if response.WhichOneof("item") == "exit":
            assert not LEAK.search(response.exit.launch_error), response


# ---------------------------------------------------------------- AdminService

ADMIN_METHODS = {"ListNodes": admin_pb2.ListNodesRequest, "DrainNode": admin_pb2.DrainNodeRequest,
                 "DownNode": admin_pb2.DownNodeRequest, "ResumeNode": admin_pb2.ResumeNodeRequest,
                 "UndrainNode": admin_pb2.UndrainNodeRequest, "ListPartitions": admin_pb2.ListPartitionsRequest,
                 "ListShares": admin_pb2.ListSharesRequest, "IssueToken": admin_pb2.IssueTokenRequest,
                 "ListAudit": admin_pb2.ListAuditRequest, "ListAssociations": admin_pb2.ListAssociationsRequest,
                 "ListQos": admin_pb2.ListQosRequest, "ListReservations": admin_pb2.ListReservationsRequest,
                 **served("AdminService", ("GetDiagnostics", "ResetDiagnostics", "GetSettings"))}
# Site policy: accounts, users, QOS (sacctmgr) and reservations (scontrol). Root's changes are
# fuzzed on a cluster of their own (`policy_fuzz`): they may refuse root's own jobs from then on.
POLICY_METHODS = {"AddAccounts": admin_pb2.AddAccountsRequest, "AddUsers": admin_pb2.AddUsersRequest,
                  "ModifyAssociations": admin_pb2.ModifyAssociationsRequest,
                  "DeleteAssociations": admin_pb2.DeleteAssociationsRequest, "AddQos": admin_pb2.AddQosRequest,
                  "ModifyQos": admin_pb2.ModifyQosRequest, "DeleteQos": admin_pb2.DeleteQosRequest,
                  "CreateReservation": admin_pb2.CreateReservationRequest,
                  "UpdateReservation": admin_pb2.UpdateReservationRequest,
                  "DeleteReservation": admin_pb2.DeleteReservationRequest}
# What a plain user may never do, whatever the request: change a job of root's, a node, or site policy.
CHANGES = {"CancelJob", "CompleteAllocation", "HoldJob", "ReleaseJob", "UpdateJob", "RequeueJob", "SuspendJob", "DrainNode", "DownNode",
           "ResumeNode", "UndrainNode", "ResetDiagnostics", *POLICY_METHODS}
# The requests fuzzed by tests of their own.
OWN_TESTS = {"SubmitJob", "ListJobs", "ListSteps", "WatchJobs", "RunStep"}


def test_every_request_the_controller_serves_is_fuzzed():
    fuzzed = {*JOB_METHODS, *QUERY_METHODS, *ADMIN_METHODS, *POLICY_METHODS, *OWN_TESTS}
    for service, module in (("JobService", jobs_pb2), ("AdminService", admin_pb2)):
        missing = set(served(service, tuple(module.DESCRIPTOR.services_by_name[service].methods_by_name))) - fuzzed
        assert not missing, f"{service}: fuzz these too (a table above): {sorted(missing)}"


@fuzz_settings(100)
@given(data=st.data(), method=st.sampled_from(sorted(ADMIN_METHODS)), real_node=st.booleans())
def test_arbitrary_admin_requests_get_an_answer(fuzz, data, method, real_node):
    request = data.draw(messages(ADMIN_METHODS[method].DESCRIPTOR), label="request")
    if real_node and method in ("DrainNode", "DownNode", "ResumeNode", "UndrainNode"):
        request.name = data.draw(st.sampled_from(fuzz.cluster.node_names), label="node")
    try:
        fuzz.unary(fuzz.admin, method, request)
    finally:
        if method in ("DrainNode", "DownNode"):   # bring back whatever was drained or downed
            for name in fuzz.cluster.node_names:
                fuzz.client.resume_node(name)


STRANGER_METHODS = {**JOB_METHODS, **QUERY_METHODS, **ADMIN_METHODS, **POLICY_METHODS}


@fuzz_settings(100)
@given(data=st.data(), method=st.sampled_from(sorted({*STRANGER_METHODS, "SubmitJob"})),
       target=st.sampled_from(["victim", "running", "random"]))
def test_arbitrary_requests_of_a_user_who_is_not_root_get_an_answer(fuzz, stranger, data, method, target):
    """The same, as a plain user (a `jem token` JWT): root's jobs, the nodes and site policy are
    not theirs to change."""
    if not fuzz.stranger_token:
        fuzz.stranger_token, _ = fuzz.client.issue_token(user=stranger)
    metadata = (("authorization", f"Bearer {fuzz.stranger_token}"),)
    if method == "SubmitJob":
        request = data.draw(messages(jobs_pb2.SubmitJobRequest.DESCRIPTOR), label="request")
        request.spec.hold, request.user_signature = True, ""
        code, response = fuzz.unary(fuzz.jobs, method, request, metadata)
        if response is not None:
            fuzz.cancel_quietly(response.job_id)
        return
    request = data.draw(messages(STRANGER_METHODS[method].DESCRIPTOR), label="request")
    if method in JOB_METHODS and target != "random":
        request.job_id = fuzz.victim() if target == "victim" else fuzz.ensure_running()
    is_admin = method in ADMIN_METHODS or method in POLICY_METHODS
    code, response = fuzz.unary(fuzz.admin if is_admin else fuzz.jobs, method, request, metadata)
    # (a random id may name a job of the user's own, which they may change; never suspend)
    if method in CHANGES and (method not in JOB_METHODS or method == "SuspendJob" or target != "random"):
        assert code is not OK, f"a plain user changed root's job, a node or site policy: {method}({_short(request)})"


# ---------------------------------------------------------------- site policy, changed by root

POLICY_CONFIG = """
[[qos]]
name = "high"
priority = 10

[[accounts]]
name = "root"
qos = ["normal", "high"]

[[accounts]]
name = "physics"
grp_tres = "cpu=1"
"""
ACCOUNT_NAMES, QOS_NAMES, RESERVATION_NAMES = ("root", "physics"), ("normal", "high"), ("fuzzres", "fuzzres2")


@pytest.fixture(scope="module")
def policy_fuzz(tmp_path_factory):
    """A cluster of its own for root's fuzzed changes of site policy: a running job fills its one
    node, and every cycle plans three waiting jobs (of an account with a limit, of a QOS, in a
    reservation) against whatever the changes left."""
    cluster = LocalCluster(str(tmp_path_factory.mktemp("policy")), n_nodes=1, cpus=1, extra_config=POLICY_CONFIG)
    fuzzer = None
    try:
        cluster.start()
        fuzzer = Fuzzer(cluster)
        client, now = fuzzer.client, time.time()
        client.create_reservation(Reservation(RESERVATION_NAMES[0], now + 3600, now + 7200, ("n1",), users=("root",)))
        running = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=600))
        cluster.wait_job(client, running, states={JobState.RUNNING})
        fuzzer.victims = [running, *(client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, **fields))
                                     for fields in ({"account": "physics"}, {"qos": "high"},
                                                    {"reservation": RESERVATION_NAMES[0]}))]
        yield fuzzer
    finally:
        if fuzzer is not None:
            cancel_and_wait(cluster, fuzzer.client, fuzzer.victims)
            fuzzer.close()
        cluster.stop()


def _aim_at_what_the_cluster_has(data, method: str, request, user: str) -> None:
    """Name the accounts, users, QOS, nodes and reservations the cluster has, so that a request
    reaches the checks past "no such name"."""
    accounts, qos = st.sampled_from(ACCOUNT_NAMES), st.sampled_from(QOS_NAMES)
    if method == "AddAccounts":
        for account in request.accounts:
            account.parent = data.draw(accounts, label="parent")
    elif method == "AddUsers":
        for association in request.associations:
            association.account = data.draw(accounts, label="account")
            association.user = data.draw(st.sampled_from(["root", user]), label="user")
    elif method in ("ModifyAssociations", "DeleteAssociations"):
        request.filter.accounts[:] = [data.draw(accounts, label="account")]
    elif method in ("ModifyQos", "DeleteQos"):
        request.names[:] = [data.draw(qos, label="qos")]
    elif method in ("CreateReservation", "UpdateReservation"):
        reservation = request.reservation
        reservation.name = data.draw(st.sampled_from(RESERVATION_NAMES), label="name")
        reservation.node_names[:] = ["n1"]
        reservation.users[:] = ["root"]
        reservation.flags[:] = data.draw(st.lists(st.sampled_from([f.value for f in ReservationFlag]), max_size=2),
                                         label="flags")
        reservation.node_count, reservation.core_count = 0, data.draw(st.integers(0, 2), label="cores")
        reservation.start_time.seconds = int(time.time()) + data.draw(st.integers(-86400, 86400), label="start")
        reservation.end_time.seconds = reservation.start_time.seconds + data.draw(_ints(-10, 10 ** 7), label="length")
    elif method == "DeleteReservation":
        request.name = data.draw(st.sampled_from(RESERVATION_NAMES), label="name")


@fuzz_settings(150)
@given(data=st.data(), method=st.sampled_from(sorted(POLICY_METHODS)), aimed=st.booleans())
def test_arbitrary_changes_of_site_policy_by_root_get_an_answer(policy_fuzz, stranger, data, method, aimed):
    request = data.draw(messages(POLICY_METHODS[method].DESCRIPTOR), label="request")
    if aimed:
        _aim_at_what_the_cluster_has(data, method, request, stranger)
    policy_fuzz.unary(policy_fuzz.admin, method, request)


def test_afterwards_the_policy_cluster_is_whole_and_no_change_left_a_traceback(policy_fuzz):
    cluster, client = policy_fuzz.cluster, policy_fuzz.client
    policy_fuzz.check_alive("the fuzzing of site policy")
    assert cluster.agents["n1"].poll() is None, cluster.log("agent-n1.log")
    assert client.list_associations()[0] and client.list_qos()
    client.list_reservations()
    # The scheduling loop still plans (or holds back, with a limit's reason) a waiting job over
    # what the changes left: a released job gets a reason from the next cycle.
    waiting = policy_fuzz.victims[1]
    client.hold(waiting)
    client.release(waiting)
    wait_until(lambda: client.get_job(waiting).reason is not JobReason.NONE, what="a cycle's reason for the job")
    problems = {name: _tracebacks(_full_log(cluster, name)) for name in ("controller.log", "agent-n1.log")}
    assert not any(problems.values()), "\n\n".join(f"== {name}\n" + "\n--\n".join(t)
                                                   for name, t in problems.items() if t)


# ---------------------------------------------------------------- jobs that run, with odd accepted values

_ENV_NAME = st.from_regex(r"\AFUZZ_[A-Za-z0-9_]{1,20}\Z").filter(lambda s: s != "FUZZ_")
_PRINTABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
_FILE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0/%")


@fuzz_settings(6)
@given(name=st.text(_PRINTABLE, min_size=1, max_size=60),
       env=st.dictionaries(_ENV_NAME, st.one_of(st.text(_PRINTABLE, max_size=200),
                                                st.sampled_from(["", "=", "$(id)", "a\nb", "\u202e", "x" * 20000])),
                           max_size=8),
       arg=st.text(_PRINTABLE, max_size=100),
       out_stem=st.text(_FILE_CHARS, min_size=1, max_size=40).filter(lambda s: s not in (".", "..")),
       with_name_in_path=st.booleans())
def test_jobs_with_odd_accepted_values_run_and_end_with_a_reason(fuzz, name, env, arg, out_stem, with_name_in_path):
    fuzz.ensure_running()   # the fuzzed requests' neighbour keeps running through this
    fuzz.victim()           # and no victim of theirs holds a CPU
    pattern = f"{out_stem}-%j" + ("-%x" if with_name_in_path else "") + ".out"
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    script = '#!/bin/sh\nprintf "%s\\n" "$1"\nenv >/dev/null\n'
    spec = fuzz.cluster.spec(script, name=name, environment=environment, script_args=(arg,),
                             stdout_pattern=pattern, requeue=False)
    job_id = fuzz.client.submit(spec)
    job = fuzz.cluster.wait_job(fuzz.client, job_id, timeout_s=60)
    assert job.state.is_terminal
    path = os.path.join(fuzz.cluster.workdir, expand_pattern(pattern, PatternValues(job_id, job.spec.name, job.user,
                                                                                    (job.nodes or ("",))[0])))
    if job.state is JobState.COMPLETED:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            assert f.read() == arg + "\n"
    else:   # it could not run as asked (a name too long for a file, a "/" in it): it says why
        assert job.reason is not JobReason.NONE or job.reason_detail, job
        assert not LEAK.search(job.reason_detail), job.reason_detail
    fuzz.check_alive("an odd job")
    assert all(i.state is not NodeState.DOWN for i in fuzz.client.list_nodes()), fuzz.cluster.log("agent-n1.log")


@fuzz_settings(6)
@given(args=st.lists(st.text(_PRINTABLE, max_size=60), min_size=1, max_size=4),
       env=st.dictionaries(_ENV_NAME, st.text(_PRINTABLE, max_size=100), max_size=4),
       name=st.text(_PRINTABLE, max_size=30))
def test_signed_steps_with_odd_accepted_values_run_and_report(fuzz, args, env, name):
    """A step the job's owner signed, with odd arguments, environment and name, runs on both
    nodes and streams back exactly what its tasks wrote."""
    from jem.model.step import StepSpec, TaskExit, TaskOutput

    job_id = fuzz.ensure_running()
    spec = StepSpec(argv=("/bin/sh", "-c", 'printf "%s|" "$@"', "sh", *args), name=name,
                    environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                    working_dir=fuzz.cluster.workdir)
    outputs: dict[int, bytes] = {}
    exits = []
    for item in fuzz.client.run_step(job_id, spec):
        if isinstance(item, TaskOutput):
            outputs[item.task_id] = outputs.get(item.task_id, b"") + item.data
        elif isinstance(item, TaskExit):
            exits.append(item)
    expected = "".join(a + "|" for a in args).encode("utf-8", "surrogateescape")
    assert sorted(e.task_id for e in exits) == [0, 1]
    assert all(e.exit_code == 0 and not e.launch_error for e in exits), exits
    assert outputs == {0: expected, 1: expected}
    fuzz.check_alive("a signed step")


# ---------------------------------------------------------------- afterwards

def _full_log(cluster: LocalCluster, name: str) -> str:
    try:
        with open(os.path.join(cluster.root, name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _tracebacks(text: str) -> list[str]:
    """Each traceback in a log, with the line before it (which says what failed)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith((" ", "\t"))),
                       len(lines) - 1)
            found.append("\n".join(lines[max(0, i - 1):end + 1]))
    return found


def test_afterwards_the_cluster_is_whole_and_no_request_left_a_traceback(fuzz):
    cluster, client = fuzz.cluster, fuzz.client
    fuzz.check_alive("the fuzzing")
    for name, process in cluster.agents.items():
        assert process.poll() is None, f"agent {name} died\n" + cluster.log(f"agent-{name}.log")
    infos = client.list_nodes()
    assert sorted(i.node.name for i in infos) == sorted(cluster.node_names)
    assert all(i.state is not NodeState.DOWN for i in infos), [(i.node.name, i.state, i.node.reason) for i in infos]
    assert all(i.state not in (NodeState.DRAINED, NodeState.DRAINING) for i in infos)
    # jem-level listings still work for root, and the running job is still there.
    jobs = client.list_jobs(include_old=True)
    assert jobs and all(j.job_id > 0 for j in jobs)
    assert client.list_partitions() and client.list_shares()[0]
    if fuzz.running_job:
        assert client.get_job(fuzz.running_job).state is JobState.RUNNING
        client.cancel(fuzz.running_job)
    for job_id in fuzz.victims:
        fuzz.cancel_quietly(job_id)
    problems = {name: _tracebacks(_full_log(cluster, name))
                for name in ["controller.log", *(f"agent-{n}.log" for n in cluster.node_names)]}
    assert not any(problems.values()), "\n\n".join(f"== {name}\n" + "\n--\n".join(t)
                                                   for name, t in problems.items() if t)
