"""The controller's OpenMetrics endpoint on a real cluster (HTTPS with the cluster's CA): scraped while
jobs flow, its Slurm-named gauges and JEM's histograms move as the cluster does; who may scrape what
follows the tokens and the privacy settings; the endpoint holds no more connections than its bound."""

import os
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import free_port, https_get, wait_until
from jem.controller import metricsserver
from jem.model.errors import JobNotFound
from jem.model.states import JobState

SLEEP = "#!/bin/sh\nexec sleep 30\n"


def _metrics_cluster(make_cluster, *, private_data: str = "", extra: str = "", users: str = ""):
    cluster = make_cluster()
    with open(cluster.config_path) as f:
        text = f.read()
    if private_data:
        text = text.replace('name = "test"\n', f'name = "test"\nprivate_data = [{private_data}]\n', 1)
    text += f'\n[metrics]\nlisten = "127.0.0.1:{free_port()}"\n{extra}\n{users}'
    with open(cluster.config_path, "w") as f:
        f.write(text)
    return cluster.start()


def _get(cluster, path: str = "/metrics", *, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    with open(os.path.join(cluster.state_dir, "metrics.addr")) as f:
        address = f.read().strip()
    return https_get(address, path, ca_file=cluster.ca_file, token=token, method=method)


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _token(cluster, user: str = "") -> str:
    with cluster.client() as root:
        return root.issue_token(user=user)[0]


def test_the_figures_move_as_jobs_flow(make_cluster):
    cluster = _metrics_cluster(make_cluster)
    token = _token(cluster)
    scrape = lambda: _samples(_get(cluster, token=token)[1])
    before = scrape()
    assert before[("slurm_nodes", ())] == 2 and before[("slurm_nodes_idle", ())] == 2
    assert before[("slurm_partitions", ())] == 1
    with cluster.client() as client:
        held = client.submit(cluster.spec(SLEEP, hold=True))
        running = client.submit(cluster.spec(SLEEP))
        cluster.wait_job(client, running, states={JobState.RUNNING})
        with pytest.raises(JobNotFound):
            client.get_job(999999)
        figures = wait_until(lambda: (f := scrape())[("slurm_jobs_running", ())] == 1 and f, what="a running job")
        assert figures[("slurm_jobs_pending", ())] == 1 and figures[("slurm_jobs_hold", ())] == 1
        assert figures[("slurm_jobs_cpus_alloc", ())] == 1
        assert sum(v for (name, _), v in figures.items() if name == "slurm_node_cpus_alloc") == 1
        assert figures[("slurm_partition_jobs_running", (("partition", "debug"),))] == 1
        per_user = _samples(_get(cluster, "/metrics/jobs-users-accts", token=token)[1])
        assert per_user[("slurm_user_jobs_pending", (("username", "root"),))] == 1
        assert per_user[("slurm_user_jobs_running", (("username", "root"),))] == 1
        assert ("slurm_user_jobs_timeout", (("username", "root"),)) not in per_user   # (0: left out)
        assert "slurm_user_jobs_pending" not in {name for name, _ in figures}   # (its own scrape target)
        assert figures[("jem_job_queue_wait_seconds_count", (("partition", "debug"),))] >= 1
        assert figures[("jem_rpc_duration_seconds_count", (("code", "OK"), ("method", "SubmitJob")))] == 2
        assert figures[("jem_rpc_duration_seconds_count", (("code", "NOT_FOUND"), ("method", "GetJob")))] == 1
        assert figures[("jem_store_commit_duration_seconds_count", ())] \
            > before.get(("jem_store_commit_duration_seconds_count", ()), 0)
        assert figures[("slurm_schedule_cycle_cnt", ())] > before[("slurm_schedule_cycle_cnt", ())]
        assert figures[("jem_schedule_cycle_duration_seconds_count", ())] >= 1
        client.cancel(running)
        client.cancel(held)
        wait_until(lambda: (f := scrape())[("slurm_jobs_cancelled", ())] == 2 and f[("slurm_jobs_running", ())] == 0,
                   what="both cancelled")


def test_who_may_scrape_what(make_cluster, stranger, operator_user):
    cluster = _metrics_cluster(make_cluster, private_data='"jobs", "usage"',
                               users=f'[[users]]\nname = "{operator_user}"\nadmin_level = "operator"\n')
    assert _get(cluster)[0] == 401                            # no token
    assert _get(cluster, token="not.a.jwt")[0] == 401
    user, operator = _token(cluster, stranger), _token(cluster, operator_user)
    code, text = _get(cluster, token=user)
    names = {name for name, _ in _samples(text)}
    assert code == 200 and "slurm_jobs_pending" in names and "slurm_node_cpus" in names
    assert not any(n.startswith(("slurm_user_", "slurm_account_", "slurm_schedule_", "jem_rpc_")) for n in names)
    assert _get(cluster, "/metrics/jobs-users-accts", token=user)[0] == 403
    assert _get(cluster, "/metrics/scheduler", token=user)[0] == 403
    code, text = _get(cluster, "/metrics/scheduler", token=operator)
    assert code == 200 and ("slurm_schedule_cycle_cnt", ()) in _samples(text)
    assert _get(cluster, "/metrics/nodes", token=user)[0] == 200
    assert _get(cluster, "/metrics/other", token=operator)[0] == 404
    assert _get(cluster, "/metrics", token=operator, method="POST")[0] == 405


def test_anonymous_scrapes_see_what_a_user_sees(make_cluster):
    cluster = _metrics_cluster(make_cluster, private_data='"users"', extra="anonymous = true")
    code, text = _get(cluster)
    names = {name for name, _ in _samples(text)}
    assert code == 200 and "slurm_nodes" in names and "slurm_schedule_cycle_cnt" in names
    assert not any(n.startswith("slurm_user_") for n in names)
    assert _get(cluster, token="not.a.jwt")[0] == 401   # (a token given is checked, anonymous or not)


def test_idle_connections_past_the_bound_are_closed_at_once(make_cluster):
    cluster = _metrics_cluster(make_cluster)
    with open(os.path.join(cluster.state_dir, "metrics.addr")) as f:
        host, _, port = f.read().strip().rpartition(":")
    held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(metricsserver.MAX_CONNECTIONS)]

    def closed_at_once() -> bool:   # (once the server has taken up all the held ones)
        with socket.create_connection((host, int(port)), timeout=1) as extra:
            try:
                return extra.recv(1) == b""   # closed by the server without a word
            except socket.timeout:
                return False

    try:
        wait_until(closed_at_once, what="a connection past the bound closed")
    finally:
        for s in held:
            s.close()
    token = _token(cluster)
    assert wait_until(lambda: _get(cluster, token=token)[0] == 200, what="served again")
