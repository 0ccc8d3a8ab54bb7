"""The agent's RunningJobs with real processes: launch, kill, time limit, leftovers, failures."""

import os
import threading
import time

import psutil

from jem.agent.running import RunningJobs
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources

from agent_reports import Reports


def launch(tmp_path, job_id: int, script: str, *, uid: int | None = None, time_limit_s: int | None = None,
           working_dir: str | None = None) -> Launch:
    spec = JobSpec(script=script, name=f"t{job_id}", working_dir=working_dir or str(tmp_path),
                   stdout_pattern="out-%j.txt", environment={"PATH": "/usr/bin:/bin"})
    return Launch(job_id=job_id, spec=spec, user="someone", uid=os.getuid() if uid is None else uid,
                  gid=os.getgid(), nodes=("n1",), alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=time_limit_s,
                  kill_wait_s=1, submit_dir=str(tmp_path), cluster_name="c")


def jobs(tmp_path, reports) -> RunningJobs:
    return RunningJobs(node_name="n1", spool_dir=str(tmp_path / "spool"), report=reports)


def test_exit_code_usage_and_spool_cleanup(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    running.launch(launch(tmp_path, 1, "#!/bin/sh\necho out\nexit 7\n"))
    (report,) = reports.wait()
    assert report.end is JobEnd.EXITED and report.exit_code == 7 and report.exit_signal == 0
    assert report.usage.max_rss_kib > 0 and report.end_time >= report.start_time
    assert (tmp_path / "out-1.txt").read_text() == "out\n"
    assert not (tmp_path / "spool" / "job1").exists()
    assert running.running_ids() == []


def test_a_launch_is_never_run_twice(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    for _ in range(3):
        running.launch(launch(tmp_path, 2, f"#!/bin/sh\necho ran >> {tmp_path}/runs\n"))
    reports.wait()
    time.sleep(0.3)
    assert (tmp_path / "runs").read_text() == "ran\n" and len(reports.items) == 1


def test_kill_that_arrives_before_the_launch_wins(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    assert running.signal(3, 0, kill_wait_s=1) == 0
    running.launch(launch(tmp_path, 3, f"#!/bin/sh\ntouch {tmp_path}/started\n"))
    (report,) = reports.wait()
    assert report.end is JobEnd.KILLED
    assert not (tmp_path / "started").exists()


def test_time_limit_sends_sigterm_and_ends_time_limit(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    running.launch(launch(tmp_path, 4, "#!/bin/sh\nexec sleep 100\n", time_limit_s=1))
    (report,) = reports.wait()
    assert report.end is JobEnd.TIME_LIMIT and report.exit_signal == 15
    assert 0.9 <= report.end_time - report.start_time < 5


def test_processes_left_behind_by_the_script_are_killed(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    running.launch(launch(tmp_path, 5, "#!/bin/bash\n(exec -a jem-leftover-5 sleep 100) &\necho $! > pid\n"))
    reports.wait()
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "leftover process survived its job"
        time.sleep(0.05)


def test_missing_working_directory_is_a_launch_failure(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    running.launch(launch(tmp_path, 6, "#!/bin/sh\ntrue\n", working_dir=str(tmp_path / "absent")))
    (report,) = reports.wait()
    assert report.end is JobEnd.LAUNCH_FAILED and "does not exist" in report.detail


def test_unknown_user_is_a_launch_failure_when_root(tmp_path):
    reports = Reports()
    running = jobs(tmp_path, reports)
    running.launch(launch(tmp_path, 7, "#!/bin/sh\ntrue\n", uid=3_999_999))
    (report,) = reports.wait()
    assert report.end is JobEnd.LAUNCH_FAILED
    assert ("does not exist" in report.detail) if os.geteuid() == 0 else ("cannot run jobs of" in report.detail)
