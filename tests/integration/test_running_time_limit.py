"""A running job's time limit changed on a real cluster (scontrol update JobId=N TimeLimit=...,
JobService.UpdateJob): the controller commits it, then tells the job's batch node, whose agent holds
the run to it (AgentService.SetTimeLimit). An operator raises a limit and the job runs past the old
one, or lowers it and the job ends TIMEOUT at the new one (at once when it has passed, with Slurm's
`*** JOB N ON node CANCELLED AT ... DUE TO TIME LIMIT ***` line); its owner lowers it but may not raise
it; an agent restarted meanwhile keeps the new limit; and sbatch --signal's warning follows it."""

import os
import pwd
import re
import signal
import time
import uuid

import pytest

from harness import wait_until
from jem.model.errors import PermissionDenied
from jem.model.states import JobState

pytestmark = pytest.mark.integration

UNSIGNED = ("--unsigned-jobs", "allow")   # the user's jobs (JWT: unsigned) run, as the user
TIME_LIMIT_LINE = r"^slurmstepd: error: \*\*\* JOB {job} ON n\d CANCELLED AT \S+ DUE TO TIME LIMIT \*\*\*$"


def counter(path: str) -> str:
    """A job that writes 1, 2, 3, ... to `path` every 0.1 s, for ever."""
    return f"#!/bin/sh\ni=0\nwhile true; do i=$((i+1)); echo $i > {path}; sleep 0.1; done\n"


def count(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


def running(cluster, client, job_id: int, mark: str):
    """The job once it runs and has counted."""
    job = cluster.wait_job(client, job_id, states={JobState.RUNNING})
    wait_until(lambda: count(mark) >= 2, what="the job to count")
    return job


def timed_out_line(cluster, job_id: int, out: str | None = None) -> bool:
    with open(out or os.path.join(cluster.workdir, f"slurm-{job_id}.out")) as f:
        return re.search(TIME_LIMIT_LINE.format(job=job_id), f.read(), re.M) is not None


def test_an_operator_raises_a_running_jobs_limit_and_it_runs_past_the_old_one_then_lowers_it_past(cluster):
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=4))
        job = running(cluster, client, job_id, mark)
        assert client.update(job_id, time_limit_s=600).time_limit_s == 600
        wait_until(lambda: time.time() > job.start_time + 4 + 2, timeout_s=10, what="the old limit to pass")
        ticks = count(mark)
        wait_until(lambda: count(mark) >= ticks + 3, what="the job to go on counting")
        assert client.get_job(job_id).state is JobState.RUNNING and client.get_job(job_id).time_limit_s == 600
        t_lowered = time.time()
        client.update(job_id, time_limit_s=2)   # (passed already: it ends at once)
        ended = cluster.wait_job(client, job_id, timeout_s=20)
    assert ended.state is JobState.TIMEOUT and ended.time_limit_s == 2
    assert ended.end_time - t_lowered < 5
    assert timed_out_line(cluster, job_id)


def test_an_operator_lowers_a_running_jobs_limit_and_it_times_out_at_the_new_one(cluster):
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=600))
        running(cluster, client, job_id, mark)
        client.update(job_id, time_limit_s=5)
        ended = cluster.wait_job(client, job_id, timeout_s=30)
    assert ended.state is JobState.TIMEOUT
    assert 5 - 0.5 <= ended.end_time - ended.start_time < 5 + 4   # (its start counts, plus KillWait's leeway)
    assert timed_out_line(cluster, job_id)


def test_a_user_lowers_their_own_running_jobs_limit_but_may_not_raise_it(make_cluster, stranger):
    cluster = make_cluster(agent_args=UNSIGNED).start()
    home = pwd.getpwnam(stranger).pw_dir
    tag = uuid.uuid4().hex[:6]
    mark, out = os.path.join(home, f"count-{tag}"), os.path.join(home, f"out-{tag}")
    with cluster.client() as root, cluster.client_as(stranger) as user:
        job_id = user.submit(cluster.spec(counter(mark), time_limit_s=300, working_dir=home, stdout_pattern=out))
        running(cluster, user, job_id, mark)
        for raised in (301, 3600, 0):   # (0: UNLIMITED)
            with pytest.raises(PermissionDenied):
                user.update(job_id, time_limit_s=raised)
        assert root.get_job(job_id).time_limit_s == 300
        user.update(job_id, time_limit_s=4)
        ended = cluster.wait_job(user, job_id, timeout_s=30)
    assert ended.state is JobState.TIMEOUT and ended.end_time - ended.start_time < 4 + 4
    assert timed_out_line(cluster, job_id, out)


def test_a_restarted_agent_keeps_a_lowered_limit(make_cluster):
    cluster = make_cluster(n_nodes=1).start()
    mark = os.path.join(cluster.workdir, "count")
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(counter(mark), time_limit_s=600))
        running(cluster, client, job_id, mark)
        client.update(job_id, time_limit_s=10)
        wait_until(lambda: f"time limit changed job_id={job_id} " in cluster.log("agent-n1.log"),
                   what="the agent to take the new limit")
    cluster.stop_process(cluster.agents["n1"], signal.SIGKILL)   # (the job outlives it, under its keeper)
    cluster.start_agent("n1")
    cluster.wait_nodes_up()
    with cluster.client() as client:
        ended = cluster.wait_job(client, job_id, timeout_s=30)
    assert ended.state is JobState.TIMEOUT
    assert 10 - 0.5 <= ended.end_time - ended.start_time < 10 + 5
    assert timed_out_line(cluster, job_id)


def test_the_sbatch_signal_warning_follows_a_lowered_limit(cluster):
    warned = os.path.join(cluster.workdir, "warned")
    script = f"#!/bin/bash\ntrap 'date +%s.%N >> {warned}' USR1\nwhile :; do sleep 0.1; done\n"
    with cluster.client() as client:
        # Warned 5 s before a limit of 600 s: not for minutes, until the limit comes down to 12 s.
        job_id = client.submit(cluster.spec(script, time_limit_s=600, warn_signal=10, warn_time_s=5,
                                            warn_batch_only=True))
        job = cluster.wait_job(client, job_id, states={JobState.RUNNING})
        time.sleep(1.0)
        assert not os.path.exists(warned)
        client.update(job_id, time_limit_s=12)
        wait_until(lambda: os.path.exists(warned), timeout_s=20, what="the warning signal")
        at = float(open(warned).read().split()[0])
        ended = cluster.wait_job(client, job_id, timeout_s=30)
    assert job.start_time + 12 - 5 - 1 <= at < job.start_time + 12
    assert ended.state is JobState.TIMEOUT
