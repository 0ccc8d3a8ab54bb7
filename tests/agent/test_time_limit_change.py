"""A running job's time limit changed on the agent (RunningJobs.set_time_limit, AgentService.SetTimeLimit:
scontrol update TimeLimit= of a running or suspended job), with real processes: a raised limit lets
the run go past the old one, a lowered one ends it at its new deadline (at once if that has passed,
with Slurm's TIME LIMIT line), the limit counts from the run's start less the time it was suspended,
an order for another run reaches nothing, and an agent restarted meanwhile keeps the new limit."""

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from jem.agent.running import RunningJobs
from jem.model.execution import JobEnd, Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources

from agent_reports import Reports

SLEEPER = "#!/bin/sh\necho up > up\nexec sleep 100\n"
TIME_LIMIT_LINE = (r"^slurmstepd: error: \*\*\* JOB {job} ON n1 CANCELLED AT \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d "
                   r"DUE TO TIME LIMIT \*\*\*$")


def wait_until(predicate, timeout_s: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def launch(tmp_path, job_id: int, *, time_limit_s: int | None) -> Launch:
    spec = JobSpec(script=SLEEPER, name=f"t{job_id}", working_dir=str(tmp_path), stdout_pattern="out-%j.txt",
                   environment={"PATH": "/usr/bin:/bin"})
    return Launch(job_id=job_id, spec=spec, user="someone", uid=os.getuid(), gid=os.getgid(), nodes=("n1",),
                  alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=time_limit_s, kill_wait_s=1,
                  submit_dir=str(tmp_path), cluster_name="c")


@pytest.fixture
def spool(tmp_path):
    """The node's spool; afterwards every process naming it (keepers, scripts) is killed."""
    path = str(tmp_path / "spool")
    yield path
    for process in psutil.process_iter(["cmdline"]):
        if path in " ".join(process.info["cmdline"] or []):
            try:
                process.kill()
            except psutil.Error:
                pass


@pytest.fixture
def agent(spool):
    """RunningJobs of node n1 (no cgroups) and its reports; every job killed after."""
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports, n_cpus=4)
    yield running, reports
    running.shut_down(kill_wait_s=1)
    running.wait_all(10)
    running.close()


def started(tmp_path, running: RunningJobs, job_id: int, *, time_limit_s: int | None) -> float:
    """Launch the sleeper; the time it was launched, once its script runs."""
    t_launch = time.time()
    running.launch(launch(tmp_path, job_id, time_limit_s=time_limit_s))
    wait_until(lambda: (tmp_path / "up").exists(), what="the job to start")
    return t_launch


def test_a_raised_limit_lets_the_run_go_past_the_old_one(tmp_path, agent):
    running, reports = agent
    started(tmp_path, running, 1, time_limit_s=1)
    assert running.set_time_limit(1, restart_count=0, time_limit_s=600) is False
    time.sleep(2.0)   # (past the old limit: it is not killed)
    assert not reports.items and running.running_ids() == [1]
    running.signal(1, 0, kill_wait_s=1, restart_count=0)
    assert reports.wait()[0].end is JobEnd.KILLED


def test_a_limit_taken_off_lets_the_run_go_on(tmp_path, agent):
    running, reports = agent
    started(tmp_path, running, 2, time_limit_s=1)
    assert running.set_time_limit(2, restart_count=0, time_limit_s=None) is False
    time.sleep(2.0)
    assert not reports.items and running.running_ids() == [2]


def test_a_lowered_limit_ends_the_run_at_its_new_deadline(tmp_path, agent):
    running, reports = agent
    t_launch = started(tmp_path, running, 3, time_limit_s=600)
    assert running.set_time_limit(3, restart_count=0, time_limit_s=2) is False
    (report,) = reports.wait(timeout_s=10)
    assert report.end is JobEnd.TIME_LIMIT and report.exit_signal == 15
    assert 1.8 <= report.end_time - report.start_time < 5 and report.start_time >= t_launch - 0.1
    assert re.search(TIME_LIMIT_LINE.format(job=3), (tmp_path / "out-3.txt").read_text(), re.M)


def test_a_limit_lowered_below_the_time_run_ends_the_run_at_once_as_its_time_limit(tmp_path, agent):
    running, reports = agent
    started(tmp_path, running, 4, time_limit_s=600)
    time.sleep(1.5)
    t_order = time.time()
    assert running.set_time_limit(4, restart_count=0, time_limit_s=1) is True
    (report,) = reports.wait(timeout_s=10)
    assert report.end is JobEnd.TIME_LIMIT and report.end_time - t_order < 1.5
    assert re.search(TIME_LIMIT_LINE.format(job=4), (tmp_path / "out-4.txt").read_text(), re.M)


def test_a_suspended_runs_new_limit_counts_only_the_time_it_ran(tmp_path, agent):
    running, reports = agent
    started(tmp_path, running, 5, time_limit_s=600)
    running.suspend(5, restart_count=0, resume=False)
    # 1 s of limit, suspended at once: it is not killed while suspended, however long that is.
    assert running.set_time_limit(5, restart_count=0, time_limit_s=1) is False
    time.sleep(2.0)
    assert not reports.items
    t_resume = time.time()
    running.suspend(5, restart_count=0, resume=True)
    (report,) = reports.wait(timeout_s=10)
    assert report.end is JobEnd.TIME_LIMIT
    assert report.end_time >= t_resume and report.end_time - report.start_time >= 2.0


def test_an_order_for_another_run_or_job_reaches_nothing(tmp_path, agent):
    running, reports = agent
    started(tmp_path, running, 6, time_limit_s=600)
    assert running.set_time_limit(6, restart_count=1, time_limit_s=1) is None
    assert running.set_time_limit(7, restart_count=0, time_limit_s=1) is None
    time.sleep(1.5)
    assert not reports.items and running.running_ids() == [6]


# An agent in a process of its own: it launches job 8 (limit 600 s), lowers its limit to 3 s, and is
# then killed (SIGKILL); the job goes on under its keeper.
AGENT = textwrap.dedent("""
    import os, sys, threading
    from jem.agent.running import RunningJobs
    from jem.model.execution import Launch
    from jem.model.job import JobSpec
    from jem.model.resources import Resources
    spool, workdir, script = sys.argv[1], sys.argv[2], sys.argv[3]
    running = RunningJobs(node_name="n1", spool_dir=spool, report=lambda r: None, n_cpus=4)
    spec = JobSpec(script=script, name="t", working_dir=workdir, stdout_pattern="out-%j.txt",
                   environment={"PATH": "/usr/bin:/bin"})
    running.launch(Launch(job_id=8, spec=spec, user="someone", uid=os.getuid(), gid=os.getgid(), nodes=("n1",),
                          alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=600, kill_wait_s=1,
                          submit_dir=workdir, cluster_name="c", restart_count=0))
    assert running.set_time_limit(8, restart_count=0, time_limit_s=3) is False
    print("lowered", flush=True)
    threading.Event().wait()
""")


def test_an_agent_restarted_keeps_the_changed_limit(tmp_path, spool):
    first = subprocess.Popen([sys.executable, "-c", AGENT, spool, str(tmp_path), SLEEPER], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert first.stdout.readline() == "lowered\n"
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    record = json.loads((tmp_path / "spool" / "job8" / "limit").read_text())
    assert record == {"restart_count": 0, "time_limit_s": 3}
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports, n_cpus=4)
    try:
        (left,) = running.recover()
        assert left.run.time_limit_s == 3
        (report,) = reports.wait(timeout_s=15)   # (killed by this agent, at the lowered limit)
        assert report.end is JobEnd.TIME_LIMIT and 2.8 <= report.end_time - report.start_time < 8
        assert re.search(TIME_LIMIT_LINE.format(job=8), (tmp_path / "out-8.txt").read_text(), re.M)
    finally:
        running.shut_down(kill_wait_s=1)
        running.wait_all(10)
        running.close()
