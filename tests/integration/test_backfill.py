"""Backfill and fair-share through a real controller and real agents: planned starts and
reasons in `jem jobs`, a backfilled job, the cycle log line, and `jem shares`."""

import json
import os
import subprocess
import sys

import pytest

from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import wait_until

pytestmark = pytest.mark.integration

SCHEDULING = """policy = "easy"

[priority]
weight_age = 100
weight_fairshare = 1000

[fairshare]
half_life = "1-0"

[[accounts]]
name = "physics"
shares = 70

[[accounts]]
name = "chemistry"
shares = 30
"""


def jem(cluster, *args: str) -> str:
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    result = subprocess.run([sys.executable, "-m", "jem.cli.main", *args], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_easy_backfills_a_short_job_and_plans_the_blocked_one(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=2, extra_config=SCHEDULING).start()
    sleep = "#!/bin/sh\nsleep 60\n"
    with cluster.client() as client:
        first = client.submit(cluster.spec(sleep, n_nodes=1, cpus_per_task=2, time_limit_s=120, account="physics"))
        cluster.wait_job(client, first, states={JobState.RUNNING})
        wide = client.submit(cluster.spec(sleep, n_nodes=2, cpus_per_task=2, time_limit_s=60, account="physics"))
        short = client.submit(cluster.spec(sleep, n_tasks=1, time_limit_s=60, account="physics"))
        long = client.submit(cluster.spec(sleep, n_tasks=1, time_limit_s=600, account="physics"))
        cluster.wait_job(client, short, states={JobState.RUNNING})
        wait_until(lambda: client.get_job(long).reason is JobReason.PRIORITY, what="the long job's reason")
        started = client.get_job(first).start_time
        wide_job = client.get_job(wide)
        assert wide_job.state is JobState.PENDING and wide_job.reason is JobReason.RESOURCES
        assert wide_job.planned_start == pytest.approx(int(started) + 120, abs=1)
        assert not wide_job.planned_start_is_estimate            # (EASY's reservation)
        # Every other waiting job has an estimate: the long one after the wide one's reservation.
        long_job = client.get_job(long)
        assert long_job.state is JobState.PENDING and long_job.planned_start_is_estimate
        assert long_job.planned_start == pytest.approx(int(started) + 180, abs=1)
        listed = {j["job_id"]: j for j in json.loads(jem(cluster, "jobs", "--json"))["jobs"]}
        assert listed[wide]["planned_start_time"] == pytest.approx(wide_job.planned_start)
        assert listed[wide]["planned_start_kind"] == "reservation" and listed[long]["planned_start_kind"] == "estimate"
        assert listed[wide]["reason"] == "Resources" and listed[long]["reason"] == "Priority"
        shares = json.loads(jem(cluster, "shares", "--json"))
        table = jem(cluster, "shares").splitlines()
        for job_id in (first, wide, short, long):
            client.cancel(job_id)
    assert shares["algorithm"] == "fair_tree"
    rows = {(r["account"], r["user"]): r for r in shares["associations"]}
    assert rows[("physics", "")]["raw_shares"] == 70 and rows[("chemistry", "")]["raw_shares"] == 30
    assert rows[("physics", "")]["norm_shares"] == pytest.approx(0.7)
    assert table[0].split() == ["ACCOUNT", "USER", "RAWSHARES", "NORMSHARES", "RAWUSAGE", "EFFECTVUSAGE", "LEVELFS",
                                "FAIRSHARE"]
    assert any(line.split()[:3] == ["physics", "70", "0.700000"] for line in table)
    users = [r for r in shares["associations"] if r["user"]]
    assert users and all(0.0 <= r["fairshare"] <= 1.0 for r in users)
    log = cluster.log("controller.log")
    assert "backfilled=1" in log and "policy=easy" in log
    assert f"start job_id={short} kind=backfill" in log


def test_fair_share_usage_survives_a_controller_restart(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=SCHEDULING).start()
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\nsleep 3\n", n_tasks=2, time_limit_s=60, account="physics"))
        cluster.wait_job(client, job_id, states={JobState.COMPLETED})
    before = {(r["account"], r["user"]): r["raw_usage"]
              for r in json.loads(jem(cluster, "shares", "--json"))["associations"]}
    user = next(key for key in before if key[0] == "physics" and key[1])
    # 2 CPUs for at least the 2 s the loop saw it run, less a hair of decay (1-day half-life)
    assert before[user] >= 2 * 2 * 0.999
    cluster.stop_process(cluster.controller)
    cluster.start_controller()
    after = {(r["account"], r["user"]): r["raw_usage"]
             for r in json.loads(jem(cluster, "shares", "--json"))["associations"]}
    assert after[user] == pytest.approx(before[user], rel=0.01)   # decayed by seconds of a 1-day half-life
