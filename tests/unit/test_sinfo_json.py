"""sinfo --json: each node as Slurm 22.05 (openapi v0.0.38) shows it: the base state in lower case,
DRAIN and NOT_RESPONDING as flags over it, what is allocated, and Slurm's keys in Slurm's order;
and `sinfo -N -l`'s columns (CPUS left-justified, as Slurm's)."""

import pytest

from jem.client import NodeInfo
from jem.model.node import Node
from jem.model.resources import Resources
from jem_slurm import layout, sinfo

KEYS = ["architecture", "burstbuffer_network_address", "boards", "boot_time", "comment", "cores", "cpu_binding",
        "cpu_load", "extra", "free_memory", "cpus", "last_busy", "features", "active_features", "gres",
        "gres_drained", "gres_used", "mcs_label", "name", "next_state_after_reboot", "address", "hostname", "state",
        "state_flags", "next_state_after_reboot_flags", "operating_system", "owner", "partitions", "port",
        "real_memory", "reason", "reason_changed_at", "reason_set_by_user", "slurmd_start_time", "sockets",
        "threads", "temporary_disk", "weight", "tres", "slurmd_version", "alloc_memory", "alloc_cpus", "idle_cpus",
        "tres_used", "tres_weighted"]


def _info(*, allocated=Resources(), job_ids=(), **fields) -> NodeInfo:
    node = Node(name="n1", capacity=Resources(4, 2048, 0), allocated=allocated, is_responding=True,
                agent_address="10.0.0.5:7001", job_ids=set(job_ids), **fields)
    return NodeInfo(node=node, state=node.state, partitions=("debug",))


@pytest.mark.parametrize("info, state, flags", [
    (_info(), "idle", []),
    (_info(allocated=Resources(1, 100, 0), job_ids=(3,)), "mixed", []),
    (_info(allocated=Resources(4, 100, 0), job_ids=(3,)), "allocated", []),
    (_info(is_drained=True, reason="bad disk"), "idle", ["DRAIN"]),
    (_info(is_drained=True, reason="bad disk", allocated=Resources(1, 100, 0), job_ids=(3,)), "mixed", ["DRAIN"]),
    (_info(is_down=True, reason="gone"), "down", []),
])
def test_a_nodes_state_is_its_base_state_and_flags(info, state, flags):
    shown = sinfo._node_json(info)
    assert list(shown) == KEYS
    assert (shown["state"], shown["state_flags"]) == (state, flags)
    assert shown["idle_cpus"] == 4 - info.node.allocated.cpus
    assert shown["tres_used"] == (f"cpu={info.node.allocated.cpus},mem=100M" if info.node.allocated.cpus else None)
    assert shown["reason_set_by_user"] == ("root" if info.node.reason else None)


def test_a_node_that_does_not_respond_is_flagged():
    info = _info()
    info.node.is_responding = False
    shown = sinfo._node_json(NodeInfo(node=info.node, state=info.node.state, partitions=("debug",)))
    assert (shown["state"], shown["state_flags"]) == ("down", ["NOT_RESPONDING"])
    assert (shown["address"], shown["port"], shown["tres"]) == ("10.0.0.5", 7001, "cpu=4,mem=2G,billing=4")


def test_gpus_show_in_gres_used_with_their_indices():
    info = _info(allocated=Resources(1, 100, 1), job_ids=(3,), gpu_type="a100", gpu_ids={3: (1,)})
    node = info.node
    node.capacity = Resources(4, 2048, 2)
    shown = sinfo._node_json(NodeInfo(node=node, state=node.state, partitions=("debug",)))
    assert (shown["gres"], shown["gres_used"]) == ("gpu:a100:2", "gpu:a100:1(IDX:1)")


def test_node_long_format_left_justifies_cpus():
    parts = layout.parse_format(sinfo.NODE_LONG_FORMAT.replace("%#N", "%9N").replace("%#P", "%.9P"))
    line = layout.render(parts, {"N": "n1", "D": "1", "P": "debug*", "T": "idle", "c": "16", "z": "1:16:1",
                                 "m": "4096", "d": "0", "w": "1", "f": "(null)", "E": "none"})
    assert line.split("idle ")[1].startswith("16     1:16:1   4096")
