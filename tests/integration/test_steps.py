"""Job steps through the API with a real controller and agents: tasks laid out on
the job's nodes, their environment, confinement, output, exit codes, the store's
records, and who may start them."""

import os
import resource
import uuid

import pytest
from harness import processes_with_marker, wait_until

from jem.model.errors import InvalidArgument, JobStateConflict, NotJobOwner, StepTooLarge
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


# ---------------------------------------------------------------- srun's step options (issue 12)

LIMITS_REPORT = "umask; ulimit -S -n; ulimit -H -n; ulimit -S -c; ulimit -H -c; env | grep -c '^SLURM_RLIMIT_' || true"


def test_the_submitters_umask_and_soft_limits_reach_the_tasks(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2)
        env = {"PATH": "/usr/bin:/bin", "SLURM_UMASK": "0027", "SLURM_RLIMIT_NOFILE": "512", "SLURM_RLIMIT_CORE": "0"}
        _, out, _ = collect(client.run_step(job_id, step_spec(cluster, "sh", "-c", LIMITS_REPORT, environment=env)))
        hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard_core = resource.getrlimit(resource.RLIMIT_CORE)[1]
        core = "unlimited" if hard_core == resource.RLIM_INFINITY else str(hard_core // 512)   # (sh's 512-byte units)
        for task_id in (0, 1):
            assert out[task_id].decode().split() == ["0027", "512", str(hard_nofile), "0", core, "0"]
        client.cancel(job_id)


def test_a_user_gets_no_limit_above_the_nodes_hard_limits_nor_a_strange_umask(make_cluster, stranger):
    # The second user comes through a JWT (no user signature): the agents allow unsigned work.
    cluster = make_cluster(agent_args=("--unsigned-jobs", "allow"))
    cluster.start()
    # The nodes allow at most 4096 open files and no core files (hard limits), as an admin may set them.
    for agent in cluster.agents.values():
        resource.prlimit(agent.pid, resource.RLIMIT_NOFILE, (1024, 4096))
        resource.prlimit(agent.pid, resource.RLIMIT_CORE, (0, 0))
    with cluster.client_as(stranger) as client:
        job_id = client.submit(cluster.spec(HOLD, n_nodes=2, n_tasks=2, working_dir="/tmp", stdout_pattern="/dev/null"))
        wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING, what="job running")
        env = {"PATH": "/usr/bin:/bin", "SLURM_UMASK": "07777", "SLURM_RLIMIT_NOFILE": "1000000",
               "SLURM_RLIMIT_CORE": "unlimited"}
        report = LIMITS_REPORT + "; ulimit -H -n 100000 2>/dev/null && echo raised || echo refused"
        spec = StepSpec(("sh", "-c", report), environment=env, working_dir="/tmp")
        _, out, exits = collect(client.run_step(job_id, spec))
        default_umask = f"{os.umask(0):04o}"
        os.umask(int(default_umask, 8))
        for task_id in (0, 1):
            assert out[task_id].decode().split() == [default_umask, "4096", "4096", "0", "0", "0", "refused"]
        client.cancel(job_id)


def test_each_task_runs_its_multi_prog_line_and_a_configuration_missing_a_task_is_refused(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=4)
        conf = "0 echo zero %t %o\n1-2 echo 'one two' %t %o\n* sh -c 'echo rest $SLURM_PROCID'\n"
        spec = step_spec(cluster, "silly.conf", "extra", n_tasks=4, multi_prog=conf)
        steps, out, _ = collect(client.run_step(job_id, spec))
        assert out == {0: b"zero 0 0 extra\n", 1: b"one two 1 0 extra\n", 2: b"one two 2 1 extra\n",
                       3: b"rest 3\n"}
        assert steps[-1].name == "silly.conf"
        with pytest.raises(InvalidArgument, match="no record for task id 1"):
            list(client.run_step(job_id, step_spec(cluster, "c.conf", n_tasks=2, multi_prog="0 true\n")))
        client.cancel(job_id)


def test_task_prolog_sets_the_environment_and_task_epilog_runs_after_each_task(cluster, tmp_path):
    prolog, epilog = tmp_path / "prolog.sh", tmp_path / "epilog.sh"
    prolog.write_text("#!/bin/sh\necho 'export GREETING=hello there'\necho \"print prolog $SLURM_PROCID\"\n"
                      "echo 'unset DROPPED'\n")
    epilog.write_text(f"#!/bin/sh\necho \"$SLURM_PROCID ${{GREETING-unset}}\" >> {tmp_path}/epilog.log\n"
                      "echo epilog-err >&2\nexit 3\n")
    for path in (prolog, epilog):
        path.chmod(0o755)
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=2)
        env = {"PATH": "/usr/bin:/bin", "DROPPED": "x"}
        spec = step_spec(cluster, "sh", "-c", "echo $GREETING ${DROPPED-gone}; exit 4", environment=env,
                         task_prolog=str(prolog), task_epilog=str(epilog))
        steps, out, exits = collect(client.run_step(job_id, spec))
        for task_id, node in ((0, "n1"), (1, "n2")):
            assert out[task_id] == (f"prolog {task_id}\nhello there gone\nepilog-err\n"
                                    f"slurmstepd-{node}: error: TaskEpilog failed status=768\n").encode()
            assert exits[task_id].exit_code == 4   # (the epilog's failure does not change it)
        assert sorted((tmp_path / "epilog.log").read_text().splitlines()) == ["0 unset", "1 unset"]
        client.cancel(job_id)


def test_overcommit_runs_more_tasks_than_the_job_has_cpus(cluster):
    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=1, n_tasks=1)
        with pytest.raises(StepTooLarge):
            list(client.run_step(job_id, step_spec(cluster, "true", n_tasks=3)))
        spec = step_spec(cluster, "sh", "-c", "echo $SLURM_OVERCOMMIT", n_tasks=3, overcommit=True)
        steps, out, _ = collect(client.run_step(job_id, spec))
        assert steps[-1].state is JobState.COMPLETED and out == {t: b"1\n" for t in range(3)}
        client.cancel(job_id)


def test_srun_stdin_reaches_the_tasks_that_read_it_and_the_rest_read_nothing(cluster):
    from jem_slurm.srun_input import StdinRelay

    with cluster.client() as client:
        job_id = running_job(cluster, client, n_nodes=2, n_tasks=4)
        for mode, readers in (("all", {0, 1, 2, 3}), ("2", {2})):
            stdin_r, stdin_w = os.pipe()
            relay = StdinRelay("127.0.0.1", source_fd=stdin_r)
            spec = step_spec(cluster, "sh", "-c", "wc -l", n_tasks=4, input=mode,
                             environment={"PATH": "/usr/bin:/bin", **relay.environment()})
            events = client.run_step(job_id, spec)
            step = next(events)
            relay.start(len(step.nodes) if mode == "all" else 1)
            os.write(stdin_w, b"".join(b"line %d\n" % i for i in range(1000)))
            os.close(stdin_w)
            _, out, _ = collect(events)
            relay.close()
            os.close(stdin_r)
            assert out == {t: b"1000\n" if t in readers else b"0\n" for t in range(4)}, mode
        client.cancel(job_id)
