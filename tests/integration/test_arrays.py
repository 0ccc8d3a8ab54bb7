"""Job arrays through a real controller and agents: tasks, throttle, environment, cancel."""

import os

import pytest

from jem.model.jobfilter import JobFilter
from jem.model.errors import InvalidArraySpec
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import wait_until

pytestmark = pytest.mark.integration


def _records(client, array_id):
    return client.list_jobs(JobFilter(job_ids=frozenset({array_id})), include_old=True)


def _wait_all_ended(cluster, client, array_id, timeout_s=40.0):
    wait_until(lambda: all(r.state.is_terminal for r in _records(client, array_id)), timeout_s=timeout_s,
               what=f"array {array_id} to end")
    return {r.array_task_id: r for r in _records(client, array_id)}


def test_every_task_runs_once_with_its_array_environment_and_file_names(cluster):
    script = ("#!/bin/sh\necho \"$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT "
              "$SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX $SLURM_ARRAY_TASK_STEP $SLURM_JOB_ID\"\n")
    with cluster.client() as client:
        array_id = client.submit(cluster.spec(script, array="1-9:2"))
        tasks = _wait_all_ended(cluster, client, array_id)
    assert sorted(tasks) == [1, 3, 5, 7, 9]
    assert all(t.state is JobState.COMPLETED for t in tasks.values())
    assert tasks[9].job_id == array_id            # the array's own record becomes its last task
    assert len({t.job_id for t in tasks.values()}) == 5
    for index, task in tasks.items():
        with open(os.path.join(cluster.workdir, f"slurm-{array_id}_{index}.out")) as f:
            assert f.read().split() == [str(array_id), str(index), "5", "1", "9", "2", str(task.job_id)]
        assert task.label == f"{array_id}_{index}"


def test_throttle_keeps_at_most_n_tasks_running(cluster):
    marker = os.path.join(cluster.workdir, "running")
    os.makedirs(marker)
    # Each task records the most tasks it saw running beside it.
    script = (f"#!/bin/sh\ntouch {marker}/$SLURM_ARRAY_TASK_ID\nsleep 0.6\n"
              f"ls {marker} | wc -l > {cluster.workdir}/seen-$SLURM_ARRAY_TASK_ID\nrm {marker}/$SLURM_ARRAY_TASK_ID\n")
    with cluster.client() as client:
        array_id = client.submit(cluster.spec(script, array="0-5%2"))
        wait_until(lambda: any(r.reason is JobReason.JOB_ARRAY_TASK_LIMIT and r.array_pending
                               for r in _records(client, array_id)), what="throttle reason")
        tasks = _wait_all_ended(cluster, client, array_id)
    assert sorted(tasks) == list(range(6))
    assert all(t.state is JobState.COMPLETED for t in tasks.values())
    seen = [int(open(os.path.join(cluster.workdir, f"seen-{i}")).read()) for i in range(6)]
    assert max(seen) <= 2


def test_cancel_one_task_a_range_and_the_whole_array(cluster):
    with cluster.client() as client:
        array_id = client.submit(cluster.spec("#!/bin/sh\nsleep 60\n", array="0-7%1"))
        wait_until(lambda: any(r.state is JobState.RUNNING for r in _records(client, array_id)), what="a task runs")
        client.cancel(array_id, array_task_ids=[5])            # not split off yet
        client.cancel(array_id, array_task_ids=[0])            # running
        client.cancel(array_id, array_task_ids=[6, 7])         # a range, both unsplit
        by_task = {r.array_task_id: r for r in _records(client, array_id) if r.array_task_id is not None}
        assert by_task[5].state is JobState.CANCELLED and by_task[6].state is JobState.CANCELLED
        assert by_task[7].state is JobState.CANCELLED
        wait_until(lambda: {r.array_task_id: r for r in _records(client, array_id)}[0].state
                   is JobState.CANCELLED, what="task 0 cancelled")
        client.cancel(array_id)                                # everything left
        tasks = _wait_all_ended(cluster, client, array_id)
    assert all(t.state is JobState.CANCELLED for t in tasks.values())
    covered = set(k for k in tasks if k is not None)
    for record in tasks.values():
        covered |= set(record.array_pending)
    assert covered == set(range(8))                            # no task lost, none run twice


def test_an_array_larger_than_the_configured_size_is_refused(make_cluster):
    cluster = make_cluster(extra_config="max_array_size = 4").start()
    with cluster.client() as client:
        with pytest.raises(InvalidArraySpec):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", array="0-4"))
        # The limit counts tasks, not index values.
        array_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", array="1000000-1000003"))
        tasks = _wait_all_ended(cluster, client, array_id)
    assert sorted(tasks) == [1000000, 1000001, 1000002, 1000003]
