"""Retry policies: the backoff rule, the policy's checks, sbatch's options for it, what
`lifecycle.end_run` decides, and sacct's records of a requeued job's runs."""

import dataclasses

import pytest

from jem.controller import lifecycle
from jem.controller.nodes import NodeTable
from jem.model.errors import InvalidRetryPolicy
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.config import parse_config
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.retry import (BACKOFF_CAP_S, MAX_RETRIES, MAX_RETRY_DELAY_S, RETRYABLE_STATES, backoff_s,
                             check_policy, is_retried, parse_states)
from jem.model.states import JobEvent, JobState
from jem.store import SqliteStore
from jem_slurm import sacct_records, sbatch, sbatch_options
from jem_slurm.command import Failure

F, TO, NF, OOM = JobState.FAILED, JobState.TIMEOUT, JobState.NODE_FAIL, JobState.OUT_OF_MEMORY


def test_the_backoff_doubles_from_the_delay_and_stops_at_an_hour():
    assert [backoff_s(1, k) for k in range(1, 14)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600]
    assert [backoff_s(1000, k) for k in (1, 2, 3, 4)] == [1000, 2000, BACKOFF_CAP_S, BACKOFF_CAP_S]
    assert backoff_s(0, 50) == 0


def test_a_delay_longer_than_the_cap_is_kept_and_never_doubled():
    assert [backoff_s(MAX_RETRY_DELAY_S, k) for k in (1, 2, MAX_RETRIES)] == [MAX_RETRY_DELAY_S] * 3


def test_the_backoff_of_the_last_retry_allowed_is_computed_without_a_huge_number():
    assert backoff_s(1, MAX_RETRIES) == BACKOFF_CAP_S and backoff_s(3, 10 ** 9) == BACKOFF_CAP_S
    with pytest.raises(ValueError):
        backoff_s(1, 0)


def test_a_policy_retries_the_states_it_names_or_all_four_while_retries_remain():
    assert all(is_retried(retries=1, retry_on=(), retries_done=0, end_state=s) for s in RETRYABLE_STATES)
    assert not is_retried(retries=1, retry_on=(), retries_done=1, end_state=F)
    assert not is_retried(retries=0, retry_on=(), retries_done=0, end_state=F)
    assert is_retried(retries=3, retry_on=(TO,), retries_done=2, end_state=TO)
    assert not is_retried(retries=3, retry_on=(TO,), retries_done=0, end_state=F)
    for never in (JobState.CANCELLED, JobState.PREEMPTED, JobState.COMPLETED):
        assert not is_retried(retries=3, retry_on=(), retries_done=0, end_state=never)


@pytest.mark.parametrize("fields", [
    {"retries": -1}, {"retries": MAX_RETRIES + 1}, {"retries": 1, "retry_delay_s": -1},
    {"retries": 1, "retry_delay_s": MAX_RETRY_DELAY_S + 1}, {"retries": 1, "retry_on": (JobState.COMPLETED,)},
    {"retries": 1, "retry_on": (JobState.PENDING,)}, {"retries": 1, "retry_on": (F,) * 9},
    {"retries": 1, "requeue": False},
])
def test_a_policy_out_of_range_is_refused_with_its_typed_error(fields):
    spec = JobSpec(script="#!/bin/sh\ntrue\n", **fields)
    with pytest.raises(InvalidRetryPolicy):
        spec.validate()


def test_a_policy_in_range_is_accepted():
    check_policy(retries=MAX_RETRIES, retry_delay_s=MAX_RETRY_DELAY_S, retry_on=RETRYABLE_STATES, requeue=True)
    JobSpec(script="#!/bin/sh\ntrue\n", retries=2, retry_on=(OOM, OOM)).validate()


def test_retry_states_are_read_by_name_or_code_in_any_case():
    assert parse_states("failed, TO ,nf,OOM,Failed") == (F, TO, NF, OOM)
    for bad in ("", "COMPLETED", "FAILED,", "CA", "FAILED,bogus"):
        with pytest.raises(ValueError):
            parse_states(bad)


def _settings(argv, *, env=None, script="#!/bin/sh\ntrue\n") -> dict:
    """sbatch's settings as _submit merges them: directives, then SBATCH_* variables, then argv."""
    settings: dict = {}
    found, _ = sbatch_options.OPTIONS.parse(sbatch_options.directive_args(script), stop_at_operand=True)
    sbatch_options.apply_settings(settings, found)
    sbatch_options.apply_settings(settings, sbatch_options.env_settings(env or {}))
    found, _ = sbatch_options.OPTIONS.parse(argv, stop_at_operand=True)
    sbatch_options.apply_settings(settings, found)
    return settings


def test_sbatch_reads_the_policy_from_directives_variables_and_the_command_line_in_slurms_order():
    script = "#!/bin/sh\n#SBATCH --retries=5 --retry-delay=7\n#SBATCH --retry-on=TIMEOUT\ntrue\n"
    settings = _settings(["--retries=2"], env={"SBATCH_RETRY_DELAY": "9"}, script=script)
    spec = sbatch.build_spec(settings, script, "job", [], {})
    assert (spec.retries, spec.retry_delay_s, spec.retry_on) == (2, 9, (TO,))
    assert _settings([], env={"SBATCH_RETRIES": "4", "SBATCH_RETRY_ON": "F,OOM"})["retry_on"] == (F, OOM)
    plain = sbatch.build_spec(_settings([]), "#!/bin/sh\n", "job", [], {})
    assert (plain.retries, plain.retry_delay_s, plain.retry_on) == (0, 0, ())


@pytest.mark.parametrize("argv, words, code", [
    (["--retries=abc"], 'Invalid numeric value "abc" for --retries.', 1),
    (["--retries=-1"], 'Invalid numeric value "-1" for --retries.', 1),
    (["--retries=101"], "Invalid --retries value 101: at most 100", 1),
    (["--retry-delay=86401"], "Invalid --retry-delay value 86401: at most 86400", 1),
    (["--retry-on=CANCELLED"], "Invalid --retry-on specification", sbatch_options.PARSE_ERROR),
])
def test_sbatch_refuses_a_bad_policy_value_with_slurm_style_words(argv, words, code):
    with pytest.raises(Failure) as caught:
        _settings(argv)
    assert (caught.value.lines, caught.value.code) == ((words,), code)


# ---------------------------------------------------------------- the controller's decision

def _running(tmp_path, **spec_fields) -> tuple[Job, NodeTable]:
    """A job running on n1 of a real node table (and store)."""
    config = parse_config({"nodes": [{"names": "n1", "cpus": 2, "mem_mib": 1024}],
                           "partitions": [{"name": "p", "nodes": "ALL"}]})
    nodes = NodeTable(config, SqliteStore(str(tmp_path / f"jem-{len(list(tmp_path.iterdir()))}.db")))
    spec = JobSpec(script="#!/bin/sh\nfalse\n", **spec_fields)
    job = Job(job_id=7, spec=spec, user="ann", uid=1000, gid=1000, submit_time=100.0,
              shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    lifecycle.start_job(job, ("n1",), nodes, now=110.0)
    return job, nodes


def test_a_failed_run_with_retries_left_goes_back_to_the_queue_under_its_backoff(tmp_path):
    job, nodes = _running(tmp_path, retries=2, retry_delay_s=30)
    change = lifecycle.end_run(job, JobEvent.FAIL, nodes, 200.0, exit_code=3, usage=JobUsage(5, 6, 7))
    assert (change.event, job.state, job.reason, job.restart_count, job.retries_done) == \
        (JobEvent.REQUEUE, JobState.PENDING, JobReason.BEGIN_TIME, 1, 1)
    assert job.spec.begin_time == 230.0 and job.nodes == () and nodes.get("n1").free == nodes.get("n1").capacity
    run = change.run
    assert (run.run, run.state, run.start_time, run.end_time, run.nodes, run.exit_code, run.usage, run.retry) == \
        (0, JobState.FAILED, 110.0, 200.0, ("n1",), 3, JobUsage(5, 6, 7), 1)
    assert (run.begin_time, run.requeue_time, run.next_begin_time) == (None, 200.0, 230.0)
    lifecycle.start_job(job, ("n1",), nodes, now=240.0)
    second = lifecycle.end_run(job, JobEvent.TIMEOUT, nodes, 300.0)
    assert (second.run.begin_time, second.run.next_begin_time, job.spec.begin_time) == (230.0, 360.0, 360.0)
    lifecycle.start_job(job, ("n1",), nodes, now=400.0)
    last = lifecycle.end_run(job, JobEvent.FAIL, nodes, 410.0, exit_code=1)
    assert (last.event, last.run, job.state, job.exit_code, job.retries_done) == \
        (JobEvent.FAIL, None, JobState.FAILED, 1, 2)


def test_a_cancelled_run_and_a_state_not_named_end_the_job(tmp_path):
    job, nodes = _running(tmp_path, retries=2)
    assert lifecycle.end_run(job, JobEvent.CANCEL, nodes, 200.0).run is None and job.state is JobState.CANCELLED
    job, nodes = _running(tmp_path, retries=2, retry_on=(TO,))
    assert lifecycle.end_run(job, JobEvent.FAIL, nodes, 200.0).run is None and job.state is JobState.FAILED


def test_retries_do_not_count_towards_the_hold_after_repeated_node_failures(tmp_path):
    job, nodes = _running(tmp_path, retries=MAX_RETRIES)
    for t in range(lifecycle.MAX_FAILURE_REQUEUES + 2):
        lifecycle.end_run(job, JobEvent.FAIL, nodes, 200.0 + t)
        lifecycle.start_job(job, ("n1",), nodes, now=200.5 + t)
    lifecycle.requeue_after_failure(job, nodes, 300.0, "node n1 died")
    assert job.held_by == "" and job.restart_count == lifecycle.MAX_FAILURE_REQUEUES + 3


def test_only_node_failures_count_towards_the_hold_whatever_else_requeued_the_job(tmp_path):
    job, nodes = _running(tmp_path)
    for t in range(lifecycle.MAX_FAILURE_REQUEUES + 2):   # scontrol requeue, scrontab's next run
        lifecycle.requeue_job(job, nodes, 200.0 + t, "requeue by ann")
        lifecycle.start_job(job, ("n1",), nodes, now=200.5 + t)
    for t in range(lifecycle.MAX_FAILURE_REQUEUES):
        lifecycle.requeue_after_failure(job, nodes, 300.0 + t, "node n1 died")
        lifecycle.start_job(job, ("n1",), nodes, now=300.5 + t)
    assert job.held_by == ""
    lifecycle.requeue_after_failure(job, nodes, 400.0, "node n1 died")
    assert job.held_by == "requeue_limit" and job.failure_requeues == lifecycle.MAX_FAILURE_REQUEUES + 1


def test_every_requeue_keeps_the_run_that_ended(tmp_path):
    job, nodes = _running(tmp_path)
    killed = lifecycle.requeue_job(job, nodes, 120.0, "requeue by ann").run   # scontrol requeue, no report
    assert (killed.run, killed.state, killed.end_time, killed.retry, killed.detail) == \
        (0, JobState.CANCELLED, 120.0, 0, "requeue by ann")
    lifecycle.start_job(job, ("n1",), nodes, now=130.0)
    failed = lifecycle.requeue_after_failure(job, nodes, 140.0, "node n1 died").run
    assert (failed.run, failed.state, failed.start_time, failed.nodes) == (1, JobState.NODE_FAIL, 130.0, ("n1",))
    lifecycle.start_job(job, ("n1",), nodes, now=150.0)
    lifecycle.end_job(job, JobEvent.COMPLETE, nodes, 160.0)
    ended = lifecycle.requeue_job(job, nodes, 170.0, "requeue by root").run   # an ended job, requeued
    assert (ended.run, ended.state, ended.end_time, ended.requeue_time) == (2, JobState.COMPLETED, 160.0, 170.0)
    # Preemption sets the next run's begin time before the requeue: it is the next run's, not this one's.
    lifecycle.start_job(job, ("n1",), nodes, now=180.0)
    job.spec = dataclasses.replace(job.spec, begin_time=1000.0)
    preempted = lifecycle.requeue_job(job, nodes, 190.0, "preempted").run
    assert (preempted.begin_time, preempted.next_begin_time) == (None, 1000.0)


# ---------------------------------------------------------------- sacct's records

def test_sacct_lists_earlier_runs_only_with_duplicates_or_a_requeued_state_filter(tmp_path):
    job, nodes = _running(tmp_path, retries=2)
    runs = [lifecycle.end_run(job, JobEvent.FAIL, nodes, 200.0, exit_code=1).run]
    lifecycle.start_job(job, ("n1",), nodes, now=210.0)
    lifecycle.end_run(job, JobEvent.COMPLETE, nodes, 220.0)   # (0 < 1 retry left, but a success)

    def shown(**kw):
        return [(r.job.state, r.is_requeued, r.job.submit_time, r.job.start_time)
                for r in sacct_records.records(job, runs, [], **kw)]

    earlier, latest = (JobState.FAILED, True, 100.0, 110.0), (JobState.COMPLETED, False, 200.0, 210.0)
    assert shown(with_duplicates=False, states=set()) == [latest]
    assert shown(with_duplicates=True, states=set()) == [earlier, latest]
    assert shown(with_duplicates=False, states={JobState.REQUEUED}) == [earlier]
    assert shown(with_duplicates=True, states={JobState.COMPLETED}) == [latest]
