"""Typed GPUs (`--gres=gpu:a100:1`, a node entry's `gpu_type`) through a real controller and
agents: a typed job runs only on its type and an untyped one on any GPU node, a type no node
has is refused at submit, the commands show the types, and an account's
GrpTRES=gres/gpu:a100=1 holds a second a100 job (AssocGrpGRES) while a v100 job starts."""

import json

import pytest

from jem.model.errors import InvalidGres, Unsatisfiable
from jem.model.reasons import JobReason
from jem.model.states import JobState

from harness import cancel_and_wait, command, wait_until

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 120\n"
# Two GPUs on each node (no devices: the jobs never open them), of one type per node.
NODES = {"n1": 'gpu_type = "a100"', "n2": 'gpu_type = "v100"'}
ACCOUNTS = """
[[accounts]]
name = "phys"
grp_tres = "gres/gpu:a100=1"
"""






def test_typed_jobs_run_on_their_type_and_are_shown(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=2, gpus=2, node_extra=NODES).start()
    started = []
    with cluster.client() as client:
        def submit(**fields) -> int:
            job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=300, **fields))
            started.append(job_id)
            return job_id

        try:
            a100 = submit(gpus_per_node=1, gpu_type="a100")
            v100_all = submit(gpus_per_node=2, gpu_type="v100")
            for job_id in (a100, v100_all):
                cluster.wait_job(client, job_id, states={JobState.RUNNING})
            assert client.get_job(a100).nodes == ("n1",) and client.get_job(v100_all).nodes == ("n2",)
            # n2's GPUs are all taken: a v100 job waits though n1 has a CPU and a GPU free ...
            v100 = submit(gpus_per_node=1, gpu_type="v100")
            wait_until(lambda: client.get_job(v100).reason is JobReason.RESOURCES, what="the v100 job waiting")
            # ... and an untyped one takes them.
            untyped = submit(gpus_per_node=1)
            assert cluster.wait_job(client, untyped, states={JobState.RUNNING}).nodes == ("n1",)
            assert client.get_job(v100).state is JobState.PENDING
            # Never: a type no node has, more GPUs of a type than its nodes have.
            with pytest.raises(InvalidGres):
                client.submit(cluster.spec(SLEEP, gpus_per_node=1, gpu_type="h100"))
            with pytest.raises(Unsatisfiable):
                client.submit(cluster.spec(SLEEP, gpus_per_node=3, gpu_type="a100"))
            refused = command(cluster, "sbatch", "--gres=gpu:h100:1", "--wrap", "true")
            nodes = {n["name"]: n for n in json.loads(command(cluster, "nodes", "--json").stdout)["nodes"]}
            jobs = {j["job_id"]: j for j in json.loads(command(cluster, "jobs", "--json").stdout)["jobs"]}
            squeue = command(cluster, "squeue", "-h", "-j", f"{a100},{untyped}", "-o", "%i|%b").stdout.split()
            show_job = command(cluster, "scontrol", "show", "job", str(a100)).stdout
            show_node = command(cluster, "scontrol", "show", "node", "n1").stdout
            sinfo = command(cluster, "sinfo", "-h", "-N", "-o", "%N %G").stdout.split("\n")
            sacct = command(cluster, "sacct", "-n", "-X", "-P", "-j", str(a100), "-o", "ReqTRES").stdout.strip()
        finally:
            cancel_and_wait(cluster, client, started)
    assert refused.returncode == 1
    assert refused.stderr == ("sbatch: error: Batch job submission failed: "
                              "Invalid generic resource (gres) specification\n")
    assert (nodes["n1"]["gpu_type"], nodes["n2"]["gpu_type"]) == ("a100", "v100")
    assert (jobs[a100]["gpu_type"], jobs[untyped]["gpu_type"]) == ("a100", None)
    assert sorted(squeue) == sorted([f"{a100}|gres:gpu:a100:1", f"{untyped}|gres:gpu:1"])
    assert "TresPerNode=gres:gpu:a100:1" in show_job and ",gres/gpu=1,gres/gpu:a100=1" in show_job
    assert "Gres=gpu:a100:2" in show_node
    assert "n1 gpu:a100:2" in sinfo and "n2 gpu:v100:2" in sinfo
    assert "gres/gpu:a100=1,gres/gpu=1" in sacct


def test_a_typed_account_limit_holds_only_jobs_of_its_type(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=2, gpus=2, node_extra=NODES, extra_config=ACCOUNTS).start()
    started = []
    with cluster.client() as client:
        def submit(gpu_type: str) -> int:
            job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=300, account="phys",
                                                gpus_per_node=1, gpu_type=gpu_type))
            started.append(job_id)
            return job_id

        try:
            first = submit("a100")
            cluster.wait_job(client, first, states={JobState.RUNNING})
            second = submit("a100")   # n1 has a CPU and a GPU left: only the limit holds it
            wait_until(lambda: client.get_job(second).reason is JobReason.ASSOC_GRP_GRES,
                       what="the second a100 job held by GrpTRES=gres/gpu:a100=1")
            v100 = submit("v100")
            assert cluster.wait_job(client, v100, states={JobState.RUNNING}).nodes == ("n2",)
            reason = command(cluster, "squeue", "-h", "-j", str(second), "-o", "%r").stdout.strip()
            assert client.get_job(second).state is JobState.PENDING
            # The limit counts running a100 jobs: once the first ends, the second starts.
            client.cancel(first)
            assert cluster.wait_job(client, second, states={JobState.RUNNING}).nodes == ("n1",)
        finally:
            cancel_and_wait(cluster, client, started)
    assert reason == "AssocGrpGRES"
