"""`scontrol update NodeName=... State=...` as parsed, and how sinfo and `scontrol show node`
print a DOWN node: plain `down`/`DOWN` for one an administrator took down whose agent answers,
`down*`/`DOWN+NOT_RESPONDING` for one that is silent (Slurm 22.05's words)."""

import pytest

from jem.client import NodeInfo
from jem.model.node import Node, NodeState
from jem.model.resources import Resources
from jem_slurm import scontrol, scontrol_show, sinfo
from jem_slurm.command import Failure

REASON_REQUIRED = "You must specify a reason when DOWNING or DRAINING a node. Request denied"


@pytest.mark.parametrize("pairs, expected", [
    ({"nodename": "n[1-2]", "state": "down", "reason": "bad fan"}, (["n1", "n2"], "down", "bad fan")),
    ({"nodename": "n1", "state": "DOWN", "reason": "x"}, (["n1"], "down", "x")),
    ({"nodename": "n1", "state": "Drain", "reason": "disk"}, (["n1"], "drain", "disk")),
    ({"nodename": "n1", "state": "resume"}, (["n1"], "resume", "")),
    ({"nodename": "n1", "state": "undrain"}, (["n1"], "undrain", "")),
    ({"nodename": "n1", "state": "idle"}, (["n1"], "resume", "")),
])
def test_node_updates_name_their_nodes_action_and_reason(pairs, expected):
    assert scontrol.node_update(dict(pairs)) == expected


@pytest.mark.parametrize("pairs, message", [
    ({"nodename": "n1", "state": "down"}, REASON_REQUIRED),
    ({"nodename": "n1", "state": "down", "reason": ""}, REASON_REQUIRED),
    ({"nodename": "n1", "state": "drain"}, REASON_REQUIRED),
    ({"nodename": "n1", "state": "bogus", "reason": "x"}, "Invalid node state specified: BOGUS"),
    ({"nodename": "n1", "reason": "x"}, "No node state specified"),
    ({"nodename": "n1", "state": "down", "reason": "x", "weight": "2"}, "Update of weight is not supported yet by JEM"),
])
def test_node_updates_slurm_refuses_are_refused_with_its_message(pairs, message):
    with pytest.raises(Failure) as caught:
        scontrol.node_update(dict(pairs))
    assert caught.value.lines[0] == message


def test_a_reason_is_required_before_anything_is_asked_of_the_controller(capsys):
    # main() fails on parsing alone: no controller is contacted (none exists here).
    assert scontrol.main(["update", "NodeName=n1", "State=DOWN"]) == 1
    assert capsys.readouterr().err == REASON_REQUIRED + "\n"


def info(state: NodeState, *, is_responding: bool, reason: str = "") -> NodeInfo:
    return NodeInfo(Node("n1", Resources(4, 1000, 0), is_responding=is_responding, reason=reason), state, ("p",))


@pytest.mark.parametrize("node, compact, long_name, shown", [
    (info(NodeState.DOWN, is_responding=True, reason="bad fan"), "down", "down", "DOWN"),
    (info(NodeState.DOWN, is_responding=False, reason="Not responding"), "down*", "down*", "DOWN+NOT_RESPONDING"),
    (info(NodeState.DRAINED, is_responding=True, reason="disk"), "drain", "drained", "IDLE+DRAIN"),
    (info(NodeState.IDLE, is_responding=True), "idle", "idle", "IDLE"),
])
def test_down_nodes_show_as_slurm_shows_them(node, compact, long_name, shown):
    assert sinfo.state_names(node) == (compact, long_name)
    assert scontrol_show.node_state_text(node) == shown
    assert f"State={shown} " in scontrol_show.node_record(node, is_one_line=True)
