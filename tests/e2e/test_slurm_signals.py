"""Which processes a signal reaches, as Slurm decides it: scancel -s (the job's steps on every
node, not the batch shell), scancel -b (the batch shell alone), and sbatch --signal before the
time limit (steps, or the batch shell with B:). submitit relies on this for its USR2 checkpoints."""

import time

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("signals")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def _script(log, directives=""):
    # Two step tasks on two nodes and a batch shell, each writing what USR1 it saw.
    task = (f'trap "echo task$SLURM_PROCID >> {log}; exit 0" USR1; echo up$SLURM_PROCID >> {log}; '
            'for i in $(seq 600); do sleep 0.1; done')
    return (f"#!/bin/bash\n#SBATCH -N 2 -n 2\n{directives}"
            f"trap 'echo shell >> {log}' USR1\n"
            f"srun bash -c '{task}' &\nwait\nwait\necho end >> {log}\n")


def _submit(cluster, tmp_path, name, directives=""):
    log = tmp_path / f"{name}.log"
    script = tmp_path / f"{name}.sh"
    script.write_text(_script(log, directives))
    result = slurm(cluster, "sbatch", "--parsable", "-o", str(tmp_path / f"{name}.out"), str(script))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), log


def _lines(log, timeout_s=30.0, until=lambda lines: False):
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = log.read_text().split() if log.exists() else []
        if until(lines):
            break
        time.sleep(0.1)
    return sorted(lines)


def test_scancel_signal_reaches_the_steps_on_every_node_not_the_batch_shell(cluster, tmp_path):
    job, log = _submit(cluster, tmp_path, "steps")
    _lines(log, until=lambda lines: {"up0", "up1"} <= set(lines))
    assert slurm(cluster, "scancel", "-s", "USR1", job).returncode == 0
    assert _lines(log, until=lambda lines: "end" in lines) == ["end", "task0", "task1", "up0", "up1"]


def test_scancel_batch_signals_the_batch_shell_alone(cluster, tmp_path):
    job, log = _submit(cluster, tmp_path, "batch")
    _lines(log, until=lambda lines: {"up0", "up1"} <= set(lines))
    assert slurm(cluster, "scancel", "-b", "-s", "USR1", job).returncode == 0
    assert _lines(log, until=lambda lines: "shell" in lines) == ["shell", "up0", "up1"]
    slurm(cluster, "scancel", job)


def test_sbatch_signal_warns_the_steps_before_the_time_limit(cluster, tmp_path):
    # -t 1 is a minute; USR1 55 s before its end comes about 5 s after the start.
    job, log = _submit(cluster, tmp_path, "warn", "#SBATCH -t 1 --signal=USR1@55\n")
    assert _lines(log, until=lambda lines: "end" in lines) == ["end", "task0", "task1", "up0", "up1"]
    assert slurm(cluster, "sacct", "-X", "-n", "-P", "-j", job, "-o", "State").stdout.strip() in (
        "COMPLETED", "RUNNING")
