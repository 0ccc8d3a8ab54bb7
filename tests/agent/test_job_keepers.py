"""Batch jobs under their keepers, with real processes: they outlive the agent that
started them (a separate process, SIGKILLed), a new agent takes them over and reports
how each ended, and each job's runs are fenced (an earlier run is refused or killed)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import psutil
import pytest

from jem.agent.cgroups import CgroupLimits, open_cgroups
from jem.agent.recovery import Fate
from jem.agent.running import RunningJobs
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources

from agent_reports import Reports

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")


def wait_until(predicate, timeout_s: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def launch(tmp_path, job_id: int, script: str, *, run: int = 0, time_limit_s: int | None = None) -> Launch:
    spec = JobSpec(script=script, name=f"t{job_id}", working_dir=str(tmp_path), stdout_pattern="out-%j.txt",
                   environment={"PATH": "/usr/bin:/bin"})
    return Launch(job_id=job_id, spec=spec, user="someone", uid=os.getuid(), gid=os.getgid(), nodes=("n1",),
                  alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=time_limit_s, kill_wait_s=1,
                  submit_dir=str(tmp_path), cluster_name="c", restart_count=run)


def gated(tmp_path, name: str, end: str) -> str:
    """A script that notes each start in `name`.runs, waits for the file `name`.go, then runs `end`."""
    return (f"#!/bin/sh\necho $$ >> {tmp_path}/{name}.runs\n"
            f"while [ ! -e {tmp_path}/{name}.go ]; do sleep 0.02; done\n{end}\n")


def lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def spool(tmp_path):
    """The node's spool; afterwards every process naming it (keepers, and the jobs' scripts) is killed,
    so a failed test leaves nothing running."""
    path = str(tmp_path / "spool")
    yield path
    for process in psutil.process_iter(["cmdline"]):
        if path in " ".join(process.info["cmdline"] or []):
            try:
                process.kill()
            except psutil.Error:
                pass


@pytest.fixture
def cgroup_name():
    """A job cgroup tree of its own, with every process in it killed and every directory removed afterwards."""
    name = f"jem-test-{uuid.uuid4().hex[:8]}"
    yield name
    for top in [os.path.join("/sys/fs/cgroup", c, name) for c in os.listdir("/sys/fs/cgroup")] + \
            [os.path.join("/sys/fs/cgroup", name)]:
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            try:
                for pid in open(os.path.join(dirpath, "cgroup.procs")).read().split():
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
            wait_until(lambda: _rmdir(dirpath), 5, what=f"{dirpath} removed")


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


AGENT = textwrap.dedent("""
    import json, os, sys, threading
    from jem.agent.cgroups import open_cgroups
    from jem.agent.running import RunningJobs
    from jem.model.execution import Launch
    from jem.model.job import JobSpec
    from jem.model.resources import Resources
    spool, cgroup_name, workdir, jobs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    cgroups = open_cgroups("auto", name=cgroup_name + "/n1") if cgroup_name else None
    running = RunningJobs(node_name="n1", spool_dir=spool, report=lambda r: None, cgroups=cgroups, n_cpus=4)
    for job_id, script, limit in jobs:
        spec = JobSpec(script=script, name="t", working_dir=workdir, stdout_pattern="out-%j.txt",
                       environment={"PATH": "/usr/bin:/bin"})
        running.launch(Launch(job_id=job_id, spec=spec, user="someone", uid=os.getuid(), gid=os.getgid(),
                              nodes=("n1",), alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=limit,
                              kill_wait_s=1, submit_dir=workdir, cluster_name="c", restart_count=0))
    print("started", flush=True)
    threading.Event().wait()
""")


def run_agent_and_kill_it(tmp_path, spool: str, jobs: list[tuple[int, str, int | None]], *, cgroup_name: str = ""):
    """Start `jobs` from an agent in a process of its own, then SIGKILL that process."""
    agent = subprocess.Popen([sys.executable, "-c", AGENT, spool, cgroup_name, str(tmp_path), json.dumps(jobs)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert agent.stdout.readline() == "started\n"
    finally:
        agent.kill()
        agent.wait()
        agent.stdout.close()


def keeper_processes(spool: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and "keeper.py" in cmdline and spool in cmdline:
            found.append(process)
    return found


@pytest.mark.parametrize("uses_cgroups", [False, pytest.param(True, marks=needs_root)])
def test_jobs_outlive_their_agent_and_the_next_one_reports_each_end_once(tmp_path, spool, cgroup_name, uses_cgroups):
    jobs = [(1, gated(tmp_path, "a", "exit 3"), None),           # ends while no agent runs
            (2, gated(tmp_path, "b", "kill -9 $$"), None),       # killed by a signal meanwhile
            (3, gated(tmp_path, "c", "exit 0"), None),           # still running when the next agent comes
            (4, gated(tmp_path, "d", "exit 0"), 2)]              # its time limit passes under the next agent
    run_agent_and_kill_it(tmp_path, spool, jobs, cgroup_name=cgroup_name if uses_cgroups else "")
    wait_until(lambda: all(lines(tmp_path / f"{n}.runs") for n in "abcd"), what="every job to start")
    (tmp_path / "a.go").touch()
    (tmp_path / "b.go").touch()
    wait_until(lambda: all((tmp_path / "spool" / f"job{j}" / "status").exists() for j in (1, 2)),
               what="jobs 1 and 2 to end with no agent")
    assert len(keeper_processes(spool)) == 1   # the dead agent's keeper, keeping jobs 3 and 4

    reports = Reports()
    cgroups = open_cgroups("auto", name=f"{cgroup_name}/n1") if uses_cgroups else None
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports, cgroups=cgroups, n_cpus=4)
    try:
        fates = {r.job_id: r.fate for r in running.recover()}
        assert fates == {1: Fate.ENDED, 2: Fate.ENDED, 3: Fate.GOES_ON, 4: Fate.GOES_ON}
        exited, killed = reports.wait_for(1), reports.wait_for(2)
        assert (exited.end, exited.exit_code, exited.exit_signal, exited.restart_count) == (JobEnd.EXITED, 3, 0, 0)
        assert (killed.end, killed.exit_code, killed.exit_signal) == (JobEnd.EXITED, 0, signal.SIGKILL)
        assert running.held_runs() == [(3, 0), (4, 0)]
        (tmp_path / "c.go").touch()
        finished = reports.wait_for(3)
        assert (finished.end, finished.exit_code) == (JobEnd.EXITED, 0) and finished.end_time >= finished.start_time
        timed_out = reports.wait_for(4)   # killed by this agent, 2 s after the first agent started it
        assert timed_out.end is JobEnd.TIME_LIMIT and timed_out.exit_signal == signal.SIGTERM
        assert len(reports.items) == 4
        assert all(len(lines(tmp_path / f"{n}.runs")) == 1 for n in "abcd")
        wait_until(lambda: not keeper_processes(spool), what="the keeper to exit after its last job")
        assert not any(psutil.pid_exists(int(lines(tmp_path / f"{n}.runs")[0])) for n in "abcd")
        assert running.held_runs() == [] and not [n for n in os.listdir(spool) if n.startswith("job")]
        if cgroups is not None:
            assert cgroups.existing_jobs() == {}
    finally:
        running.shut_down(kill_wait_s=1)
        running.wait_all(10)
        running.close()


def test_a_run_whose_keeper_was_killed_is_reported_lost_and_killed(tmp_path, spool):
    run_agent_and_kill_it(tmp_path, spool, [(5, gated(tmp_path, "e", "exit 0"), None)])
    pid = int(wait_until(lambda: lines(tmp_path / "e.runs"), what="the job to start")[0])
    (keeper,) = keeper_processes(spool)
    keeper.kill()
    keeper.wait(5)
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports)
    try:
        assert [r.fate for r in running.recover()] == [Fate.LOST]
        lost = reports.wait_for(5)
        assert lost.end is JobEnd.NODE_SHUTDOWN and lost.restart_count == 0 and "keeper" in lost.detail
        wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
                   what="the orphaned job to be killed")
    finally:
        running.close()


def test_a_launch_of_an_earlier_run_than_held_is_refused(tmp_path, spool):
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports)
    try:
        assert running.launch(launch(tmp_path, 6, gated(tmp_path, "f", "exit 0"), run=2))
        wait_until(lambda: lines(tmp_path / "f.runs"), what="run 2 to start")
        assert running.launch(launch(tmp_path, 6, gated(tmp_path, "f", "exit 0"), run=1)) is False
        assert running.launch(launch(tmp_path, 6, gated(tmp_path, "f", "exit 0"), run=2)) is True   # a repeat
        assert running.held_runs() == [(6, 2)]
        assert running.signal(6, 0, kill_wait_s=1, restart_count=1) is None   # an order for run 1 reaches nothing
        (tmp_path / "f.go").touch()
        assert reports.wait_for(6).restart_count == 2
        assert len(lines(tmp_path / "f.runs")) == 1 and len(reports.items) == 1
    finally:
        running.close()


def test_a_later_run_kills_the_earlier_one_first(tmp_path, spool):
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports)
    try:
        running.launch(launch(tmp_path, 7, gated(tmp_path, "g", "exit 0"), run=0))
        first = int(wait_until(lambda: lines(tmp_path / "g.runs"), what="run 0 to start")[0])
        running.launch(launch(tmp_path, 7, f"#!/bin/sh\necho $$ >> {tmp_path}/g.runs\nexit 4\n", run=1))
        earlier = reports.wait_for(7)
        assert (earlier.restart_count, earlier.end, earlier.exit_signal) == (0, JobEnd.KILLED, signal.SIGKILL)
        with reports.arrived:
            reports.arrived.wait_for(lambda: len(reports.items) == 2, 20)
        later = reports.items[1]
        assert (later.restart_count, later.end, later.exit_code) == (1, JobEnd.EXITED, 4)
        assert later.start_time >= earlier.end_time   # never both at once
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
        assert len(lines(tmp_path / "g.runs")) == 2
    finally:
        running.close()


def test_a_launch_sent_under_an_earlier_epoch_is_refused_and_a_kill_of_a_later_run_waits_for_it(tmp_path, spool):
    reports = Reports()
    running = RunningJobs(node_name="n1", spool_dir=spool, report=reports)
    try:
        epoch, held = running.begin_registration()
        assert held == [] and running.begin_registration()[0] == epoch + 1
        assert running.launch(launch(tmp_path, 8, gated(tmp_path, "h", "exit 0")), epoch=epoch) is False
        assert not (tmp_path / "h.runs").exists() and reports.items == []
        # A kill of run 1 that overtakes its launch: run 1 is reported killed, never started.
        assert running.signal(8, 0, kill_wait_s=1, restart_count=1) == 0
        assert running.launch(launch(tmp_path, 8, gated(tmp_path, "h", "exit 0"), run=1), epoch=epoch + 1)
        killed = reports.wait_for(8)
        assert (killed.end, killed.restart_count) == (JobEnd.KILLED, 1) and not (tmp_path / "h.runs").exists()
    finally:
        running.close()


@needs_root
def test_a_cgroup_a_late_process_held_is_removed_with_the_next_heartbeat(tmp_path, spool, cgroup_name):
    """A step's task that joins the job's cgroup as the job ends (its pid written to some controllers
    only) is killed with the job, and a cgroup that could not be removed is removed again later."""
    cgroups = open_cgroups("auto", name=f"{cgroup_name}/n1")
    running = RunningJobs(node_name="n1", spool_dir=spool, report=lambda r: None, cgroups=cgroups)
    cgroup = cgroups.create(7, CgroupLimits(cpu_ids=None, mem_bytes=None, denied_devices=()))
    late = subprocess.Popen(["sleep", "300"])
    try:
        with open(cgroup.procs_files()[0], "w") as f:   # in one controller, not (yet) the others
            f.write(str(late.pid))
        assert late.pid in cgroup.pids()
        running._remove_cgroup(cgroup)                  # as the job's end does, with the task still there
        assert running.retry_cgroups() == 0 and late.wait(5) == -signal.SIGKILL
        assert not any(os.path.exists(os.path.dirname(path)) for path in cgroup.procs_files())
    finally:
        if late.poll() is None:
            late.kill()
