"""An agent's own metrics (`jem agent --metrics-listen`, HTTPS with the node's certificate): a job that
burns CPU shows as running, with the CPU time its cgroup counts and its launch timed; a scrape without
a valid `jem token` JWT is refused."""

import os

from prometheus_client.parser import text_string_to_metric_families

from harness import https_get, wait_until
from jem.model.states import JobState

BURN = "#!/bin/sh\nwhile :; do :; done\n"


def _scrape(cluster, node: str, token: str | None) -> tuple[int, dict]:
    with open(os.path.join(cluster.spool_root, node, "metrics.addr")) as f:
        address = f.read().strip()
    status, text = https_get(address, "/metrics", ca_file=cluster.ca_file, token=token)
    if status != 200:
        return status, {}
    return 200, {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def test_an_agents_metrics_follow_its_jobs(make_cluster):
    cluster = make_cluster(n_nodes=1, agent_args=("--metrics-listen", "127.0.0.1:0")).start()
    with cluster.client() as client:
        token = client.issue_token()[0]
        status, before = _scrape(cluster, "n1", token)
        assert status == 200 and before["jem_agent_jobs_running"] == 0 and before["jem_agent_cpus"] == cluster.cpus
        job_id = client.submit(cluster.spec(BURN))
        cluster.wait_job(client, job_id, states={JobState.RUNNING})
        figures = wait_until(lambda: (f := _scrape(cluster, "n1", token)[1])["jem_agent_jobs_cpu_seconds"] > 0.2 and f,
                             what="the job's CPU time counted")
        assert figures["jem_agent_jobs_running"] == 1
        assert figures["jem_agent_launch_duration_seconds_count"] == 1
        client.cancel(job_id)
        wait_until(lambda: _scrape(cluster, "n1", token)[1]["jem_agent_jobs_running"] == 0, what="ended")
    assert _scrape(cluster, "n1", None)[0] == 401
    assert _scrape(cluster, "n1", "not.a.jwt")[0] == 401
