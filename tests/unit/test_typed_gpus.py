"""Typed GPUs (`--gres=gpu:a100:2`, gres.conf Type=): parsing, node configuration, the spec's
checks, matching in the cycle (as implied features) and in preemption, limits counting both
gres/gpu and gres/gpu:TYPE, the wire, old store records, and what the Slurm commands show."""

import dataclasses
import json

import pytest

from jem import convert
from jem.cli.main import build_parser
from jem.cli.submit import spec_from_args
from jem.client import NodeInfo
from jem.controller.admission import limited_job
from jem.model.accounting import add_accounts, add_qos, new_table
from jem.model.associations import Association, Limits, PreemptMode, Qos
from jem.model.config import parse_config
from jem.model.errors import ConfigError, InvalidFeature, InvalidJobSpec
from jem.model.features import parse_constraint
from jem.model.gres import GresRequest, node_features, parse_gpus, parse_gres, typed_constraint
from jem.model.job import Job, JobShape, JobSpec
from jem.model.node import Node, NodeState
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.model.tres import Tres
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.limits import Ledger
from jem.scheduler.policy import Policy
from jem.scheduler.preemption import PreemptPolicy
from jem.scheduler.snapshot import pending_views, take_snapshot
from jem.store.codec import job_from_json, job_to_json
from jem_slurm import sacct_fields, sbatch, sbatch_options, scontrol_show, sinfo, squeue_fields
from jem_slurm.command import Failure

NOW = 1_700_000_000.0
SCRIPT = "#!/bin/sh\ntrue\n"
BATCH = Partition("batch", ("a1", "v1"))


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize("text, expected", [
    ("gpu:a100:2", GresRequest(2, "a100")), ("gpu:2", GresRequest(2, "")), ("gpu", GresRequest(1, "")),
    ("gpu:a100", GresRequest(1, "a100")), ("gpu:a100:1,gpu:a100:1", GresRequest(2, "a100")),
    ("gpu:a100_1g.5gb:1,nvme:2", GresRequest(1, "a100_1g.5gb", (("nvme", 2),))),
    ("gpu:a100:0", GresRequest(0, "")),   # (no GPUs: no type to hold the job to)
])
def test_gres_keeps_the_gpu_type(text, expected):
    assert parse_gres(text) == expected


@pytest.mark.parametrize("text", ["gpu:a100:1,gpu:v100:1", "gpu:a100:1,gpu:1", "gpu:a100:x", "gpu::1"])
def test_gres_with_two_gpu_types_or_a_bad_item_is_refused(text):
    with pytest.raises(ValueError):
        parse_gres(text)


@pytest.mark.parametrize("text, expected", [
    ("a100:2", GresRequest(2, "a100")), ("2", GresRequest(2, "")), ("a100", GresRequest(1, "a100")),
])
def test_gpus_values_are_type_and_count(text, expected):
    assert parse_gpus(text) == expected


def test_a_typed_job_requires_the_feature_its_type_implies_and_a_typed_node_offers_it():
    assert typed_constraint("", "a100") == "gpu:a100" and typed_constraint("ib&x", "a100") == "ib&x&gpu:a100"
    assert typed_constraint("a|b", "") == "a|b"
    with pytest.raises(InvalidFeature):
        typed_constraint("a|b", "a100")
    assert node_features(("ib",), "a100") == ("ib", "gpu:a100") and node_features(("ib",), "") == ("ib",)
    assert node_features(("gpu:a100",), "a100") == ("gpu:a100",)


# ---------------------------------------------------------------- configuration and spec

def test_a_node_entry_gives_its_gpus_type():
    config = parse_config({"nodes": [{"names": "a[1-2]", "cpus": 4, "gpus": 4, "gpu_type": "a100"},
                                     {"names": "c1", "cpus": 4}]})
    assert [(n.name, n.gpu_type) for n in config.nodes] == [("a1", "a100"), ("a2", "a100"), ("c1", "")]


@pytest.mark.parametrize("entry, message", [
    ({"gpu_type": "a100"}, "without GPUs"),
    ({"gpus": 2, "gpu_type": "a 100"}, "not a GPU type"),
    ({"gpus": 2, "gpu_type": "100"}, "not a GPU type"),
    ({"gpus": 2, "gpu_type": ["a100"]}, "expected a string"),
])
def test_bad_gpu_types_name_the_key(entry, message):
    with pytest.raises(ConfigError, match=rf"nodes\[0\]\.gpu_type: .*{message}"):
        parse_config({"nodes": [{"names": "n1", **entry}]})


@pytest.mark.parametrize("fields, error", [
    ({"gpu_type": "a100"}, InvalidJobSpec),                                   # no GPUs
    ({"gpu_type": "a/100", "gpus_per_node": 1}, InvalidJobSpec),
    ({"gpu_type": "a100", "gpus_per_node": 1, "constraint": "x|y"}, InvalidFeature),
])
def test_a_spec_with_a_gpu_type_it_cannot_have_is_refused(fields, error):
    with pytest.raises(error):
        JobSpec(script=SCRIPT, **fields).validate()
    JobSpec(script=SCRIPT, gpus_per_node=1, gpu_type="a100", constraint="x&y").validate()


# ---------------------------------------------------------------- scheduling

def cluster_nodes(*, a_used=0, v_used=0) -> list[Node]:
    return [Node("a1", Resources(4, 4000, 2), Resources(0, 0, a_used), is_responding=True, gpu_type="a100"),
            Node("v1", Resources(4, 4000, 2), Resources(0, 0, v_used), is_responding=True, gpu_type="v100")]


def gpu_job(job_id: int, gpus: int = 1, gpu_type: str = "", **fields) -> Job:
    spec = JobSpec(script=SCRIPT, partition="batch", gpus_per_node=gpus, gpu_type=gpu_type, **fields)
    return Job(job_id=job_id, spec=spec, user="ann", uid=1000, gid=1000, submit_time=NOW - 100 + job_id,
               shape=JobShape(1, 1, Resources(1, 100, gpus)), time_limit_s=600, priority=100)


def test_the_snapshot_gives_typed_nodes_and_jobs_their_implied_feature():
    snap = take_snapshot([gpu_job(1, gpu_type="a100"), gpu_job(2)], cluster_nodes(), (BATCH,))
    assert [n.features for n in snap.nodes] == [("gpu:a100",), ("gpu:v100",)]
    assert [j.constraint for j in snap.pending] == ["gpu:a100", ""]


def test_a_typed_job_starts_only_on_its_type_and_an_untyped_one_anywhere():
    # v1 sorts after a1, so only the type keeps the v100 job off a1.
    jobs = [gpu_job(1, gpu_type="v100"), gpu_job(2, gpu_type="a100"), gpu_job(3)]
    decisions = plan_cycle(take_snapshot(jobs, cluster_nodes(), (BATCH,)), NOW)
    assert {s.job_id: s.node_names for s in decisions.starts} == {1: ("v1",), 2: ("a1",), 3: ("a1",)}


def test_a_typed_job_waits_for_its_type_though_other_gpus_are_free():
    decisions = plan_cycle(take_snapshot([gpu_job(1, gpu_type="a100")], cluster_nodes(a_used=2), (BATCH,)), NOW)
    assert decisions.starts == [] and decisions.reasons[1] is JobReason.RESOURCES
    untyped = plan_cycle(take_snapshot([gpu_job(1)], cluster_nodes(a_used=2), (BATCH,)), NOW)
    assert [s.node_names for s in untyped.starts] == [("v1",)]


def test_preemption_pushes_off_only_jobs_on_nodes_of_the_preemptors_type():
    table, _ = add_qos(new_table(), [Qos("low", preempt_mode=PreemptMode.CANCEL), Qos("high", preempt=("low",))])
    policy = Policy(reservation_depth=1, preemption=PreemptPolicy(preempt_type="qos", mode=PreemptMode.CANCEL))
    victims = []
    for job_id, node in ((10, "a1"), (11, "v1")):
        victim = dataclasses.replace(gpu_job(job_id, gpus=2, qos="low"), state=JobState.RUNNING, nodes=(node,),
                                     start_time=NOW - 3600 + job_id)
        victims.append(victim)
    snap = take_snapshot([gpu_job(1, gpu_type="a100", qos="high")], cluster_nodes(a_used=2, v_used=2), (BATCH,),
                         running_jobs=victims)
    decisions = plan_cycle(dataclasses.replace(snap, accounting=table), NOW, policy=policy)
    # (job 11, on the v100 node, started later: without types it would be the one pushed off)
    assert [(p.victim_id, p.preemptor_id) for p in decisions.preemptions] == [(10, 1)]


# ---------------------------------------------------------------- limits

def test_a_typed_job_counts_in_both_gres_names_and_a_typed_limit_holds_only_its_type():
    table, _ = add_accounts(new_table(), [Association("phys", limits=Limits(grp_tres=Tres({"gres/gpu:a100": 1})))])

    def limited(gpu_type: str):
        job = gpu_job(0, gpu_type=gpu_type, account="phys")
        return limited_job(job.spec, "ann", job.shape, 600, BATCH)

    assert limited("a100").tres["gres/gpu"] == 1 and limited("a100").tres["gres/gpu:a100"] == 1
    assert "gres/gpu:a100" not in limited("").tres and "gres/gpu:a100" not in limited("v100").tres
    ledger = Ledger(table, [(limited("a100"), 600)])
    assert ledger.blocking(limited("a100")).reason is JobReason.ASSOC_GRP_GRES
    assert ledger.blocking(limited("v100")) is None and ledger.blocking(limited("")) is None


# ---------------------------------------------------------------- wire and store

def test_the_wire_carries_the_job_and_node_gpu_types():
    spec = JobSpec(script=SCRIPT, gpus_per_node=2, gpu_type="a100")
    assert convert.spec_from_pb(convert.spec_to_pb(spec)) == spec
    node = cluster_nodes()[0]
    assert convert.node_from_pb(convert.node_to_pb(node, ["batch"]))[0].gpu_type == "a100"


def test_a_record_stored_before_gpu_types_reads_as_untyped():
    job = gpu_job(7, gpus=2, gpu_type="a100")
    assert job_from_json(7, job_to_json(job)).spec.gpu_type == "a100"
    old = json.loads(job_to_json(job))
    del old["spec"]["gpu_type"]
    assert job_from_json(7, json.dumps(old)).spec == dataclasses.replace(job.spec, gpu_type="")


# ---------------------------------------------------------------- the Slurm commands

def sbatch_spec(*argv: str) -> JobSpec:
    found, _ = sbatch_options.OPTIONS.parse(list(argv), stop_at_operand=True)
    settings: dict = {}
    sbatch_options.apply_settings(settings, found)
    return sbatch.build_spec(settings, SCRIPT, "x", [], {})


@pytest.mark.parametrize("argv, gpus, gpu_type", [
    (["--gres=gpu:a100:2"], 2, "a100"), (["--gpus-per-node=a100:2"], 2, "a100"),
    (["-N", "2", "--gpus=a100:4"], 2, "a100"), (["--gres=gpu:2,nvme:1"], 2, ""), (["-G", "v100:1"], 1, "v100"),
])
def test_sbatch_options_give_the_gpu_type(argv, gpus, gpu_type):
    spec = sbatch_spec(*argv)
    assert (spec.gpus_per_node, spec.gpu_type) == (gpus, gpu_type)


def test_sbatch_refuses_two_gpu_types_as_slurm_words_a_bad_gres():
    with pytest.raises(Failure, match="Invalid generic resource"):
        sbatch_spec("--gres=gpu:a100:1,gpu:v100:1")


def shown_job() -> Job:
    return dataclasses.replace(gpu_job(5, gpus=2, gpu_type="a100"), state=JobState.RUNNING, nodes=("a1",),
                               start_time=NOW - 60)


def test_squeue_and_scontrol_show_the_typed_request_as_slurm_22_05():
    job = shown_job()
    assert squeue_fields.value("b", job, NOW) == "gres:gpu:a100:2"
    assert squeue_fields.value("b", gpu_job(6, gpus=1), NOW) == "gres:gpu:1"
    assert squeue_fields.job_as_json(job, NOW, cluster_name="c")["tres_per_node"] == "gres:gpu:a100:2"
    record = scontrol_show.job_record(job, NOW, is_one_line=True)
    assert record.endswith(" Power= TresPerNode=gres:gpu:a100:2")   # (22.05: after Power=)
    assert " TRES=cpu=1,mem=100M,node=1,billing=1,gres/gpu=2,gres/gpu:a100=2 " in record


def test_sacct_counts_a_typed_request_under_both_names_sorted_as_sacct_sorts():
    job = shown_job()
    row = sacct_fields.Row(job, "", NOW)
    getters = sacct_fields.getters("c")
    assert getters["AllocTRES"](row) == "cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=100M,node=1"
    assert getters["ReqTRES"](row) == "cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=100M,node=1"


def test_nodes_show_their_gpu_type():
    info = NodeInfo(cluster_nodes()[0], NodeState.IDLE, ("batch",))
    record = scontrol_show.node_record(info, is_one_line=True)
    assert " Gres=gpu:a100:2 " in record and " CfgTRES=cpu=4,mem=4000M,billing=4,gres/gpu=2,gres/gpu:a100=2 " in record
    assert sinfo._node_values(info, BATCH)["G"] == "gpu:a100:2"


@pytest.mark.parametrize("argv, gpus, gpu_type", [
    (["-G", "a100:2"], 2, "a100"), (["-G", "2"], 2, ""), (["--gres", "gpu:v100:1,nvme:1"], 1, "v100"),
])
def test_jem_submit_takes_a_gpu_type(argv, gpus, gpu_type):
    spec = spec_from_args(build_parser(["submit"]).parse_args(["submit", "--wrap", "true", *argv]))
    assert (spec.gpus_per_node, spec.gpu_type) == (gpus, gpu_type)
