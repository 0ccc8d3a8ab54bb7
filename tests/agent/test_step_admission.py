"""Step orders fenced by the job's run and the node's epoch: the decisions of RunFence, and
StepTasks with real processes refusing an order for a run the node does not hold (StaleRun,
before any task starts) while an order for the run it holds still runs."""

import os
import pwd

import pytest

from jem.agent.fencing import RunFence, StepAdmission
from jem.agent.running import RunningJobs
from jem.agent import steps as steps_module
from jem.agent.steps import StepTasks
from jem.model.errors import ERRORS_BY_REASON, StaleRun
from jem.model.execution import Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources
from jem.model.step import StepSpec, TaskExit, TaskOrder

from agent_reports import Reports

JOB = 5


# ------------------------------------------------------------------ RunFence alone


def test_on_the_batch_node_only_the_run_held_takes_a_step():
    fence = RunFence()
    assert fence.admit(JOB, 1, epoch=0).value == "start"
    fence.end_start(JOB)
    assert fence.admit_step(JOB, 1, epoch=0, held=1, is_batch_node=True) is StepAdmission.JOIN
    with pytest.raises(StaleRun, match="order for run 0 of job 5; the node holds run 1"):
        fence.admit_step(JOB, 0, epoch=0, held=1, is_batch_node=True)
    # Run 1 ended here (admitted, no longer held): an order for it can never join it again.
    with pytest.raises(StaleRun, match="holds no run"):
        fence.admit_step(JOB, 1, epoch=0, held=None, is_batch_node=True)


def test_on_the_batch_node_a_step_waits_for_its_runs_launch():
    fence = RunFence()
    # Nothing of the job admitted yet, or only an earlier run: the order's launch is to come.
    assert fence.admit_step(JOB, 0, epoch=0, held=None, is_batch_node=True) is StepAdmission.WAIT
    fence.admit(JOB, 0, epoch=0)
    fence.end_start(JOB)
    assert fence.admit_step(JOB, 1, epoch=0, held=0, is_batch_node=True) is StepAdmission.WAIT
    fence.admit(JOB, 1, epoch=0)   # run 1 admitted, still starting
    assert fence.admit_step(JOB, 1, epoch=0, held=0, is_batch_node=True) is StepAdmission.WAIT


def test_on_another_node_no_step_of_an_earlier_run_than_the_latest_seen():
    fence = RunFence()
    assert fence.admit_step(JOB, 1, epoch=0, held=None, is_batch_node=False) is StepAdmission.SHARE
    assert fence.admit_step(JOB, 1, epoch=0, held=None, is_batch_node=False) is StepAdmission.SHARE
    with pytest.raises(StaleRun, match="order for run 0 of job 5; the node has seen run 1"):
        fence.admit_step(JOB, 0, epoch=0, held=None, is_batch_node=False)
    assert fence.admit_step(JOB, 2, epoch=0, held=None, is_batch_node=False) is StepAdmission.SHARE
    with pytest.raises(StaleRun):
        fence.admit_step(JOB, 1, epoch=0, held=None, is_batch_node=False)
    # A run this node held as the batch node counts as seen too.
    fence.note(6, 3)
    with pytest.raises(StaleRun):
        fence.admit_step(6, 2, epoch=0, held=None, is_batch_node=False)
    # Steps seen elsewhere never refuse a launch of that run here.
    assert fence.admit(JOB, 2, epoch=0).value == "start"


def test_a_step_sent_under_an_earlier_epoch_is_refused_anywhere():
    fence = RunFence()
    fence.epoch = 3
    for is_batch_node in (True, False):
        with pytest.raises(StaleRun, match="sent under node epoch 2; the node registered since"):
            fence.admit_step(JOB, 0, epoch=2, held=0, is_batch_node=is_batch_node)
    assert fence.admit_step(JOB, 0, epoch=3, held=0, is_batch_node=True) is StepAdmission.JOIN
    assert fence.admit_step(JOB, 0, epoch=0, held=0, is_batch_node=True) is StepAdmission.JOIN   # 0: unknown


def test_an_order_naming_no_run_is_placed_as_before():
    fence = RunFence()
    assert fence.admit_step(JOB, None, epoch=0, held=4, is_batch_node=True) is StepAdmission.JOIN
    assert fence.admit_step(JOB, None, epoch=0, held=None, is_batch_node=True) is StepAdmission.WAIT
    assert fence.admit_step(JOB, None, epoch=0, held=None, is_batch_node=False) is StepAdmission.SHARE


def test_stale_run_is_a_typed_failed_precondition():
    assert ERRORS_BY_REASON["StaleRun"] is StaleRun and StaleRun.grpc_code == "FAILED_PRECONDITION"
    assert str(StaleRun("order for run 0 of job 5")) == "Job credential revoked: order for run 0 of job 5"


# ------------------------------------------------------------------ StepTasks with real processes


def batch_launch(tmp_path, run: int) -> Launch:
    """Job JOB's batch script on n1 as this user: it waits for the file `go`."""
    spec = JobSpec(script=f"#!/bin/sh\nwhile [ ! -e {tmp_path}/go ]; do sleep 0.02; done\n", name="fenced",
                   working_dir=str(tmp_path), stdout_pattern="out-%j.txt", environment={"PATH": "/usr/bin:/bin"})
    return Launch(job_id=JOB, spec=spec, user=me(), uid=os.getuid(), gid=os.getgid(), nodes=("n1", "n2"),
                  alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=None, kill_wait_s=1, submit_dir=str(tmp_path),
                  cluster_name="c", restart_count=run)


def order(tmp_path, marker: str, *, run: int | None, epoch: int = 0) -> TaskOrder:
    """A one-task step of job JOB (nodes n1, n2; n1 runs its batch script) that touches `marker`."""
    spec = StepSpec(argv=("sh", "-c", f"touch {tmp_path}/{marker}"), working_dir=str(tmp_path),
                    environment={"PATH": "/usr/bin:/bin"})
    return TaskOrder(job_id=JOB, step_id=0, spec=spec, user=me(), uid=os.getuid(), gid=os.getgid(), task_ids=(0,),
                     step_nodes=("n1", "n2"), job_nodes=("n1", "n2"), n_tasks=2, alloc=Resources(1, 100, 0),
                     restart_count=run, node_epoch=epoch)


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def exits_of(events) -> list[TaskExit]:
    return [e for e in events if isinstance(e, TaskExit)]


@pytest.fixture
def node(tmp_path):
    """n1's RunningJobs and StepTasks (no cgroups), with job JOB's run 1 running there."""
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=str(tmp_path / "spool"), report=reports)
    epoch, _ = running.begin_registration()
    assert running.launch(batch_launch(tmp_path, 1), epoch=epoch)
    try:
        yield running, StepTasks(node_name="n1", jobs=running), epoch
    finally:
        (tmp_path / "go").touch()
        reports.wait_for(JOB)
        running.close()


def test_a_step_of_an_earlier_run_starts_nothing_on_the_batch_node(tmp_path, node):
    running, steps, epoch = node
    with pytest.raises(StaleRun, match="order for run 0 of job 5; the node holds run 1"):
        steps.run(order(tmp_path, "stale", run=0, epoch=epoch), lambda: True)
    (done,) = exits_of(steps.run(order(tmp_path, "current", run=1, epoch=epoch), lambda: True))
    assert (done.exit_code, done.launch_error) == (0, "")
    assert (tmp_path / "current").exists() and not (tmp_path / "stale").exists()


def test_a_step_sent_before_the_nodes_latest_registration_starts_nothing(tmp_path, node):
    running, steps, epoch = node
    newer, _ = running.begin_registration()
    with pytest.raises(StaleRun, match=f"sent under node epoch {epoch}"):
        steps.run(order(tmp_path, "stale", run=1, epoch=epoch), lambda: True)
    (done,) = exits_of(steps.run(order(tmp_path, "current", run=1, epoch=newer), lambda: True))
    assert done.exit_code == 0 and (tmp_path / "current").exists() and not (tmp_path / "stale").exists()


def test_a_step_of_an_earlier_run_starts_nothing_on_the_jobs_other_nodes(tmp_path):
    running = RunningJobs(node_name="n2", spool_dir=str(tmp_path / "spool"), report=Reports())
    steps = StepTasks(node_name="n2", jobs=running)
    try:
        (done,) = exits_of(steps.run(order(tmp_path, "current", run=1), lambda: True))
        assert done.exit_code == 0 and (tmp_path / "current").exists()
        with pytest.raises(StaleRun, match="order for run 0 of job 5; the node has seen run 1"):
            steps.run(order(tmp_path, "stale", run=0), lambda: True)
        assert not (tmp_path / "stale").exists()
    finally:
        running.close()


def test_a_step_whose_run_never_starts_on_the_batch_node_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(steps_module, "BATCH_WAIT_S", 0.2)   # the wait for the run's launch
    running = RunningJobs(node_name="n1", spool_dir=str(tmp_path / "spool"), report=Reports())
    try:
        with pytest.raises(StaleRun, match="that run did not start on this node"):
            StepTasks(node_name="n1", jobs=running).run(order(tmp_path, "orphan", run=0), lambda: True)
        assert not (tmp_path / "orphan").exists()
    finally:
        running.close()
