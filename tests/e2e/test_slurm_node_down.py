"""`scontrol update NodeName=X State=DOWN Reason=...` through the Slurm-compatible commands and
`jem down-node`: the node shows `down` (no `*`: its agent answers) in sinfo, `State=DOWN` in
`scontrol show node`, DOWN in `jem nodes`, each with the reason; its job is requeued; a resume
brings it back; without a reason, Slurm's refusal."""

import json

import pytest
from slurm_cluster import JEM, slurm, start_cluster, stop_cluster, wait_for, wait_for_state

REASON_REQUIRED = "You must specify a reason when DOWNING or DRAINING a node. Request denied\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("slurm_down")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def jem_nodes(cluster) -> dict[str, dict]:
    out = slurm(cluster, *JEM, "nodes", "--json").stdout
    return {n["name"]: n for n in json.loads(out)["nodes"]}


def test_scontrol_down_shows_in_sinfo_and_show_node_until_resume(cluster):
    job = slurm(cluster, "sbatch", "--parsable", "-N", "2", "--wrap", "sleep 300").stdout.strip()
    wait_for_state(cluster, job, {"RUNNING"})
    result = slurm(cluster, "scontrol", "update", "nodename=n2", "state=down", "reason=bad fan")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    try:
        # Its job is killed, then back in the queue (requeued: the default), waiting for nodes.
        wait_for(lambda: slurm(cluster, "squeue", "-h", "-j", job, "-o", "%T %r").stdout.strip()
                 .startswith("PENDING"), what="the job to be requeued")
        assert slurm(cluster, "sinfo", "-h", "-N", "-o", "%N %t %T").stdout.split("\n")[:2] == \
            ["n1 idle idle", "n2 down down"]
        assert "down n2" in slurm(cluster, "sinfo").stdout
        assert slurm(cluster, "sinfo", "-R", "-h").stdout.split() == ["bad", "fan", "root", "Unknown", "n2"]
        assert slurm(cluster, "sinfo", "-h", "-t", "down", "-o", "%N").stdout == "n2\n"
        shown = slurm(cluster, "scontrol", "show", "node", "n2").stdout
        assert "State=DOWN ThreadsPerCore" in shown and "Reason=bad fan" in shown
        n2 = jem_nodes(cluster)["n2"]
        assert (n2["state"], n2["reason"], n2["is_responding"], n2["job_ids"]) == ("DOWN", "bad fan", True, [])
    finally:
        assert slurm(cluster, "scontrol", "update", "nodename=n2", "state=resume").returncode == 0
    wait_for_state(cluster, job, {"RUNNING"})
    assert jem_nodes(cluster)["n2"]["reason"] == ""
    assert slurm(cluster, "scancel", job).returncode == 0
    wait_for_state(cluster, job, {"CANCELLED"})
    assert slurm(cluster, "sinfo", "-h", "-o", "%t %N").stdout.split() == ["idle", "n[1-2]"]


def test_scontrol_undrain_undoes_a_drain_but_leaves_a_down_node_down(cluster):
    def update(*argv: str) -> None:
        assert slurm(cluster, "scontrol", "update", *argv).returncode == 0

    update("nodename=n[1-2]", "state=drain", "reason=maintenance")
    update("nodename=n2", "state=down", "reason=bad psu")
    try:
        update("nodename=n[1-2]", "state=undrain")
        nodes = jem_nodes(cluster)
        assert (nodes["n1"]["state"], nodes["n2"]["state"], nodes["n2"]["reason"]) == ("IDLE", "DOWN", "bad psu")
        assert slurm(cluster, "sinfo", "-h", "-N", "-o", "%N %t").stdout.split("\n")[:2] == ["n1 idle", "n2 down"]
    finally:
        update("nodename=n[1-2]", "state=resume")
    assert slurm(cluster, "sinfo", "-h", "-o", "%t %N").stdout.split() == ["idle", "n[1-2]"]


def test_scontrol_down_without_a_reason_is_refused_as_slurm_refuses_it(cluster):
    for argv in (["NodeName=n1", "State=DOWN"], ["NodeName=n1", "State=DOWN", "Reason="]):
        result = slurm(cluster, "scontrol", "update", *argv)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", REASON_REQUIRED)
    assert jem_nodes(cluster)["n1"]["state"] == "IDLE"


def test_jem_down_node_and_resume(cluster):
    out = slurm(cluster, *JEM, "down-node", "n1", "--reason", "maintenance")
    assert (out.returncode, out.stdout) == (0, "n1 DOWN\n"), out.stderr
    assert jem_nodes(cluster)["n1"]["reason"] == "maintenance"
    refused = slurm(cluster, *JEM, "down-node", "n9", "--reason", "x")
    assert refused.returncode == 1 and "Invalid node name specified" in refused.stderr
    assert slurm(cluster, *JEM, "resume", "n1").stdout == "n1 IDLE\n"
    assert slurm(cluster, "scontrol", "update", "NodeName=n9", "State=DOWN", "Reason=x").stderr == \
        "slurm_update error: Invalid node name specified\n"
