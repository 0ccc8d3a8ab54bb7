"""Required features, exclusive jobs, further resources and QOS: parsing, configuration,
and how a cycle turns them into the kernel's masks and columns."""

import pytest

from jem.model.config import parse_config
from jem.model.errors import ConfigError, InvalidFeature
from jem.model.features import MISSING_BIT, Constraint, FeatureBits, parse_constraint
from jem.model.gres import GresRequest, parse_gres
from jem.model.partition import Partition
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.scheduler import cycle
from jem.scheduler.policy import EASY, Policy
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot

NOW = 1_700_000_000.0


@pytest.mark.parametrize("text, expected", [
    ("", Constraint()), ("intel", Constraint(all_of=("intel",))), ("a&b", Constraint(all_of=("a", "b"))),
    ("a | b", Constraint(any_of=("a", "b"))),
])
def test_constraint_syntax(text, expected):
    assert parse_constraint(text) == expected


@pytest.mark.parametrize("text", ["a&b|c", "[a|b]", "a*2", "a&", "|"])
def test_constraints_jem_does_not_take_are_invalid_features(text):
    with pytest.raises(InvalidFeature):
        parse_constraint(text)


def test_constraint_is_met_by_a_node_with_the_features():
    assert parse_constraint("a&b").is_met_by(("a", "b", "c")) and not parse_constraint("a&b").is_met_by(("a",))
    assert parse_constraint("a|b").is_met_by(("b",)) and not parse_constraint("a|b").is_met_by(("c",))


def test_feature_bits_are_in_name_order_and_unknown_names_match_no_node():
    bits = FeatureBits(["ib", "amd", "intel"])
    assert bits.mask(["amd"]) == 1 and bits.mask(["ib", "intel"]) == 0b110 and bits.mask(["gpu"]) == MISSING_BIT
    with pytest.raises(InvalidFeature):
        FeatureBits(f"f{i}" for i in range(64))


def test_gres_lists():
    assert parse_gres("gpu:a100:2,nvme:1,nvme") == GresRequest(2, "a100", (("nvme", 2),))
    assert parse_gres("gpu:2,nvme") == GresRequest(2, "", (("nvme", 1),))
    with pytest.raises(ValueError):
        parse_gres("nvme:fast:1")


def test_config_reads_features_gres_and_qos():
    config = parse_config({
        "nodes": [{"names": "n[1-2]", "cpus": 4, "features": ["intel", "ib"], "gres": {"nvme": 2}}],
        "qos": [{"name": "high", "priority": 10}],
    })
    assert config.nodes[0].features == ("intel", "ib") and config.nodes[0].gres == (("nvme", 2),)
    assert [q.name for q in config.qos] == ["normal", "high"]
    assert config.qos_named("").name == "normal" and config.qos_named("gold") is None
    assert Policy.from_config(config).qos_factor("high") == 1.0 and Policy.from_config(config).qos_factor("") == 0.0


@pytest.mark.parametrize("raw, key", [
    ({"nodes": [{"names": "n1", "features": "intel"}]}, "features"),
    ({"nodes": [{"names": "n1", "gres": {"gpu": 1}}]}, "gres.gpu"),
    ({"nodes": [{"names": "n1", "gres": {"nvme": -1}}]}, "gres.nvme"),
    ({"qos": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
    ({"qos": [{"name": "a", "prio": 1}]}, "prio"),
])
def test_config_errors_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key):
        parse_config(raw)


def view(name, *, features=(), gres=(), used=0) -> NodeView:
    return NodeView(name, Resources(4, 4096, 0), Resources(used, 0, 0), True, features, gres, gres)


def pending(job_id, **fields) -> PendingJob:
    return PendingJob(job_id=job_id, priority=100, submit_time=job_id, partition="batch", n_nodes=1,
                      per_node=Resources(1, 100, 0), held_by="", begin_time=None, time_limit_s=60, **fields)


BATCH = Partition(name="batch", node_names=("n1", "n2"), has_all_nodes=True)


def test_cycle_places_jobs_by_features_gres_and_exclusive():
    nodes = (view("n1", features=("intel",)), view("n2", features=("amd",), gres=(("nvme", 1),)))
    jobs = (pending(1, constraint="amd"), pending(2, gres_per_node=(("nvme", 1),)), pending(3, constraint="intel|x"),
            pending(4, is_exclusive=True), pending(5, constraint="intel", is_exclusive=True))
    decisions = cycle.plan_cycle(Snapshot(nodes, (BATCH,), jobs), NOW, policy=EASY)
    starts = {s.job_id: s.node_names for s in decisions.starts}
    assert starts == {1: ("n2",), 2: ("n2",), 3: ("n1",)}
    assert decisions.reasons == {4: JobReason.RESOURCES, 5: JobReason.PRIORITY}


def test_running_exclusive_job_holds_the_whole_node():
    """The controller allocates all of an exclusive job's node (used=4 of 4 CPUs), and the
    planner gets it back, all of it, at the job's expected end."""
    nodes = (view("n1", used=4),)
    running = (RunningJob(job_id=9, node_names=("n1",), per_node=Resources(4, 4096, 0), start_time=NOW,
                          time_limit_s=100, is_exclusive=True),)
    snap = Snapshot(nodes, (Partition(name="batch", node_names=("n1",)),), (pending(1, is_exclusive=True),), running)
    _, run, _ = cycle.pass_inputs(snap, list(snap.pending), int(NOW))
    assert run.alloc.tolist() == [[4, 4096, 0]]
    decisions = cycle.plan_cycle(snap, NOW, policy=EASY)
    assert decisions.planned_starts == {1: NOW + 100}
