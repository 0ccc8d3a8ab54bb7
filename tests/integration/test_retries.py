"""Retry policies (sbatch --retries, --retry-delay, --retry-on; JEM's own) through a real controller
and agents: which failed runs are run again, after which backoff, what sacct -D shows of each run,
and what a hostile client's values get."""

import os

import grpc
import pytest

from harness import command, wait_until
from jem import convert
from jem.model.errors import InvalidRetryPolicy
from jem.model.reasons import JobReason
from jem.model.retry import MAX_RETRIES, MAX_RETRY_DELAY_S
from jem.model.states import JobState
from jem.v1 import common_pb2, jobs_pb2

pytestmark = pytest.mark.integration


def counting_script(runs_file: str, *, fail_until: int, failure: str = "exit 1") -> str:
    """A batch script that appends a line to `runs_file` per run, and fails (`failure`) while
    the file has fewer than `fail_until` lines."""
    return (f"#!/bin/sh\necho run >> {runs_file}\n"
            f"if [ \"$(wc -l < {runs_file})\" -lt {fail_until} ]; then {failure}; fi\nexit 0\n")


def n_runs(runs_file: str) -> int:
    with open(runs_file) as f:
        return len(f.read().splitlines())


def waiting_for_first_retry(client, job_id: int):
    """The job once its first run failed and it waits for its first retry."""
    return wait_until(lambda: (j := client.get_job(job_id)).retries_done == 1 and j, 30,
                      what=f"job {job_id}'s first retry")


def test_a_job_that_fails_twice_then_succeeds_completes_and_sacct_d_shows_its_earlier_runs(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    script = os.path.join(cluster.workdir, "job.sh")
    with open(script, "w") as f:
        f.write(counting_script(runs, fail_until=3))
    submitted = command(cluster, "sbatch", "--parsable", "--retries=3", "--retry-delay=1", "-J", "flaky", script)
    assert submitted.returncode == 0, submitted.stderr
    job_id = int(submitted.stdout)
    with cluster.client() as client:
        job = cluster.wait_job(client, job_id, timeout_s=60)
        earlier = client.list_runs([job_id])
    assert (job.state, job.restart_count, job.retries_done) == (JobState.COMPLETED, 2, 2)
    assert n_runs(runs) == 3
    assert [(r.run, r.state, r.exit_code, r.retry) for r in earlier] == [(0, JobState.FAILED, 1, 1),
                                                                         (1, JobState.FAILED, 1, 2)]
    # The backoff doubles: 1 s after the first failed run, 2 s after the second (as recorded).
    assert [round(r.next_begin_time - r.requeue_time, 3) for r in earlier] == [1.0, 2.0]
    assert earlier[1].begin_time == earlier[0].next_begin_time and job.spec.begin_time == earlier[1].next_begin_time
    assert all(r.start_time is not None and r.start_time <= r.end_time <= r.requeue_time for r in earlier)

    columns = "JobID,JobName,State,ExitCode"
    plain = command(cluster, "sacct", "-P", "-n", "-j", str(job_id), "-o", columns)
    assert plain.stdout.splitlines() == [f"{job_id}|flaky|COMPLETED|0:0", f"{job_id}.batch|batch|COMPLETED|0:0"]
    every = command(cluster, "sacct", "-D", "-P", "-n", "-j", str(job_id), "-o", columns)
    assert every.stdout.splitlines() == [f"{job_id}|flaky|REQUEUED|1:0", f"{job_id}.batch|batch|FAILED|1:0"] * 2 + \
        plain.stdout.splitlines()
    # Each record its own run: start, end, node, and queued when the run before it was requeued.
    times = command(cluster, "sacct", "-D", "-X", "-P", "-n", "-j", str(job_id), "-o", "State,Start,End,Submit")
    (_, start0, end0, submit0), (_, start1, _, submit1), (_, start2, _, submit2) = \
        [line.split("|") for line in times.stdout.splitlines()]
    assert start0 <= end0 <= submit1 <= start1 <= submit2 <= start2
    requeued_only = command(cluster, "sacct", "-s", "RQ", "-X", "-P", "-n", "-j", str(job_id), "-o", "State")
    assert requeued_only.stdout.splitlines() == ["REQUEUED", "REQUEUED"]
    shown = command(cluster, "scontrol", "show", "job", str(job_id)).stdout
    assert "Restarts=2 " in shown and "Retries=3 RetriesDone=2 RetryDelay=1 " \
        "RetryOn=FAILED,TIMEOUT,NODE_FAIL,OUT_OF_MEMORY" in shown


def test_sacct_json_lists_every_run_of_a_requeued_job(cluster):
    import json

    runs = os.path.join(cluster.workdir, "runs")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counting_script(runs, fail_until=2), retries=1))
        cluster.wait_job(client, job_id, timeout_s=60)
    document = json.loads(command(cluster, "sacct", "--json", "-j", str(job_id)).stdout)
    assert [(j["job_id"], j["state"]["current"], j["exit_code"]["return_code"], [s["state"] for s in j["steps"]])
            for j in document["jobs"]] == [(job_id, "REQUEUED", 1, ["FAILED"]), (job_id, "COMPLETED", 0, ["COMPLETED"])]


def test_a_job_that_always_fails_ends_failed_after_one_run_and_its_retries(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counting_script(runs, fail_until=99, failure="exit 7"), retries=2))
        job = cluster.wait_job(client, job_id, timeout_s=60)
        assert [r.retry for r in client.list_runs([job_id])] == [1, 2]
    assert (job.state, job.exit_code, job.reason, job.restart_count, job.retries_done) == \
        (JobState.FAILED, 7, JobReason.NON_ZERO_EXIT_CODE, 2, 2)
    assert n_runs(runs) == 3


def test_a_failure_the_policy_does_not_name_is_not_retried_and_one_it_names_is(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    timed_runs = os.path.join(cluster.workdir, "timed")
    with cluster.client() as client:
        failed = client.submit(cluster.spec(counting_script(runs, fail_until=99), retries=3,
                                            retry_on=(JobState.TIMEOUT,)))
        # Over its time limit in its first run (TIMEOUT, named): retried, and done in the second.
        timed = client.submit(cluster.spec(counting_script(timed_runs, fail_until=2, failure="sleep 60"), retries=3,
                                           retry_on=(JobState.TIMEOUT,), time_limit_s=2))
        failed_job = cluster.wait_job(client, failed, timeout_s=60)
        timed_job = cluster.wait_job(client, timed, timeout_s=60)
        assert [(r.state, r.retry) for r in client.list_runs([failed, timed])] == [(JobState.TIMEOUT, 1)]
    assert (failed_job.state, failed_job.restart_count, n_runs(runs)) == (JobState.FAILED, 0, 1)
    assert (timed_job.state, timed_job.retries_done, n_runs(timed_runs)) == (JobState.COMPLETED, 1, 2)


def test_a_job_cancelled_during_its_backoff_ends_cancelled_and_never_runs_again(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counting_script(runs, fail_until=99), retries=3, retry_delay_s=2))
        waiting = waiting_for_first_retry(client, job_id)
        assert (waiting.state, waiting.reason) == (JobState.PENDING, JobReason.BEGIN_TIME)
        client.cancel(job_id)
        # A job eligible after the cancelled one's begin time: once it has run, the scheduler has
        # passed that begin time, and the cancelled job did not start.
        later = client.submit(cluster.spec("#!/bin/sh\ntrue\n", begin_time=waiting.spec.begin_time + 0.5))
        assert cluster.wait_job(client, later).state is JobState.COMPLETED
        job = client.get_job(job_id)
    assert (job.state, job.restart_count, job.retries_done, n_runs(runs)) == (JobState.CANCELLED, 1, 1, 1)


def test_a_retry_waiting_in_its_backoff_survives_a_controller_restart(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counting_script(runs, fail_until=2), retries=1, retry_delay_s=3))
        before = waiting_for_first_retry(client, job_id)
    cluster.stop_process(cluster.controller)
    cluster.start_controller()
    with cluster.client() as client:
        after = wait_until(lambda: client.get_job(job_id), 30, what="the controller back")
        assert (after.retries_done, after.restart_count, after.spec.begin_time) == \
            (1, 1, before.spec.begin_time)
        job = cluster.wait_job(client, job_id, timeout_s=60)
        assert [(r.state, r.retry) for r in client.list_runs([job_id])] == [(JobState.FAILED, 1)]
    assert (job.state, job.restart_count, n_runs(runs)) == (JobState.COMPLETED, 1, 2)


def test_an_array_task_retries_on_its_own(cluster):
    marks = os.path.join(cluster.workdir, "marks")
    os.makedirs(marks)
    # Task 1 fails its first run; task 0 never fails.
    script = (f"#!/bin/sh\necho run >> {marks}/$SLURM_ARRAY_TASK_ID\n"
              f"[ $SLURM_ARRAY_TASK_ID = 1 ] && [ \"$(wc -l < {marks}/1)\" -lt 2 ] && exit 1\nexit 0\n")
    with cluster.client() as client:
        array_id = client.submit(cluster.spec(script, array="0-1", retries=2))
        tasks = wait_until(lambda: (ts := client.list_jobs(_array(array_id))) and len(ts) == 2
                           and all(t.state.is_terminal for t in ts) and ts, 60, what="both tasks to end")
    by_task = {t.array_task_id: t for t in tasks}
    assert {i: (t.state, t.retries_done) for i, t in by_task.items()} == {0: (JobState.COMPLETED, 0),
                                                                          1: (JobState.COMPLETED, 1)}
    assert (n_runs(os.path.join(marks, "0")), n_runs(os.path.join(marks, "1"))) == (1, 2)


def _array(array_id: int):
    from jem.model.jobfilter import JobFilter

    return JobFilter(job_ids=frozenset({array_id}))


def test_retry_policies_out_of_range_are_refused_with_a_typed_error(cluster):
    with cluster.client() as client:
        for fields in ({"retries": -1}, {"retries": MAX_RETRIES + 1}, {"retries": 1, "retry_delay_s": -1},
                       {"retries": 1, "retry_delay_s": MAX_RETRY_DELAY_S + 1},
                       {"retries": 1, "retry_on": (JobState.COMPLETED,)},
                       {"retries": 1, "retry_on": (JobState.CANCELLED,)}, {"retries": 1, "requeue": False}):
            with pytest.raises(InvalidRetryPolicy):
                client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True, **fields))
        assert client.list_jobs() == []


def test_a_hostile_clients_retry_values_are_refused_and_the_controller_goes_on(cluster, stranger):
    """Raw requests no client of ours would send: huge counts and delays, states out of the
    enum or UNSPECIFIED, a flood of states."""
    spec = convert.spec_to_pb(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
    hostile = [{"retries": 2 ** 31 - 1}, {"retries": -2 ** 31}, {"retries": 1, "retry_delay_s": 2 ** 31 - 1},
               {"retries": 1, "retry_on": [common_pb2.JOB_STATE_UNSPECIFIED]}, {"retries": 1, "retry_on": [999]},
               {"retries": 1, "retry_on": [common_pb2.JOB_STATE_FAILED] * 100_000}]
    with cluster.client_as(stranger) as user:
        for fields in hostile:
            request = jobs_pb2.SubmitJobRequest(spec=spec)
            for name, value in fields.items():
                if name == "retry_on":
                    request.spec.retry_on.extend(value)
                else:
                    setattr(request.spec, name, value)
            with pytest.raises(grpc.RpcError) as caught:
                user._jobs.SubmitJob(request, metadata=user._metadata, timeout=30)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, fields
            assert dict(caught.value.trailing_metadata())["jem-reason"] == "InvalidRetryPolicy", fields
        assert user.list_jobs() == []
        # A flood of job ids for ListRuns is refused, not read.
        with pytest.raises(grpc.RpcError) as caught:
            user._jobs.ListRuns(jobs_pb2.ListRunsRequest(job_ids=range(100_000)), metadata=user._metadata, timeout=30)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with cluster.client() as root:
        assert root.ping()


def test_with_private_jobs_a_user_sees_no_earlier_runs_of_another_users_job(make_cluster, stranger):
    cluster = make_cluster()
    with open(cluster.config_path) as f:
        text = f.read()
    with open(cluster.config_path, "w") as f:
        f.write(text.replace('name = "test"\n', 'name = "test"\nprivate_data = ["jobs"]\n', 1))
    cluster.start()
    runs = os.path.join(cluster.workdir, "runs")
    with cluster.client() as root:
        job_id = root.submit(cluster.spec(counting_script(runs, fail_until=2), retries=1))
        cluster.wait_job(root, job_id, timeout_s=60)
        assert [r.retry for r in root.list_runs([job_id])] == [1]
    with cluster.client_as(stranger) as user:
        assert user.list_runs([job_id]) == []


def test_jem_submit_takes_the_policy_and_refuses_a_bad_one(cluster):
    runs = os.path.join(cluster.workdir, "runs")
    script = os.path.join(cluster.workdir, "job.sh")
    with open(script, "w") as f:
        f.write(counting_script(runs, fail_until=2))
    done = command(cluster, "submit", "--parsable", "--retries=2", "--retry-delay=0", "--retry-on=failed,to", script)
    assert done.returncode == 0, done.stderr
    with cluster.client() as client:
        job = cluster.wait_job(client, int(done.stdout), timeout_s=60)
    assert (job.state, job.retries_done, job.spec.retries, job.spec.retry_on) == \
        (JobState.COMPLETED, 1, 2, (JobState.FAILED, JobState.TIMEOUT))
    for bad in (["--retry-on=CANCELLED"], ["--retries=1000"], ["--retries=1", "--no-requeue"]):
        refused = command(cluster, "submit", "--retries=1", *bad, script)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, bad
        assert "retr" in refused.stderr, refused.stderr
