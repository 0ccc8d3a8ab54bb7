"""One batch job's whole path through a real controller and real agents."""

import os
import threading
import time
import uuid

import pytest

from jem.model.jobfilter import JobFilter
from jem.model.errors import JobNotFound, NotJobOwner, PartitionTimeLimit, Unsatisfiable, UnknownPartition
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import processes_with_marker, wait_until

pytestmark = pytest.mark.integration


def test_job_completes_and_writes_its_output_file(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\necho hello from $SLURM_JOB_ID\necho oops >&2\n", name="hi"))
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    assert job.exit_code == 0 and job.exit_signal == 0
    assert job.nodes and job.nodes[0] in cluster.node_names
    assert job.start_time is not None and job.end_time >= job.start_time
    with open(os.path.join(cluster.workdir, f"slurm-{job_id}.out")) as f:
        assert f.read() == f"hello from {job_id}\noops\n"


def test_job_sees_the_slurm_batch_environment(cluster):
    script = "#!/bin/sh\nenv | grep -E '^(SLURM|JEM)_' | sort\n"
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(script, name="envjob", n_tasks=2, cpus_per_task=1,
                                            stdout_pattern="env-%x-%j.txt"))
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    with open(os.path.join(cluster.workdir, f"env-envjob-{job_id}.txt")) as f:
        env = dict(line.split("=", 1) for line in f.read().splitlines())
    assert env["SLURM_JOB_ID"] == env["JEM_JOB_ID"] == str(job_id)
    assert env["SLURM_JOB_NAME"] == "envjob"
    assert env["SLURM_SUBMIT_DIR"] == cluster.workdir
    assert env["SLURM_JOB_NODELIST"] == job.nodes[0]
    assert env["SLURM_NNODES"] == "1" and env["SLURM_NTASKS"] == "2"
    assert env["SLURM_CPUS_ON_NODE"] == "2" and env["SLURM_CPUS_PER_TASK"] == "1"
    assert env["SLURM_JOB_PARTITION"] == "debug"
    assert env["SLURM_JOB_UID"] == str(os.getuid())
    assert int(env["SLURM_MEM_PER_NODE"]) == job.shape.per_node.mem_mib > 0


def test_job_exiting_3_fails_with_exit_code_3(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\nexit 3\n"))
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.FAILED
    assert job.exit_code == 3
    assert job.reason is JobReason.NON_ZERO_EXIT_CODE


def test_cancelled_running_job_leaves_no_process_behind(cluster):
    marker = f"jemtest-{uuid.uuid4().hex[:8]}"
    # The script forks a child (same process group) and a grandchild that
    # leaves the group with setsid before the script itself sleeps.
    script = (f"#!/bin/bash\n(exec -a {marker}-child sleep 300) &\n"
              f"(setsid bash -c 'exec -a {marker}-escaped sleep 300') &\n"
              f"exec -a {marker}-main sleep 300\n")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(script))
        wait_until(lambda: len(processes_with_marker(marker)) == 3, what="job processes to start")
        assert client.cancel(job_id) in (JobState.COMPLETING, JobState.CANCELLED)
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.CANCELLED
    wait_until(lambda: not processes_with_marker(marker), 10, what="job processes to be gone")
    with cluster.client() as client:
        nodes = {info.node.name: info for info in client.list_nodes()}
    assert nodes[job.nodes[0]].node.allocated.cpus == 0


def test_cancelling_a_pending_job_ends_it_at_once(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        assert client.get_job(job_id).reason is JobReason.JOB_HELD_USER
        assert client.cancel(job_id) is JobState.CANCELLED
        assert client.get_job(job_id).state is JobState.CANCELLED


def test_job_larger_than_any_node_is_rejected_at_submit(cluster):
    with cluster.client() as client:
        with pytest.raises(Unsatisfiable) as info:
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", cpus_per_task=cluster.cpus + 1))
        assert "Requested node configuration is not available" in str(info.value)
        with pytest.raises(Unsatisfiable):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", n_nodes=len(cluster.node_names) + 1))
        with pytest.raises(Unsatisfiable):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", mem_per_node_mib=cluster.mem_mib + 1))
        with pytest.raises(UnknownPartition):
            client.submit(cluster.spec("#!/bin/sh\ntrue\n", partition="nope"))
        assert client.list_jobs() == []


def test_multi_node_job_gets_distinct_nodes(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\necho $SLURM_JOB_NODELIST $SLURM_NNODES\n", n_nodes=2))
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    assert sorted(job.nodes) == ["n1", "n2"]
    with open(os.path.join(cluster.workdir, f"slurm-{job_id}.out")) as f:
        assert f.read().split() == ["n[1-2]", "2"]


def test_jobs_wait_for_resources_and_then_run(cluster):
    # 2 nodes x 2 CPUs: four 2-CPU jobs run two at a time.
    with cluster.client() as client:
        ids = [client.submit(cluster.spec("#!/bin/sh\nsleep 1\n", cpus_per_task=2)) for _ in range(4)]
        pending = wait_until(lambda: [j for j in client.list_jobs(JobFilter(job_ids=frozenset(ids))) if j.state is JobState.PENDING
                                      and j.reason in (JobReason.RESOURCES, JobReason.PRIORITY)],
                             what="a job waiting for resources")
        assert pending[0].reason in (JobReason.RESOURCES, JobReason.PRIORITY)
        jobs = [cluster.wait_job(client, job_id) for job_id in ids]
    assert all(j.state is JobState.COMPLETED for j in jobs)
    # Never more than two at once: the last two started after the first two ended.
    first_ends = sorted(j.end_time for j in jobs)[:2]
    later_starts = sorted(j.start_time for j in jobs)[2:]
    assert min(later_starts) >= min(first_ends) - 0.05


def test_only_the_owner_or_root_may_cancel_or_hold(cluster, stranger):
    with cluster.client() as client, cluster.client_as(stranger) as other:
        job_id = client.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
        with pytest.raises(NotJobOwner):
            other.cancel(job_id)
        with pytest.raises(NotJobOwner):
            other.release(job_id)
        with pytest.raises(JobNotFound):
            other.cancel(999_999)
        assert client.get_job(job_id).state is JobState.PENDING
        theirs = other.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        assert client.hold(theirs) == "admin"          # root holding another's job: admin hold
        assert other.get_job(theirs).reason is JobReason.JOB_HELD_ADMIN
        client.cancel(theirs)
        client.cancel(job_id)


def test_hold_release_and_update(cluster):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\necho $SLURM_JOB_NAME\n", hold=True, time_limit_s=600))
        job = client.update(job_id, name="renamed", time_limit_s=300)
        assert job.spec.name == "renamed" and job.time_limit_s == 300
        assert client.get_job(job_id).state is JobState.PENDING
        client.release(job_id)
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    with open(os.path.join(cluster.workdir, f"slurm-{job_id}.out")) as f:
        assert f.read() == "renamed\n"


def test_partition_time_limit_is_enforced_at_submit(make_cluster):
    c = make_cluster()
    with open(c.config_path, "a") as f:
        f.write('max_time = "0:10:00"\n')
    c.start()
    with c.client() as client:
        with pytest.raises(PartitionTimeLimit):
            client.submit(c.spec("#!/bin/sh\ntrue\n", time_limit_s=3600))
        job_id = client.submit(c.spec("#!/bin/sh\ntrue\n"))
        assert client.get_job(job_id).time_limit_s == 600


def test_watch_streams_each_state_change(cluster):
    events = []
    with cluster.client() as client, cluster.client() as watcher:
        # A held job's release is the first event the watcher can see only once subscribed.
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))

        def watch():
            for notice in watcher.watch(job_ids=[job_id]):
                events.append((notice.event, notice.job.state))
                if notice.job.state.is_terminal:
                    return

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        wait_until(lambda: cluster_has_watcher(cluster), what="the watcher to subscribe")
        client.release(job_id)
        thread.join(20)
    assert events == [("current", JobState.PENDING), ("release", JobState.PENDING), ("start", JobState.RUNNING),
                      ("complete", JobState.COMPLETED)]


def test_a_watch_begun_after_the_job_ended_starts_with_where_it_stands(cluster):
    # (the README's submit-then-watch: JEM may finish a short job before the watch subscribes)
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        cluster.wait_job(client, job_id)
        first = next(iter(client.watch(job_ids=[job_id, 999999])))   # (an unknown id is left out)
    assert (first.seq, first.event, first.job.job_id, first.job.state) == (0, "current", job_id, JobState.COMPLETED)


def cluster_has_watcher(cluster) -> bool:
    """True once the controller logged a subscription (WatchJobs has started)."""
    return "watch subscribed" in cluster.log("controller.log")


def test_open_mode_append_keeps_what_the_file_held(cluster):
    out = os.path.join(cluster.workdir, "appended.out")
    with open(out, "w") as f:
        f.write("before\n")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\necho after\n", stdout_pattern=out, open_mode="append"))
        assert cluster.wait_job(client, job_id).state is JobState.COMPLETED
        job_id = client.submit(cluster.spec("#!/bin/sh\necho only\n", stdout_pattern=out + ".t"))
        cluster.wait_job(client, job_id)
    assert open(out).read() == "before\nafter\n"
    assert open(out + ".t").read() == "only\n"


def test_signal_before_the_time_limit_reaches_the_batch_shell_alone_with_b(cluster):
    # (Without B: the job's steps get it: tests/e2e/test_slurm_signals.py.)
    log = os.path.join(cluster.workdir, "warned")
    script = (f"#!/bin/bash\ntrap 'echo shell >> {log}' USR1\n"
              f"(trap 'echo child >> {log}; exit 0' USR1; while :; do sleep 0.1; done) &\n"
              "for i in $(seq 100); do sleep 0.1; done\n")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(script, time_limit_s=6, warn_signal=10, warn_time_s=4,
                                            warn_batch_only=True))
        wait_until(lambda: os.path.exists(log), timeout_s=15, what="the warning signal")
        client.cancel(job_id)
    assert open(log).read().split() == ["shell"]


def test_a_job_waits_for_its_begin_time_with_reason_begintime_then_runs(cluster):
    with cluster.client() as client:
        begin = time.time() + 3
        job_id = client.submit(cluster.spec("#!/bin/sh\ndate +%s.%N\n", begin_time=begin))
        wait_until(lambda: client.get_job(job_id).reason is JobReason.BEGIN_TIME, what="reason BeginTime")
        assert client.get_job(job_id).state is JobState.PENDING
        job = cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    assert job.start_time >= begin
