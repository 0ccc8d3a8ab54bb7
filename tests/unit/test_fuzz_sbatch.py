"""Property-based fuzzing of the Slurm-compatible commands' parsing: whatever a user types.

sbatch's command line, its `#SBATCH` directives and `SBATCH_*` variables, and the
command lines of squeue, sacct, scancel, scontrol and sinfo. Each command runs in
full (`main(argv)`) against a client that answers from canned jobs, nodes and
partitions instead of a controller, but builds and reads every request and answer
message exactly as the real `jem.client.Client` does (so a value the wire cannot
carry fails here as it would for a user). Every input ends in a result or in the
command's own error: exit 0, 1 or (sbatch's parse errors) 255, with Slurm's
`<prog>: ...` words on stderr; no other exception escapes and no traceback is printed.
"""

import contextlib
import io
import os
import re
import tempfile
import time
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jem import convert
from jem.client import Client
from jem.model.errors import JobNotFound, NodeNotFound
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.run import RequeuedRun
from jem.model.states import JobState
from jem.model.step import Step
from jem.v1 import admin_pb2, jobs_pb2, steps_pb2
from jem_slurm import getopt, sacct, sbatch, sbatch_options, scancel, scontrol, sinfo, squeue

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
SUBMITTED_ID = 4242
NOW = time.time()


# ---------------------------------------------------------------- a client without a controller

def _job(job_id: int, state: JobState, **fields) -> Job:
    spec_fields = fields.pop("spec", {})
    spec = JobSpec(script="#!/bin/sh\ntrue\n", name=spec_fields.pop("name", f"job{job_id}"), partition="debug",
                   account="acct", working_dir="/tmp", **spec_fields)
    fields.setdefault("shape", JobShape(1, 1, Resources(1, 1024, 0)))
    fields.setdefault("time_limit_s", 3600)
    return Job(job_id=job_id, spec=spec, user="root", uid=0, gid=0, submit_time=NOW - 600, state=state, **fields)


JOBS = [
    _job(1, JobState.PENDING, reason=JobReason.PRIORITY, priority=100),
    _job(2, JobState.PENDING, reason=JobReason.JOB_HELD_USER, held_by="user", spec={"name": "ünï cøde"}),
    _job(3, JobState.RUNNING, start_time=NOW - 100, nodes=("n1",), cpu_ids=((0,),), gpu_ids=((),)),
    _job(4, JobState.COMPLETED, start_time=NOW - 300, end_time=NOW - 200, nodes=("n2",), exit_code=0,
         usage=JobUsage(1000, 2000, 3000)),
    _job(5, JobState.FAILED, start_time=NOW - 300, end_time=NOW - 250, nodes=("n1",), exit_code=3,
         reason=JobReason.NON_ZERO_EXIT_CODE, time_limit_s=None),
    _job(6, JobState.PENDING, spec={"array": "0-9%2"}, array_pending=(2, 3, 4, 5, 6, 7, 8, 9)),
    _job(7, JobState.RUNNING, spec={"array": "0-9%2"}, array_parent_id=6, array_task_id=0, start_time=NOW - 50,
         nodes=("n2",)),
    _job(8, JobState.CANCELLED, reason=JobReason.NONE, end_time=NOW - 10, reason_detail="by root"),
    # retried twice (its runs in RUNS), then completed
    _job(9, JobState.COMPLETED, start_time=NOW - 100, end_time=NOW - 90, nodes=("n3",), restart_count=2,
         retries_done=2, spec={"retries": 3, "retry_delay_s": 1, "retry_on": (JobState.FAILED,)}),
]
RUNS = [RequeuedRun(job_id=9, run=run, state=JobState.FAILED, start_time=NOW - 300 + 100 * run,
                    end_time=NOW - 290 + 100 * run, nodes=("n1",), alloc_per_node=Resources(1, 1024, 0), exit_code=1,
                    exit_signal=0, usage=JobUsage(), begin_time=None, requeue_time=NOW - 290 + 100 * run,
                    next_begin_time=NOW - 289 + 100 * run, retry=run + 1) for run in (0, 1)]
STEPS = [Step(job_id=3, step_id=0, name="hostname", nodes=("n1",), n_tasks=1, n_cpus=1, start_time=NOW - 90),
         Step(job_id=4, step_id=0, name="a.out", nodes=("n2",), n_tasks=2, n_cpus=2, start_time=NOW - 290,
              end_time=NOW - 210, state=JobState.COMPLETED)]
NODES = [Node("n1", Resources(4, 8192, 1), Resources(1, 1024, 0), is_responding=True, job_ids={3, 5},
              features=("a", "b"), gres={"nvme": 2}),
         Node("n2", Resources(4, 8192, 0), is_responding=True, is_drained=True, reason="fuzz"),
         Node("n3", Resources(4, 8192, 0))]
PARTITIONS = [Partition("debug", ("n1", "n2", "n3"), is_default=True, max_time_s=86400),
              Partition("long", ("n3",), max_time_s=None)]


def _matches(request: jobs_pb2.ListJobsRequest, job: Job) -> bool:
    """Whether the controller would list `job` for `request` (its own filter, where it has one)."""
    if hasattr(convert, "filter_from_pb"):
        return convert.filter_from_pb(request).matches(job)
    return ((not request.job_ids or job.job_id in request.job_ids or job.array_job_id in request.job_ids)
            and (not request.users or job.user in request.users)
            and (not request.partitions or job.spec.partition in request.partitions)
            and (not request.states or convert.STATE_TO_PB[job.state] in request.states))


class _NoStub:
    """Stands for the client's stubs: FakeClient._call answers instead of any method."""

    def __getattr__(self, name: str) -> str:
        return name


class FakeClient(Client):
    """jem.client.Client with the controller replaced by canned answers: every request message
    is built, and every answer read, by the real client's own code."""

    def __init__(self):   # no channel, no credential service
        self.address = "fake-controller:6817"
        self.submitted: list[JobSpec] = []
        self._jobs = self._admin = _NoStub()
        self._list_jobs_pages = "ListJobsPages"   # (the listing's pages travel as bytes)
        self._timeout_s = 30.0

    def close(self) -> None:
        pass

    def _signed_metadata(self, signed):
        return (), ""

    def _call(self, method, request, metadata=None):
        request = type(request).FromString(request.SerializeToString())   # what would travel
        by_id = {j.job_id: j for j in JOBS}
        if isinstance(request, jobs_pb2.SubmitJobRequest):
            self.submitted.append(convert.spec_from_pb(request.spec))
            return jobs_pb2.SubmitJobResponse(job_id=0 if request.test_only else SUBMITTED_ID)
        if isinstance(request, jobs_pb2.ListJobsRequest):
            return jobs_pb2.ListJobsResponse(jobs=[convert.job_to_pb(j, with_script=False) for j in JOBS
                                                   if _matches(request, j)]).SerializeToString()
        if isinstance(request, steps_pb2.ListStepsRequest):
            return steps_pb2.ListStepsResponse(steps=[convert.step_to_pb(s) for s in STEPS
                                                      if s.job_id in request.job_ids])
        if isinstance(request, jobs_pb2.ListRunsRequest):
            return jobs_pb2.ListRunsResponse(runs=[convert.requeued_run_to_pb(r) for r in RUNS
                                                   if r.job_id in request.job_ids])
        if isinstance(request, admin_pb2.ListNodesRequest):
            return admin_pb2.ListNodesResponse(nodes=[self._node(n) for n in NODES
                                                      if not request.names or n.name in request.names])
        if isinstance(request, admin_pb2.ListPartitionsRequest):
            return admin_pb2.ListPartitionsResponse(partitions=[convert.partition_to_pb(p, list(p.node_names))
                                                                for p in PARTITIONS])
        if isinstance(request, admin_pb2.ListReservationsRequest):
            return admin_pb2.ListReservationsResponse()
        if isinstance(request, jobs_pb2.PingRequest):
            return jobs_pb2.PingResponse(cluster_name="fuzz", host="fake-controller", version="0")
        if isinstance(request, admin_pb2.GetSettingsRequest):   # (a controller's of the default config)
            from jem.controller.settings import public_settings
            from jem.model.config import parse_config
            return admin_pb2.GetSettingsResponse(settings=public_settings(parse_config({})))
        node_answers = {admin_pb2.DrainNodeRequest: admin_pb2.DrainNodeResponse,
                        admin_pb2.DownNodeRequest: admin_pb2.DownNodeResponse,
                        admin_pb2.ResumeNodeRequest: admin_pb2.ResumeNodeResponse}
        if type(request) in node_answers:
            node = next((n for n in NODES if n.name == request.name), None)
            if node is None:
                raise NodeNotFound(request.name)
            return node_answers[type(request)](node=self._node(node))
        job = by_id.get(request.job_id)
        if job is None:
            raise JobNotFound(str(request.job_id))
        state = convert.STATE_TO_PB[job.state]
        answers = {
            jobs_pb2.GetJobRequest: lambda: jobs_pb2.GetJobResponse(job=convert.job_to_pb(job)),
            jobs_pb2.CancelJobRequest: lambda: jobs_pb2.CancelJobResponse(state=state),
            jobs_pb2.HoldJobRequest: lambda: jobs_pb2.HoldJobResponse(held_by="user"),
            jobs_pb2.ReleaseJobRequest: lambda: jobs_pb2.ReleaseJobResponse(state=state),
            jobs_pb2.RequeueJobRequest: lambda: jobs_pb2.RequeueJobResponse(state=state),
            jobs_pb2.UpdateJobRequest: lambda: jobs_pb2.UpdateJobResponse(job=convert.job_to_pb(job)),
            jobs_pb2.SuspendJobRequest: lambda: jobs_pb2.SuspendJobResponse(job=convert.job_to_pb(job)),
        }
        return answers[type(request)]()

    @staticmethod
    def _node(node: Node):
        return convert.node_to_pb(node, [p.name for p in PARTITIONS if p.has_node(node.name)])

    def wait(self, job_id: int, *, max_poll_s: float = 2.0) -> int:
        return 0


# ---------------------------------------------------------------- running a command

SLURM_VARIABLES = ("SBATCH_", "SLURM_", "SQUEUE_", "SACCT_", "SINFO_")


@contextlib.contextmanager
def _isolated(env: dict[str, str] | None = None, stdin: str = ""):
    """A temporary working directory, no Slurm input variables but `env`, stdin from a string."""
    old_cwd = os.getcwd()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SLURM_VARIABLES)}
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, {**clean, **(env or {})}, clear=True), \
            mock.patch("sys.stdin", io.StringIO(stdin)):
        os.chdir(tmp)
        try:
            yield tmp
        finally:
            os.chdir(old_cwd)


def run_command(module, argv: list[str], client: FakeClient | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `module.main(argv)`; any exception it lets out fails the test."""
    client = client or FakeClient()
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(module, "connect", lambda: client), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = module.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check_answer(prog: str, argv, code: int, out: str, err: str, *, codes=(0, 1)) -> None:
    shown = f"{prog} {argv!r} -> exit {code}\nstdout: {out[-800:]!r}\nstderr: {err[-800:]!r}"
    assert code in codes, shown
    assert "Traceback" not in out + err, shown
    if code != 0 and not (prog == "scancel" and _is_quiet(argv)):   # scancel -Q fails silently, as Slurm's
        assert err.strip(), "failed without a word: " + shown


def _is_quiet(argv) -> bool:
    try:
        found, _ = scancel.OPTIONS.parse(list(argv), stop_at_operand=False)
    except getopt.UsageError:
        return False
    return any(option.name == "quiet" for option, _ in found)


# ---------------------------------------------------------------- what users type

# A command-line word as it reaches a program: no NUL, maybe undecodable bytes (surrogateescape).
_WORD_CHARS = st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))
_RAW_BYTES = st.binary(min_size=1, max_size=8).filter(lambda b: b"\0" not in b).map(
    lambda b: b.decode("utf-8", "surrogateescape"))
INTERESTING_VALUES = [
    "", " ", "0", "1", "-1", "2", "5", "65", "-5", "+3", "007", "1-2", "2-1", "1-", "-", "--", "0x10", "1e3", "1.5",
    "nan", "inf", "99999999999999999999", "-99999999999999999999", "9223372036854775808", "2147483648",
    "²", "١٢", "①", "٣-٤", "UNLIMITED", "infinite", "INFINITE", "1:00:00", "1-00:00:00", "99999999:00",
    "5-", "1:2:3:4", "10G", "1T", "1024K", "5000000000000000000000T", "0G", "-1G", "1.5G", "gpu", "gpu:2",
    "gpu:a100:1", "gpu:a100:1,nvme:1", "gpu:-1", "gpu:²", "nvme:99999999999999999999", ":", "::", "gpu::1",
    "now", "now+1hour", "now+99999999999999999999999weeks", "now-5", "today", "tomorrow", "midnight", "noon",
    "teatime", "2024-02-30", "2024-02-29T25:00", "9999-12-31T23:59:59", "0000-01-01", "12/31", "13/45",
    "99:99", "12:00PM", "B:USR1@60", "USR1@99999999999", "SIGKILL@1", "R:B:TERM@5", "@", "B:", "ALL", "NONE",
    "ALL,A=1,B", "NONE,SLURM_X", "=,=", "a", "t", "append", "truncate", "x", "1_2", "1_[0-3]", "1_[3-0]",
    "1.batch", "1_", "_1", "1,2,,3", "n1", "n[1-3]", "n[1-99999999]", "n[3-1]", "n[", "n]", "n[a-b]", "[1-2]",
    "debug", "long", "root", "pd,r", "all", "PD,RUNNING,BOGUS", "%", "%%", "%i %j", "%.18i %9P %Z", "%-5j",
    "%999999999999i", "%.i", "JobID,State%20,Elapsed%-5", "jobid%x", "JobName%99999999999", "-i", "+P,-t",
    "afterok:1", "afterany:1:2?singleton", "singleton", "0-3%1", "0-4294967295", "a&b", "a|b", "&", "|",
    "show", "job", "node", "hold", "release", "update", "JobId=3", "NodeName=n1", "State=DRAIN", "Reason=x",
    "TimeLimit=5", "TimeLimit=²", "Nice=-5", "Nice=99999999999", "NumNodes=2-2", "NumNodes=²", "Name=ä",
    "hostnames", "hostlist", "partition", "config", "KILL", "SIGUSR1", "usr1", "0", "64", "65",
]
# Numbers past what a field holds, and digits int() does not read.
EDGE_NUMBERS = ["99999999999", "-99999999999", "2147483648", "4294967296", "9223372036854775807",
                "9223372036854775808", "99999999999999999999", "1" + "0" * 40, "²", "①", "٣", "0" * 30 + "1"]
VALUES = st.one_of(st.sampled_from(INTERESTING_VALUES), st.sampled_from(EDGE_NUMBERS),
                   st.text(_WORD_CHARS, max_size=20), st.integers(-2 ** 70, 2 ** 70).map(str))


def argv_words(table: getopt.OptionTable, extra_words=()) -> st.SearchStrategy[str]:
    """One word of a command line: the command's own options in every spelling, values, operands."""
    longs = sorted(o.long for o in table.options)
    shorts = sorted(o.short for o in table.options if o.short)
    options = [
        st.sampled_from(longs).map(lambda name: f"--{name}"),
        st.tuples(st.sampled_from(longs), VALUES).map(lambda p: f"--{p[0]}={p[1]}"),
        st.tuples(st.sampled_from(longs), st.integers(1, 8)).map(lambda p: f"--{p[0][:p[1]]}"),
        VALUES,
        st.sampled_from(["-", "--", "---", "--=", "-=", "--x", "-Z", "--help=1", "-%"]),
        st.text(_WORD_CHARS, max_size=10).map(lambda t: "--" + t),
    ]
    if shorts:
        options += [st.sampled_from(shorts).map(lambda s: f"-{s}"),
                    st.tuples(st.sampled_from(shorts), VALUES).map(lambda p: f"-{p[0]}{p[1]}"),
                    st.lists(st.sampled_from(shorts), min_size=2, max_size=4).map(lambda ss: "-" + "".join(ss))]
    if extra_words:
        options.append(st.sampled_from(list(extra_words)))
    return st.one_of(options)


def options_with_values(table: getopt.OptionTable, values=VALUES) -> st.SearchStrategy[list[str]]:
    """An option that takes a value, and its value as the next word (`-t 5`, `--time 5`)."""
    longs = sorted(o.long for o in table.options if o.arg == getopt.REQUIRED)
    shorts = sorted(o.short for o in table.options if o.short and o.arg == getopt.REQUIRED)
    option = st.one_of(st.sampled_from(longs).map(lambda name: f"--{name}"),
                       *([st.sampled_from(shorts).map(lambda s: f"-{s}")] if shorts else []))
    return st.tuples(option, values).map(list)


def argvs(table: getopt.OptionTable, extra_words=()) -> st.SearchStrategy[list[str]]:
    """Command lines: single words, and options followed by their value."""
    chunk = st.one_of(argv_words(table, extra_words).map(lambda word: [word]), options_with_values(table))
    return st.lists(chunk, max_size=6).map(lambda chunks: [word for c in chunks for word in c])


# ---------------------------------------------------------------- sbatch

SCRIPT = "#!/bin/sh\necho hello\n"
SBATCH_CODES = (0, 1, sbatch_options.PARSE_ERROR)


def _check_sbatch(argv, code, out, err, client: FakeClient) -> None:
    check_answer("sbatch", argv, code, out, err, codes=SBATCH_CODES)
    if code != 0:   # Slurm's "sbatch: error: ..." (or getopt's "sbatch: unrecognized option ...")
        assert any(line.startswith("sbatch: ") for line in err.splitlines()), err
    if code == 0 and client.submitted:   # queued: said so, once, as Slurm says it
        assert len(client.submitted) == 1
        assert out in (f"Submitted batch job {SUBMITTED_ID}\n", f"{SUBMITTED_ID}\n", ""), out
    if code != 0:   # refused before anything was queued
        assert client.submitted == []


def _run_sbatch(argv: list[str], script: str = SCRIPT, env: dict[str, str] | None = None):
    with _isolated(env, stdin=script) as tmp:
        path = os.path.join(tmp, "job.sh")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(script)
        client = FakeClient()
        code, out, err = run_command(sbatch, [*argv, path], client)
    _check_sbatch(argv, code, out, err, client)
    return code, client


@FUZZ
@given(argv=argvs(sbatch_options.OPTIONS))
def test_sbatch_command_lines_get_a_spec_or_slurms_error(argv):
    _run_sbatch(argv)


def _directive_lines() -> st.SearchStrategy[str]:
    word = argv_words(sbatch_options.OPTIONS)
    return st.one_of(
        st.lists(word, min_size=1, max_size=3).map(lambda words: "#SBATCH " + " ".join(words)),
        st.tuples(word, VALUES).map(lambda p: f'#SBATCH {p[0]} "{p[1]}"'),
        st.tuples(word, VALUES).map(lambda p: f"#SBATCH {p[0]}='{p[1]}' # comment"),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=30).map(lambda t: "#SBATCH" + t),
        st.sampled_from(["#SBATCH", "#SBATCH ", "#SBATCHX -p x", "#SBATCH '", '#SBATCH "', "#SBATCH \\",
                         "# plain comment", "", "   ", "#SBATCH -J a\\", "#SBATCH --mem=1 --mem-per-cpu=1"]),
    )


@FUZZ
@given(lines=st.lists(_directive_lines(), max_size=8), argv=st.lists(argv_words(sbatch_options.OPTIONS), max_size=2))
def test_sbatch_directives_get_a_spec_or_slurms_error(lines, argv):
    script = "#!/bin/sh\n" + "\n".join(lines) + "\necho hello\n"
    _run_sbatch(argv, script)


@FUZZ
@given(script=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_directive_parsing_never_fails_on_any_script(script):
    args = sbatch_options.directive_args("#!/bin/sh\n" + script)
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)


@FUZZ
@given(env=st.dictionaries(st.sampled_from(sorted(sbatch_options.ENV_OPTIONS)), VALUES.filter(lambda v: "\0" not in v),
                           max_size=4),
       argv=st.lists(argv_words(sbatch_options.OPTIONS), max_size=2))
def test_sbatch_input_variables_get_a_spec_or_slurms_error(env, argv):
    _run_sbatch(argv, env=env)


@FUZZ
@given(argv=argvs(sbatch_options.OPTIONS))
def test_getopt_returns_options_or_a_usage_error(argv):
    """The parser alone: (options, operands) where every value is a string it was given, or UsageError."""
    try:
        found, operands = sbatch_options.OPTIONS.parse(argv, stop_at_operand=True)
    except getopt.UsageError as exc:
        assert str(exc)
        return
    for option, value in found:
        assert option in sbatch_options.OPTIONS.options
        assert value is None or any(value in word for word in argv)
    assert all(op in argv for op in operands)
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # --begin's "Invalid time specification" line
            sbatch_options.apply_settings({}, found)
    except sbatch.Failure as exc:
        assert exc.lines and exc.code in SBATCH_CODES


# ---------------------------------------------------------------- squeue, sacct, scancel, sinfo, scontrol

@FUZZ
@given(argv=argvs(squeue.OPTIONS))
def test_squeue_command_lines_get_a_listing_or_slurms_error(argv):
    with _isolated():
        code, out, err = run_command(squeue, argv)
    check_answer("squeue", argv, code, out, err)


@pytest.mark.parametrize("order", ["-i", "i", "-A", "D", "-C"])
def test_squeue_sorts_by_job_id_an_array_record_too(order):
    """A job id column holds `6_[2-9%2]` for an array's unsplit tasks: sorted by its ids, not refused."""
    with _isolated():
        code, out, err = run_command(squeue, ["-S", order, "-h", "-o", "%i"])
    check_answer("squeue", ["-S", order], code, out, err, codes=(0,))
    if order in ("-i", "i"):
        labels = out.split()
        assert labels == sorted(labels, key=lambda label: [int(x) for x in re.findall(r"\d+", label)[:2]],
                                reverse=order == "-i")


@FUZZ
@given(argv=argvs(sacct.OPTIONS))
def test_sacct_command_lines_get_a_listing_or_slurms_error(argv):
    with _isolated():
        code, out, err = run_command(sacct, argv)
    check_answer("sacct", argv, code, out, err)


@FUZZ
@given(argv=argvs(scancel.OPTIONS, extra_words=["3", "1", "6_2", "6_[1-3]", "99", "3.0", "-i", "--me", "-Q"]))
def test_scancel_command_lines_cancel_or_say_why_not(argv):
    with _isolated(stdin="y\n"):
        code, out, err = run_command(scancel, argv)
    check_answer("scancel", argv, code, out, err)


@FUZZ
@given(argv=argvs(sinfo.OPTIONS))
def test_sinfo_command_lines_get_a_listing_or_slurms_error(argv):
    with _isolated():
        code, out, err = run_command(sinfo, argv)
    check_answer("sinfo", argv, code, out, err)


SCONTROL_WORDS = ["show", "job", "jobs", "node", "nodes", "partition", "config", "hostnames", "hostlist", "hold",
                  "uhold", "release", "requeue", "update", "suspend", "resume", "ping", "-o", "--oneliner", "-d",
                  "-V"]


@FUZZ
@given(head=st.sampled_from([[], ["show"], ["show", "job"], ["show", "node"], ["show", "partition"],
                             ["show", "hostnames"], ["show", "hostlist"], ["hold"], ["release"], ["requeue"],
                             ["update"], ["update", "JobId=1"], ["update", "JobId=3"], ["update", "NodeName=n1"],
                             ["suspend"], ["resume"], ["ping"], ["show", "config"]]),
       rest=st.lists(st.one_of(st.sampled_from(SCONTROL_WORDS), VALUES,
                               st.tuples(st.sampled_from(["JobId", "Job", "TimeLimit", "Partition", "Name", "Nice",
                                                          "NumNodes", "NodeName", "State", "Reason", "Priority",
                                                          "Bogus"]), VALUES).map(lambda p: f"{p[0]}={p[1]}")),
                     max_size=5))
def test_scontrol_command_lines_act_or_say_why_not(head, rest):
    argv = head + rest
    with _isolated():
        code, out, err = run_command(scontrol, argv)
    check_answer("scontrol", argv, code, out, err)


# ---------------------------------------------------------------- bytes that are not UTF-8

COMMANDS = {"sbatch": (sbatch, sbatch_options.OPTIONS), "squeue": (squeue, squeue.OPTIONS),
            "sacct": (sacct, sacct.OPTIONS), "scancel": (scancel, scancel.OPTIONS), "sinfo": (sinfo, sinfo.OPTIONS)}


@FUZZ
@given(data=st.data(), prog=st.sampled_from(sorted(COMMANDS)))
def test_arguments_that_are_not_utf8_get_an_answer(data, prog):
    """A word of bytes that are not UTF-8 (a Latin-1 terminal: `squeue -n $'caf\\xe9'`) reaches
    Python as surrogate escapes; the command answers it like any other odd value."""
    module, table = COMMANDS[prog]
    chunks = data.draw(st.lists(options_with_values(table, st.one_of(_RAW_BYTES, VALUES)), min_size=1, max_size=3),
                       label="argv")
    argv = [word for chunk in chunks for word in chunk]
    if prog == "sbatch":
        _run_sbatch(argv)
        return
    with _isolated(stdin="y\n"):
        code, out, err = run_command(module, argv)
    check_answer(prog, argv, code, out, err)


# ---------------------------------------------------------------- what the fuzzing found, each on its own

FOUND = [
    # Words that are not UTF-8: the request cannot be encoded (UnicodeEncodeError in jem.convert).
    ("sbatch", ["-A", "\udc80"]), ("squeue", ["-n", "\udc80"]), ("sacct", ["--accounts=\udc80"]),
    ("scancel", ["--account=\udc80"]),
    # Numbers larger than the wire's fields (ValueError "Value out of range" building the request).
    ("sbatch", ["--nice=99999999999"]), ("sbatch", ["-N", "99999999999999999999"]),
    ("sbatch", ["-t", "99999999999999999999"]), ("sbatch", ["--mem=5000000000000000000000T"]),
    ("sbatch", ["--gres=gpu:99999999999999999999"]), ("sbatch", ["--ntasks-per-node", "1180591620717411303424"]),
    ("sbatch", ["--begin=now+99999999999999999999999weeks"]),
    ("sacct", ["-S", "now+99999999999999999999999weeks"]),
    ("squeue", ["-j", "99999999999999999999"]), ("sacct", ["-j", "99999999999999999999"]),
    ("scancel", ["99999999999999999999"]), ("scontrol", ["hold", "9223372036854775808"]),
    ("scontrol", ["update", "JobId=3", "Nice=99999999999"]),
    ("scontrol", ["update", "JobId=3", "TimeLimit=99999999999999999999"]),
    ("scontrol", ["update", "JobId=99999999999999999999", "Name=x"]),
    ("scontrol", ["update", "JobId=3", "NumNodes=99999999999"]),
    # Digits str.isdigit() accepts and int() does not (ValueError "invalid literal for int()").
    ("sbatch", ["--gpus=²"]), ("scancel", ["-s", "²", "3"]), ("scontrol", ["release", "①"]),
    # Host lists python-hostlist refuses (hostlist.BadHostlist).
    ("scontrol", ["show", "hostnames", "n["]), ("scontrol", ["show", "node", "n[1-99999999]"]),
    ("scontrol", ["update", "NodeName=n[", "State=DRAIN", "Reason=x"]), ("sinfo", ["-n", "n["]),
    ("squeue", ["-w", "n["]), ("sacct", ["--nodelist", "n["]), ("scancel", ["-w", "n["]),
    # Column widths no memory holds (MemoryError).
    ("squeue", ["-o", "%999999999999i"]), ("sinfo", ["-o", "%999999999999P"]), ("sacct", ["-o", "JobName%99999999999"]),
]


@pytest.mark.parametrize("prog, argv", FOUND, ids=[f"{p} {' '.join(a)!a}" for p, a in FOUND])
def test_inputs_the_fuzzing_found_get_an_answer(prog, argv):
    if prog == "sbatch":
        _run_sbatch(argv)
        return
    module = {**{name: m for name, (m, _) in COMMANDS.items()}, "scontrol": scontrol}[prog]
    with _isolated(stdin="y\n"):
        code, out, err = run_command(module, argv)
    check_answer(prog, argv, code, out, err)


# ---------------------------------------------------------------- the fake is the real client

def test_the_fake_client_answers_as_a_controller_would():
    """The canned cluster round-trips through the real client's conversions, so the fuzzing above
    exercises the commands' real paths (listing, cancelling, submitting)."""
    client = FakeClient()
    assert client.get_job(3).nodes == ("n1",)
    with pytest.raises(JobNotFound):
        client.cancel(99)
    assert client.submit(JobSpec(script=SCRIPT)) == SUBMITTED_ID and client.submitted[0].script == SCRIPT
    code, out, err = run_command(squeue, ["-h", "-o", "%i %T", "-t", "all"])
    assert code == 0 and "3 RUNNING" in out.splitlines() and "Traceback" not in err
    code, client = _run_sbatch(["-J", "fuzz", "-N", "2", "--time=1:00"])
    assert code == 0 and client.submitted[0].name == "fuzz" and client.submitted[0].time_limit_s == 60
