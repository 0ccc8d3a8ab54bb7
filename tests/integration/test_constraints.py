"""Node features (-C), exclusive jobs, further resources (--gres) and QOS through a real
controller and agents, with jem submit/nodes and the Slurm-compatible commands."""

import json

import pytest

from jem.model.errors import InvalidFeature, InvalidGres, InvalidQos
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import command, wait_until

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 60\n"
NODES = {"n1": 'features = ["intel"]', "n2": 'features = ["amd", "ib"]\ngres = {nvme = 2}'}
QOS = """
[priority]
weight_qos = 1000

[[qos]]
name = "high"
priority = 100

[[accounts]]   # (with [accounting] enforce's "qos", a QOS is one the job's association may use)
name = "root"
qos = ["normal", "high"]
"""




def test_features_gres_and_qos_pick_nodes_and_are_shown(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=2, node_extra=NODES, extra_config=QOS).start()
    with cluster.client() as client:
        amd = client.submit(cluster.spec(SLEEP, n_tasks=1, constraint="amd", time_limit_s=120))
        either = client.submit(cluster.spec(SLEEP, n_tasks=1, constraint="intel|ib", time_limit_s=120, qos="high"))
        nvme = client.submit(cluster.spec(SLEEP, n_tasks=1, gres_per_node=(("nvme", 2),), time_limit_s=120))
        for job_id in (amd, either, nvme):
            cluster.wait_job(client, job_id, states={JobState.RUNNING})
        assert client.get_job(amd).nodes == ("n2",) and client.get_job(nvme).nodes == ("n2",)
        assert client.get_job(either).nodes == ("n1",)      # n2's two CPUs are taken
        more = client.submit(cluster.spec(SLEEP, n_tasks=1, gres_per_node=(("nvme", 1),), time_limit_s=120))
        more_high = client.submit(cluster.spec(SLEEP, n_tasks=1, gres_per_node=(("nvme", 1),), time_limit_s=120,
                                               qos="high"))
        wait_until(lambda: client.get_job(more).reason is not JobReason.NONE, what="the nvme jobs waiting")
        with pytest.raises(InvalidFeature):
            client.submit(cluster.spec(SLEEP, constraint="gpu"))
        with pytest.raises(InvalidFeature):
            client.submit(cluster.spec(SLEEP, constraint="intel&ib"))   # no one node has both
        with pytest.raises(InvalidGres):
            client.submit(cluster.spec(SLEEP, gres_per_node=(("disk", 1),)))
        with pytest.raises(InvalidQos):
            client.submit(cluster.spec(SLEEP, qos="gold"))
        nodes = {n["name"]: n for n in json.loads(command(cluster, "nodes", "--json").stdout)["nodes"]}
        squeue = command(cluster, "squeue", "-h", "-j", str(either), "-o", "%q|%f").stdout.strip()
        scontrol = command(cluster, "scontrol", "show", "node", "n2").stdout
        sinfo = command(cluster, "sinfo", "-h", "-N", "-o", "%N %f %G").stdout.split("\n")
        rejected = command(cluster, "sbatch", "-C", "gpu", "--wrap", "true")
        bad_qos = command(cluster, "sbatch", "-q", "gold", "--wrap", "true")
        high, normal = client.get_job(more_high).priority, client.get_job(more).priority
        for job_id in (amd, either, nvme, more, more_high):
            client.cancel(job_id)
    assert nodes["n2"]["features"] == ["amd", "ib"] and nodes["n2"]["gres"] == {"nvme": 2}
    assert nodes["n2"]["gres_allocated"] == {"nvme": 2}
    assert squeue == "high|intel|ib"
    assert "AvailableFeatures=amd,ib" in scontrol and "ActiveFeatures=amd,ib" in scontrol
    assert "Gres=nvme:2" in scontrol
    assert "n1 intel (null)" in sinfo and "n2 amd,ib nvme:2" in sinfo
    assert rejected.returncode == 1
    assert rejected.stderr == "sbatch: error: Batch job submission failed: Invalid feature specification\n"
    assert bad_qos.stderr == "sbatch: error: Batch job submission failed: Invalid qos specification\n"
    assert (high, normal) == (1000, 1)   # PriorityWeightQOS * 100 / 100; at least 1


def test_exclusive_job_takes_the_whole_node(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2).start()
    with cluster.client() as client:
        alone = client.submit(cluster.spec(SLEEP, n_tasks=1, exclusive=True, time_limit_s=120))
        cluster.wait_job(client, alone, states={JobState.RUNNING})
        small = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60))
        wait_until(lambda: client.get_job(small).reason is JobReason.RESOURCES, what="the small job waiting")
        job = client.get_job(alone)
        planned = client.get_job(small).planned_start
        node = client.list_nodes()[0].node
        shown = command(cluster, "squeue", "-h", "-j", str(alone), "-o", "%h|%C").stdout.strip()
        client.cancel(alone)
        cluster.wait_job(client, small, states={JobState.RUNNING})
        client.cancel(small)
    assert job.shape.per_node.cpus == 2 and job.shape.per_node.mem_mib == cluster.mem_mib
    assert node.allocated.cpus == 2 and node.allocated.mem_mib == cluster.mem_mib
    assert planned == pytest.approx(int(job.start_time) + 120, abs=1)
    assert shown == "NO|2"
