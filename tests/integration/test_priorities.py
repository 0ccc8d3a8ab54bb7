"""ListPriorities (sprio's data) on a real controller: each pending job's factors are the ones its
priority was computed from, and PrivateData=jobs keeps others' jobs out of a user's answer."""

import math

import pytest

from harness import wait_until
from jem.model.states import JobState

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 60\n"
WEIGHTS = """
[priority]
weight_age = 1000
weight_fairshare = 10000
weight_job_size = 100
weight_partition = 200
weight_qos = 5000

[[qos]]
name = "high"
priority = 100

[[accounts]]
name = "root"
qos = ["normal", "high"]

[[partitions]]
name = "closed"
nodes = "ALL"
state = "DOWN"
"""


def test_each_pending_jobs_factors_make_its_priority(make_cluster, stranger):
    cluster = make_cluster(n_nodes=1, cpus=4, extra_config=WEIGHTS)
    with open(cluster.config_path) as f:
        text = f.read()
    with open(cluster.config_path, "w") as f:   # (PrivateData=jobs: the harness writes [cluster])
        f.write(text.replace('name = "test"\n', 'name = "test"\nprivate_data = ["jobs"]\n', 1))
    cluster.start()
    with cluster.client() as client, cluster.client_as(stranger) as other:
        mine = [client.submit(cluster.spec(SLEEP, n_tasks=n, time_limit_s=60, partition="closed", qos=q))
                for n, q in ((1, "normal"), (2, "high"))]
        theirs = other.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, partition="closed"))
        wait_until(lambda: all(client.get_job(j).priority < 1_000_000 for j in mine),   # (not the basic one)
                   what="multifactor priorities computed")
        weights, rows = client.list_priorities()
        _, seen_by_other = other.list_priorities()
        _, chosen = client.list_priorities(job_ids=[mine[1]])
        assert client.get_job(theirs).state is JobState.PENDING
        for job_id in (*mine, theirs):
            client.cancel(job_id)
    assert weights == {"age": 1000, "fairshare": 10000, "job_size": 100, "partition": 200, "qos": 5000}
    by_id = {row.job_id: row for row in rows}
    assert set(by_id) == {*mine, theirs}                      # (root sees every job)
    assert [row.job_id for row in seen_by_other] == [theirs]  # (PrivateData=jobs: only their own)
    assert [row.job_id for row in chosen] == [mine[1]]
    low, high = by_id[mine[0]], by_id[mine[1]]
    assert high.factors["qos"] == 1.0 and low.factors["qos"] == 0.0
    assert high.factors["job_size"] == pytest.approx(2 / 4) and high.cpus == 2
    for row in (low, high):
        assert row.weighted == {name: pytest.approx(value * weights[name]) for name, value in row.factors.items()}
        # The priority the cycle recorded is the factors' weighted sum (age moves on between the two).
        assert abs(row.priority - (math.floor(sum(row.weighted.values())) - row.nice)) <= 2
