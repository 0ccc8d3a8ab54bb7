"""sstat with a real controller and agents: the usage of a running job's batch script
and of its srun steps rises while they run (CPU time, resident size), measured per task
on each node; the sstat command prints it; another user's job is refused as Slurm does."""

import os
import subprocess
import sys
import threading

import pytest
from harness import cancel_and_wait, wait_until

from jem.model.states import JobState
from jem.model.step import StepSpec
from jem.model.stepusage import BATCH_STEP, UsageProblem

PY = sys.executable
# Holds ~50 MB resident and burns CPU for up to a minute.
BURN = ("import time; x = bytearray(50 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); t = time.time()\n"
        "while time.time() - t < 60: pass")
BATCH = f"#!/bin/sh\n{PY} -c \"{BURN}\"\n"
HOLD = "#!/bin/sh\nsleep 60\n"


def sstat(cluster, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml")) if cluster else None
    runner = [sys.executable, "-c", "import sys; from jem_slurm.sstat import main; sys.exit(main())"]
    return subprocess.run([*runner, *argv], capture_output=True, text=True, env=env, timeout=60,
                          cwd=cluster.workdir if cluster else None)


def running(cluster, client, script: str, **fields) -> int:
    job_id = client.submit(cluster.spec(script, **fields))
    wait_until(lambda: client.get_job(job_id).state is JobState.RUNNING, what="job running")
    return job_id


def step_of(report, step_id: int):
    return next((s for s in report.steps if s.step_id == step_id), None)


def test_batch_usage_rises_while_the_script_runs(cluster):
    with cluster.client() as client:
        job_id = running(cluster, client, BATCH)
        try:
            first = wait_until(lambda: step_of(client.job_usage([job_id]), BATCH_STEP), what="batch usage")
            assert first.n_tasks == 1 and first.nodes == ("n1",) and first.pids
            grown = wait_until(lambda: (s := step_of(client.job_usage([job_id]), BATCH_STEP)) is not None
                               and s.figures["rss_kib"].max >= 45 * 1024
                               and s.figures["cpu_us"].total >= first.figures["cpu_us"].total + 500_000 and s,
                               what="batch CPU and RSS rising")
            rss = grown.figures["rss_kib"]
            assert rss.max_node == "n1" and rss.max_task == 0 and grown.figures["ave_rss_kib"].max > 0
            assert grown.figures["vmsize_kib"].max >= rss.max
            out = sstat(cluster, "-a", "-j", str(job_id), "-P", "-o", "JobID,MaxRSS,MaxRSSNode,NTasks,AveCPU")
            assert out.returncode == 0, out.stderr
            header, row = out.stdout.splitlines()
            assert header == "JobID|MaxRSS|MaxRSSNode|NTasks|AveCPU"
            cells = row.split("|")
            assert cells[0] == f"{job_id}.batch" and cells[2] == "n1" and cells[3] == "1"
            assert cells[1].endswith(("K", "M")) and cells[4].count(":") == 2
            # Without -a: the lowest step that is not the batch step; there is none.
            out = sstat(cluster, "-j", str(job_id), "-n", "-o", "JobID")
            assert out.returncode == 0 and out.stdout == "" and out.stderr == ""
        finally:
            cancel_and_wait(cluster, client, [job_id])
        assert client.job_usage([job_id]).problems == ((job_id, UsageProblem.NOT_RUNNING),)
        out = sstat(cluster, "-j", str(job_id), "-o", "JobID")
        assert out.returncode == 0 and out.stderr == f"sstat: error: No steps running for job {job_id}\n"


def test_step_usage_is_per_task_on_each_node(cluster):
    with cluster.client() as client:
        job_id = running(cluster, client, HOLD, n_nodes=2, n_tasks=2)
        spec = StepSpec(argv=(PY, "-c", BURN), n_tasks=2, working_dir=cluster.workdir,
                        environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        stream = client.run_step(job_id, spec)
        reader = threading.Thread(target=lambda: [None for _ in stream], daemon=True)
        reader.start()
        try:
            step = wait_until(lambda: (s := step_of(client.job_usage([job_id]), 0)) is not None
                              and s.n_tasks == 2 and s.figures["rss_kib"].min >= 45 * 1024
                              and s.figures["cpu_us"].min >= 300_000 and s,
                              what="both tasks' usage rising", timeout_s=30)
            assert step.nodes == ("n1", "n2")
            cpu = step.figures["cpu_us"]
            assert cpu.total == cpu.max + cpu.min and {cpu.max_task, cpu.min_task} == {0, 1}
            assert {cpu.max_node, cpu.min_node} == {"n1", "n2"}
            assert step_of(client.job_usage([job_id]), BATCH_STEP).n_tasks == 1   # the script, not the tasks
            out = sstat(cluster, "-j", str(job_id), "-p", "-o", "JobID,NTasks,Nodelist,MaxRSSNode")
            assert out.returncode == 0, out.stderr
            assert out.stdout.splitlines()[1] == f"{job_id}.0|2|n[1-2]|{step.figures['rss_kib'].max_node}|"
            out = sstat(cluster, "-a", "-j", str(job_id), "-n", "-o", "JobID")
            assert out.stdout.split() == [f"{job_id}.batch", f"{job_id}.0"]
            out = sstat(cluster, "-j", f"{job_id}.7", "-n", "-o", "JobID")
            assert out.stdout == "" and out.stderr == f"sstat: error: StepId={job_id}.7 not found running.\n"
        finally:
            cancel_and_wait(cluster, client, [job_id])


def test_another_users_job_is_refused_and_an_unknown_one_not_found(cluster, stranger):
    with cluster.client() as client:
        job_id = running(cluster, client, HOLD)
        try:
            with cluster.client_as(stranger) as user:
                report = user.job_usage([job_id, 999999])
                assert report.steps == ()
                assert dict(report.problems) == {job_id: UsageProblem.NOT_PERMITTED,
                                                 999999: UsageProblem.NOT_FOUND}
            wait_until(lambda: step_of(client.job_usage([job_id]), BATCH_STEP), what="root sees it")
        finally:
            cancel_and_wait(cluster, client, [job_id])
    out = sstat(cluster, "-j", "999999", "-n")
    assert out.returncode == 0 and out.stdout == ""
    assert out.stderr == "sstat: error: couldn't get steps for job 999999\n"


@pytest.mark.parametrize("argv, message", [
    ((), "sstat: error: You didn't give me any jobs to stat.\n"),
    (("-j", "abc"), "sstat: fatal: Bad job/step specified: abc\n"),
    (("-j", "1", "-o", "Foo"), 'sstat: error: Invalid field requested: "Foo"\n'),
    (("--bogus",), "sstat: unrecognized option '--bogus'\n"),
])
def test_usage_errors_exit_1(argv, message):
    out = sstat(None, *argv)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", message)
