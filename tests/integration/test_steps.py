"""Job steps through the API with a real controller and agents: tasks laid out on
the job's nodes, their environment, confinement, output, exit codes, the store's
records, and who may start them."""

import os
import uuid

import pytest
from harness import processes_with_marker, wait_until

from jem.model.errors import JobStateConflict, NotJobOwner, StepTooLarge
from jem.model.states import JobState
from jem.model.step import Step, StepSpec, TaskExit, TaskOutput

HOLD = "#!/bin/sh\nsleep 60\n"


def running_job(cluster, client, **fields) -> int:
    job_id = client.submit(cluster.spec(HOLD, **fields))
    wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING, what="job running")
    return job_id


def step_spec(cluster, *argv: str, **fields) -> StepSpec:
    fields.setdefault("working_dir", cluster.workdir)
    fields.setdefault("environment", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return StepSpec(argv=argv, **fields)


def collect(events) -> tuple[list[Step], dict[int, bytes], dict[int, TaskExit]]:
    steps, out, exits = [], {}, {}
    for event in events:
        if isinstance(event, Step):
            steps.append(event)
        elif isinstance(event, TaskOutput):
            out[event.task_id] = out.get(event.task_id, b"") + event.data
        else:
            exits[event.task_id] = event
    return steps, out, exits


def test_tasks_spread_in_blocks_with_their_environment_and_exit_codes(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=4)
        report = ("echo $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURMD_NODENAME $SLURM_STEP_ID "
                  "$SLURM_NTASKS $SLURM_STEP_NUM_TASKS $SLURM_STEP_NODELIST $SLURM_STEP_NUM_NODES $SLURM_JOB_ID "
                  "$SLURM_JOB_NODELIST $SLURM_JOB_NUM_NODES; exit $((SLURM_PROCID * 2))")
        steps, out, exits = collect(client.run_step(job_id, step_spec(cluster, "sh", "-c", report, n_tasks=3)))
        assert [s.state for s in steps] == [JobState.RUNNING, JobState.FAILED]
        assert steps[-1].step_id == 0 and steps[-1].nodes == ("n1", "n2") and steps[-1].n_tasks == 3
        assert steps[-1].exit_code == 4 and steps[-1].n_cpus == 4
        assert out == {0: f"0 0 0 n1 0 3 3 n[1-2] 2 {job_id} n[1-2] 2\n".encode(),
                       1: f"1 1 0 n1 0 3 3 n[1-2] 2 {job_id} n[1-2] 2\n".encode(),
                       2: f"2 0 1 n2 0 3 3 n[1-2] 2 {job_id} n[1-2] 2\n".encode()}
        assert {t: (e.node, e.exit_code) for t, e in exits.items()} == {0: ("n1", 0), 1: ("n1", 2), 2: ("n2", 4)}
        steps, out, _ = collect(client.run_step(job_id, step_spec(cluster, "true", name="second")))
        assert steps[-1].step_id == 1 and steps[-1].state is JobState.COMPLETED and steps[-1].n_tasks == 2
        recorded = client.list_steps([job_id])
        assert [(s.step_id, s.name, s.state, s.exit_code) for s in recorded] == [
            (0, "sh", JobState.FAILED, 4), (1, "second", JobState.COMPLETED, 0)]
        client.cancel(job_id)


def test_tasks_run_in_the_jobs_cgroup_on_every_node(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2)
        _, out, _ = collect(client.run_step(job_id, step_spec(cluster, "cat", "/proc/self/cgroup")))
        for task_id in (0, 1):
            assert cluster.cgroup_name in out[task_id].decode(), out[task_id]
        assert f"job_{job_id}" in out[0].decode() and f"steps_{job_id}" in out[1].decode()
        client.cancel(job_id)
        cluster.wait_job(client, job_id)
    wait_until(lambda: not [d for d in cluster.cgroup_dirs() if f"_{job_id}" in d], what="step cgroups removed")


def test_output_patterns_write_one_file_per_task_on_its_node(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2, name="pat")
        spec = step_spec(cluster, "sh", "-c", "echo out $SLURM_PROCID; echo err $SLURM_PROCID >&2",
                         stdout_pattern="%j.%s.%t.%n.%N.%x.out", stderr_pattern="%J_%t.err")
        steps, out, _ = collect(client.run_step(job_id, spec))
        assert out == {} and steps[-1].state is JobState.COMPLETED
        for task_id, node in ((0, "n1"), (1, "n2")):
            with open(os.path.join(cluster.workdir, f"{job_id}.0.{task_id}.{task_id}.{node}.pat.out")) as f:
                assert f.read() == f"out {task_id}\n"
            with open(os.path.join(cluster.workdir, f"{job_id}.0_{task_id}.err")) as f:
                assert f.read() == f"err {task_id}\n"
        client.cancel(job_id)


def test_a_step_may_not_exceed_the_allocation_nor_start_outside_a_running_job(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=1, n_tasks=2)
        with pytest.raises(StepTooLarge):
            list(client.run_step(job_id, step_spec(cluster, "true", n_tasks=3)))
        with pytest.raises(StepTooLarge):
            list(client.run_step(job_id, step_spec(cluster, "true", n_nodes=2)))
        held = client.submit(cluster.spec(HOLD, hold=True))
        with pytest.raises(JobStateConflict):
            list(client.run_step(held, step_spec(cluster, "true")))
        client.cancel(held)
        client.cancel(job_id)


def test_only_the_owner_or_root_may_start_a_step(cluster, stranger):
    with cluster.client() as client, cluster.client_as(stranger) as stranger:
        job_id = running_job(cluster, client)
        with pytest.raises(NotJobOwner):
            list(stranger.run_step(job_id, step_spec(cluster, "true")))
        assert client.list_steps([job_id]) == []
        client.cancel(job_id)


def test_cancelling_the_job_kills_its_running_steps_on_every_node(cluster):
    marker = f"step-{uuid.uuid4().hex[:8]}"
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2)
        events = client.run_step(job_id, step_spec(cluster, "sh", "-c", f"sleep 300; echo {marker}"))
        assert next(events).state is JobState.RUNNING
        wait_until(lambda: len(processes_with_marker(marker)) == 2, what="both tasks running")
        client.cancel(job_id)
        steps, _, exits = collect(events)
        assert steps[-1].state is JobState.CANCELLED and set(exits) == {0, 1}
        wait_until(lambda: not processes_with_marker(marker), what="tasks gone")
        assert client.list_steps([job_id])[0].state is JobState.CANCELLED


def test_closing_the_stream_kills_the_step(cluster):
    marker = f"step-{uuid.uuid4().hex[:8]}"
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2)
        events = client.run_step(job_id, step_spec(cluster, "sh", "-c", f"sleep 300; echo {marker}"))
        next(events)
        wait_until(lambda: len(processes_with_marker(marker)) == 2, what="both tasks running")
        events.close()   # what srun does when it is interrupted
        wait_until(lambda: not processes_with_marker(marker), what="tasks gone")
        wait_until(lambda: client.list_steps([job_id])[0].state is JobState.CANCELLED, what="step recorded")
        assert client.get_job(job_id).state is JobState.RUNNING   # the job itself goes on
        client.cancel(job_id)
