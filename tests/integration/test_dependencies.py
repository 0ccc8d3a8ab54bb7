"""Job dependencies through a real controller and agents."""

import os

import pytest

from jem.model.errors import DependencyProblem
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import wait_until

pytestmark = pytest.mark.integration


def _job(client, job_id):
    return client.get_job(job_id)


def test_afterok_waits_then_runs_after_success(cluster):
    stamp = os.path.join(cluster.workdir, "order")
    with cluster.client() as client:
        first = client.submit(cluster.spec(f"#!/bin/sh\nsleep 1\necho first >> {stamp}\n"))
        second = client.submit(cluster.spec(f"#!/bin/sh\necho second >> {stamp}\n", dependency=f"afterok:{first}"))
        wait_until(lambda: _job(client, second).reason is JobReason.DEPENDENCY, what="reason Dependency")
        assert _job(client, second).dependency == f"afterok:{first}"
        done = cluster.wait_job(client, second)
    assert done.state is JobState.COMPLETED and done.dependency == ""
    assert open(stamp).read().split() == ["first", "second"]


def test_afterok_on_a_failed_job_can_never_be_satisfied_but_afternotok_runs(cluster):
    with cluster.client() as client:
        failing = client.submit(cluster.spec("#!/bin/sh\nexit 2\n"))
        on_ok = client.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency=f"afterok:{failing}"))
        on_fail = client.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency=f"afternotok:{failing}"))
        assert cluster.wait_job(client, on_fail).state is JobState.COMPLETED
        wait_until(lambda: _job(client, on_ok).reason is JobReason.DEPENDENCY_NEVER_SATISFIED,
                   what="DependencyNeverSatisfied")
        assert _job(client, on_ok).state is JobState.PENDING
        client.cancel(on_ok)


def test_any_of_joined_by_question_mark_and_afterany(cluster):
    with cluster.client() as client:
        failing = client.submit(cluster.spec("#!/bin/sh\nexit 1\n"))
        long = client.submit(cluster.spec("#!/bin/sh\nsleep 30\n"))
        either = client.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency=f"afterany:{failing}?afterok:{long}"))
        assert cluster.wait_job(client, either).state is JobState.COMPLETED
        assert _job(client, long).state is JobState.RUNNING
        client.cancel(long)


def test_after_an_array_waits_for_every_task_and_aftercorr_pairs_tasks(cluster):
    log = os.path.join(cluster.workdir, "log")
    with cluster.client() as client:
        producer = client.submit(cluster.spec(
            f"#!/bin/sh\nsleep 0.$SLURM_ARRAY_TASK_ID\necho p$SLURM_ARRAY_TASK_ID >> {log}\n", array="1-3"))
        consumer = client.submit(cluster.spec(
            f"#!/bin/sh\necho c$SLURM_ARRAY_TASK_ID >> {log}\n", array="1-3", dependency=f"aftercorr:{producer}"))
        final = client.submit(cluster.spec(f"#!/bin/sh\necho final >> {log}\n", dependency=f"afterok:{consumer}"))
        assert cluster.wait_job(client, final, timeout_s=40).state is JobState.COMPLETED
    lines = open(log).read().split()
    assert lines[-1] == "final" and sorted(lines) == sorted(["p1", "p2", "p3", "c1", "c2", "c3", "final"])
    for i in (1, 2, 3):
        assert lines.index(f"p{i}") < lines.index(f"c{i}")


def test_singleton_runs_one_job_of_a_name_at_a_time(cluster):
    log = os.path.join(cluster.workdir, "single")
    script = f"#!/bin/sh\necho start >> {log}\nsleep 0.5\necho end >> {log}\n"
    with cluster.client() as client:
        ids = [client.submit(cluster.spec(script, name="one", dependency="singleton")) for _ in range(3)]
        for job_id in ids:
            assert cluster.wait_job(client, job_id).state is JobState.COMPLETED
    assert open(log).read().split() == ["start", "end"] * 3


def test_a_dependency_on_a_job_that_never_existed_is_refused(cluster):
    with cluster.client() as client:
        with pytest.raises(DependencyProblem):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency="afterok:999999"))
        with pytest.raises(DependencyProblem):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency="afterwards:1"))
        assert client.list_jobs(include_old=True) == []
