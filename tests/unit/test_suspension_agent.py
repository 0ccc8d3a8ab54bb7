"""The agent's side of suspension (jem.agent.suspension through RunningJobs), with real processes
and real cgroups (v1 freezer, v2 cgroup.freeze) or none (SIGSTOP): a suspended job does not run,
its time limit's clock stops, a signal leaves it frozen, a kill thaws it first; and Slurm's
`*** JOB N ON node CANCELLED AT ... ***` line in a killed job's stderr (jem.agent.joblog)."""

import os
import re
import signal
import threading
import time
import uuid

import pytest

from jem.agent.cgroups import open_cgroups
from jem.agent.joblog import KillReason, kill_line
from jem.agent.running import RunningJobs
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")
MODES = ["none", pytest.param("v1", marks=needs_root), pytest.param("v2", marks=needs_root)]
# A job that counts in a file every 0.1 s, for as long as it runs.
COUNTER = "#!/bin/sh\ni=0\nwhile true; do i=$((i+1)); echo $i > count; sleep 0.1; done\n"


class Reports:
    def __init__(self):
        self.items: list[JobReport] = []
        self.arrived = threading.Condition()

    def __call__(self, report: JobReport) -> None:
        with self.arrived:
            self.items.append(report)
            self.arrived.notify_all()

    def wait(self, timeout_s: float = 20.0) -> JobReport:
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.items, timeout_s), "no report came"
            return self.items[0]


def wait_until(predicate, timeout_s: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cgroup_name():
    """A job cgroup tree of its own, removed (with anything left in it) afterwards."""
    name = f"jem-susp-{uuid.uuid4().hex[:8]}"
    yield name
    tops = [os.path.join("/sys/fs/cgroup", c, name) for c in os.listdir("/sys/fs/cgroup")]
    for top in tops + [os.path.join("/sys/fs/cgroup", name)]:
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            for state_file, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                try:
                    with open(os.path.join(dirpath, state_file), "w") as f:
                        f.write(value)
                except OSError:
                    pass
            try:
                for pid in open(os.path.join(dirpath, "cgroup.procs")).read().split():
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
            for _ in range(100):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@pytest.fixture
def agent(tmp_path, cgroup_name, request):
    """RunningJobs of node n1 (cgroup mode: the test's `mode` parameter); every job killed after."""
    made = []

    def make(mode: str) -> tuple[RunningJobs, Reports]:
        reports = Reports()
        cgroups = open_cgroups(mode, name=f"{cgroup_name}/n1")
        running = RunningJobs(node_name="n1", spool_dir=str(tmp_path / "spool"), report=reports, cgroups=cgroups,
                              n_cpus=2)
        made.append(running)
        return running, reports

    yield make
    for running in made:
        running.shut_down(kill_wait_s=1)
        running.wait_all(10)


def launch(tmp_path, job_id: int, script: str, *, time_limit_s: int | None = None) -> Launch:
    spec = JobSpec(script=script, name="t", working_dir=str(tmp_path), stdout_pattern="out-%j.txt",
                   environment={"PATH": "/usr/bin:/bin"})
    return Launch(job_id=job_id, spec=spec, user="someone", uid=os.getuid(), gid=os.getgid(), nodes=("n1",),
                  alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=time_limit_s, kill_wait_s=1,
                  submit_dir=str(tmp_path), cluster_name="c")


def count(tmp_path) -> int:
    try:
        return int((tmp_path / "count").read_text() or 0)
    except (OSError, ValueError):
        return 0


def counting(tmp_path, running: RunningJobs, job_id: int, **kw) -> None:
    running.launch(launch(tmp_path, job_id, COUNTER, **kw))
    wait_until(lambda: count(tmp_path) >= 2, what="the job to count")


@pytest.mark.parametrize("mode", MODES)
def test_a_suspended_job_does_not_run_until_resumed(tmp_path, agent, mode):
    running, reports = agent(mode)
    counting(tmp_path, running, 1)
    assert running.suspend(1, restart_count=0, resume=False) == 0.0
    frozen_at = count(tmp_path)
    time.sleep(0.6)   # (six counts' time: it counts nothing while suspended)
    assert count(tmp_path) <= frozen_at + 1
    suspended_s = running.suspend(1, restart_count=0, resume=True)
    assert suspended_s >= 0.6
    wait_until(lambda: count(tmp_path) >= frozen_at + 3, what="the job to count again")
    assert running.suspend(1, restart_count=1, resume=False) is None   # (another run: reaches nothing)
    assert not reports.items


@pytest.mark.parametrize("mode", MODES)
def test_the_time_a_job_is_suspended_does_not_count_against_its_time_limit(tmp_path, agent, mode):
    running, reports = agent(mode)
    counting(tmp_path, running, 2, time_limit_s=2)
    running.suspend(2, restart_count=0, resume=False)
    time.sleep(2.5)   # (past its time limit, suspended: it is not killed)
    assert not reports.items
    running.suspend(2, restart_count=0, resume=True)
    report = reports.wait()
    assert report.end is JobEnd.TIME_LIMIT
    assert report.end_time - report.start_time >= 2 + 2.5 - 0.2
    assert "CANCELLED AT" in (tmp_path / "out-2.txt").read_text()
    assert re.search(r"^slurmstepd: error: \*\*\* JOB 2 ON n1 CANCELLED AT \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d "
                     r"DUE TO TIME LIMIT \*\*\*$", (tmp_path / "out-2.txt").read_text(), re.M)


@pytest.mark.parametrize("mode", MODES)
def test_a_signal_leaves_a_suspended_job_frozen_and_a_kill_thaws_it_first(tmp_path, agent, mode):
    running, reports = agent(mode)
    script = "#!/bin/sh\ntrap 'echo usr1 >> got' USR1\ntrap 'echo term >> got; exit 3' TERM\n" + COUNTER[10:]
    running.launch(launch(tmp_path, 3, script))
    wait_until(lambda: count(tmp_path) >= 2, what="the job to count")
    running.suspend(3, restart_count=0, resume=False)
    running.signal(3, signal.SIGUSR1, kill_wait_s=1, restart_count=0)
    frozen_at = count(tmp_path)
    time.sleep(0.5)
    assert count(tmp_path) <= frozen_at + 1 and not (tmp_path / "got").exists()   # (still frozen)
    running.signal(3, 0, kill_wait_s=5, restart_count=0, reason=KillReason.PREEMPTION)
    report = reports.wait()
    assert report.end is JobEnd.KILLED and report.exit_code == 3   # (its TERM trap ran: it was thawed)
    assert "term" in (tmp_path / "got").read_text()
    out = (tmp_path / "out-3.txt").read_text()
    assert re.search(r"^slurmstepd: error: \*\*\* JOB 3 ON n1 CANCELLED AT \S+ DUE TO PREEMPTION \*\*\*$", out, re.M)


def test_a_plain_kill_writes_slurms_line_without_a_reason(tmp_path, agent):
    running, reports = agent("none")
    counting(tmp_path, running, 4)
    running.signal(4, 0, kill_wait_s=1, restart_count=0)
    reports.wait()
    assert re.search(r"^slurmstepd: error: \*\*\* JOB 4 ON n1 CANCELLED AT \S+ \*\*\*$",
                     (tmp_path / "out-4.txt").read_text(), re.M)


def test_the_line_is_never_written_where_the_job_could_not_write_itself(tmp_path, agent):
    running, reports = agent("none")
    (tmp_path / "ro").write_text("keep\n")
    # Its stderr reopened read-only: the agent (root) must not write through it.
    running.launch(launch(tmp_path, 5, "#!/bin/sh\nexec 2<ro\necho up > count\nexec sleep 100\n"))
    wait_until(lambda: (tmp_path / "count").exists(), what="the job to start")
    running.signal(5, 0, kill_wait_s=1, restart_count=0)
    reports.wait()
    assert (tmp_path / "ro").read_text() == "keep\n"


def test_kill_line_words_are_slurms():
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(0))
    assert kill_line(123, "node1", 0, KillReason.PREEMPTION) == \
        f"slurmstepd: error: *** JOB 123 ON node1 CANCELLED AT {stamp} DUE TO PREEMPTION ***\n"
    assert kill_line(1, "n", 0, KillReason.CANCEL).endswith(f"CANCELLED AT {stamp} ***\n")
    assert kill_line(1, "n", 0, KillReason.TIME_LIMIT).endswith("DUE TO TIME LIMIT ***\n")
    assert kill_line(1, "n", 0, KillReason.NODE_FAILURE).endswith(
        "DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***\n")
