"""A reservation of cores with a count per node (CoreCnt=2,4 Nodes=n[1-2]): the model's counts and
checks, the cycle giving its jobs only its cores of each node, the wire and the store keeping the
counts, and scontrol's parsing, create and update checks and `show` lines, in Slurm 22.05's words."""

import dataclasses
import doctest

import pytest

from jem.client import NodeInfo
from jem.convert import reservation_from_pb, reservation_to_pb
from jem.model.errors import InvalidReservation
from jem.model.node import Node, NodeState
from jem.model.partition import Partition
from jem.model.reservation import Reservation
from jem.model.resources import Resources
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.policy import Policy
from jem.scheduler.snapshot import NodeView, PendingJob, Snapshot
from jem.store import SqliteStore
from jem_slurm import reservations, scontrol_show
from jem_slurm.command import Failure

NOW = 1_000_000.0
INCONSISTENT = "Error creating the reservation: Core count for reservation node list is not consistent!"


def per_node(counts=(2, 4), nodes=("n1", "n2")) -> Reservation:
    return Reservation("cores", NOW - 60, NOW + 3600, nodes, users=("alice",), cores_per_node=counts)


# ---------------------------------------------------------------- the model

def test_each_node_gives_its_own_count_and_the_total_is_their_sum():
    r = per_node((2, 4))
    assert (r.cores_on("n1"), r.cores_on("n2"), r.cores_on("n3")) == (2, 4, None)
    assert r.core_count == 6 and r.core_count_text == "2,4"
    # The same total spread evenly gives 3 and 3: the counts are what is read.
    spread = Reservation("even", 0, 1, ("n1", "n2"), users=("a",), core_count=6)
    assert (spread.cores_on("n1"), spread.cores_on("n2"), spread.core_count_text) == (3, 3, "6")
    per_node((2, 4)).check()


def test_counts_read_as_a_list_are_kept_as_a_tuple_and_the_total_follows_them():
    r = Reservation("cores", NOW - 60, NOW + 3600, ("n1", "n2"), users=("alice",), core_count=99,
                    cores_per_node=[1, 3])   # (a stored record's JSON gives a list)
    assert r == per_node((1, 3)) and r.core_count == 4


@pytest.mark.parametrize("counts, nodes", [
    ((2,), ("n1", "n2")),           # fewer counts than nodes
    ((2, 4, 1), ("n1", "n2")),      # more
    ((2, 0), ("n1", "n2")),         # a node with no core
    ((3, -1), ("n1", "n2")),
])
def test_counts_that_disagree_with_the_nodes_are_refused(counts, nodes):
    with pytest.raises(InvalidReservation, match="CoreCnt="):
        per_node(counts, nodes).check()


# ---------------------------------------------------------------- the cycle

def node(name) -> NodeView:
    return NodeView(name, Resources(4, 4096, 0), Resources(0, 0, 0), True)


def job(job_id, user, *, cpus, reservation="") -> PendingJob:
    return PendingJob(job_id=job_id, priority=100 - job_id, submit_time=NOW - 100, partition="batch", n_nodes=1,
                      per_node=Resources(cpus, 100, 0), held_by="", begin_time=None, time_limit_s=600,
                      reservation=reservation, user=user)


def test_its_jobs_get_only_its_cores_of_each_node_and_the_others_the_rest():
    """CoreCnt=1,3 over n1,n2 (4 CPUs each): alice's 3-CPU job fits only n2's 3 cores (spread
    evenly, 2 and 2, it would fit neither); bob's 3-CPU job takes n1's 3 other cores, and his
    second one waits (n2 has 1 core left beside the reservation)."""
    cores = per_node((1, 3))
    jobs = (job(1, "alice", cpus=3, reservation="cores"), job(2, "bob", cpus=3), job(3, "bob", cpus=3))
    snap = Snapshot(nodes=(node("n1"), node("n2")), partitions=(Partition("batch", ("n1", "n2")),), pending=jobs,
                    reservations=(cores,))
    decisions = plan_cycle(snap, NOW, policy=Policy(reservation_depth=1, estimate_depth=100))
    assert {s.job_id: s.node_names for s in decisions.starts} == {1: ("n2",), 2: ("n1",)}


# ---------------------------------------------------------------- the wire and the store

def test_the_counts_travel_over_the_wire_and_survive_the_store(tmp_path):
    r = per_node((2, 4))
    assert reservation_from_pb(reservation_to_pb(r)) == r
    assert list(reservation_to_pb(r).cores_per_node) == [2, 4] and reservation_to_pb(r).core_count == 6
    store = SqliteStore(str(tmp_path / "jem.db"))
    store.save_reservation(r)
    assert SqliteStore(str(tmp_path / "jem.db")).load_reservations() == [r]


# ---------------------------------------------------------------- scontrol

INFOS = [NodeInfo(Node(f"n{i}", Resources(4, 1000, 0)), NodeState.IDLE, ("debug",)) for i in range(1, 5)]
PARTITIONS = [Partition("debug", tuple(f"n{i}" for i in range(1, 5)), is_default=True)]


def request(*words: str, note=reservations.CREATED) -> reservations.Request:
    return reservations.parse_request(list(words), now=NOW, note=note)


def create(*words: str) -> tuple[Reservation, int]:
    r = request("ReservationName=r", "StartTime=now", "Duration=10", "Users=root", *words)
    start, end = reservations.check_create(r)
    return reservations.new_reservation(r, start=start, end=end, infos=INFOS, partitions=PARTITIONS, taken=set())


@pytest.mark.parametrize("value, counts, total", [
    ("2,4", (2, 4), 6),
    ("2,,4", (2, 4), 6),    # (strtok skips the empty item)
    ("5", (), 5),
    ("5,", (), 5),          # one count
])
def test_core_count_is_one_total_or_one_count_per_node(value, counts, total):
    r = request(f"CoreCnt={value}")
    assert (r.cores_per_node, r.core_count) == (counts, total)


@pytest.mark.parametrize("value", ["2,a", "a", "", "2,-1"])
def test_a_malformed_core_count_is_refused_as_scontrol_does(value):
    with pytest.raises(Failure) as caught:
        request(f"CoreCnt={value}")
    assert caught.value.lines == (f"scontrol: error: Invalid core count {value}",)


def test_create_gives_the_counts_to_the_nodes_in_node_order():
    """Slurm applies them in its node order, whatever order Nodes= names them in."""
    r, node_count = create("Nodes=n4,n3", "CoreCnt=1,3")
    assert (r.node_names, r.cores_per_node, r.core_count, node_count) == (("n3", "n4"), (1, 3), 4, 0)
    r, node_count = create("NodeCnt=2", "CoreCnt=1,3")   # (the controller picks the 2 nodes)
    assert (r.node_names, r.cores_per_node, node_count) == ((), (1, 3), 2)


@pytest.mark.parametrize("words", [
    ("Nodes=n[1-3]", "CoreCnt=1,3"),    # fewer counts than nodes (Slurm: this refusal)
    ("Nodes=n1", "CoreCnt=1,3"),        # more (Slurm ignores the extra ones)
    ("Nodes=n[1-2]", "CoreCnt=2,0"),
    ("NodeCnt=3", "CoreCnt=1,3"),
    ("CoreCnt=1,3",),                   # no nodes to give them to
])
def test_create_refuses_counts_that_disagree_with_the_nodes(words):
    with pytest.raises(Failure) as caught:
        create(*words)
    assert caught.value.lines == (INCONSISTENT,)


def update(current: Reservation, *words: str) -> Reservation:
    r = request("ReservationName=cores", *words, note=reservations.UPDATED)
    return reservations.updated_reservation(current, r, infos=INFOS, partitions=PARTITIONS)


def test_update_replaces_the_cores_in_either_form_and_keeps_them_otherwise():
    current = per_node((2, 4))
    assert update(current, "CoreCnt=3,1").cores_per_node == (3, 1)
    total = update(current, "CoreCnt=4")
    assert (total.cores_per_node, total.core_count, total.cores_on("n1")) == ((), 4, 2)
    whole = update(current, "CoreCnt=0")
    assert (whole.core_count, whole.cores_on("n1")) == (0, None)
    back = update(total, "CoreCnt=1,3")
    assert (back.cores_per_node, back.core_count) == ((1, 3), 4)
    kept = update(current, "Duration=30")
    assert (kept.cores_per_node, kept.end_time - kept.start_time) == ((2, 4), 1800)
    moved = update(current, "Nodes=n[3-4]")   # (as many nodes: the counts go with them in order)
    assert (moved.node_names, moved.cores_on("n3"), moved.cores_on("n4")) == (("n3", "n4"), 2, 4)


@pytest.mark.parametrize("words", [("CoreCnt=1,2,3",), ("Nodes=n[1-3]",), ("Nodes=n[1-3]", "CoreCnt=1,2")])
def test_update_refuses_counts_that_disagree_with_the_nodes(words):
    with pytest.raises(Failure) as caught:
        update(per_node((2, 4)), *words)
    message = "Core count for reservation node list is not consistent!"
    assert caught.value.lines == (f"Error updating the reservation: {message}", f"slurm_update error: {message}")


def test_show_prints_slurms_line_of_core_ids_for_each_node():
    r = dataclasses.replace(per_node((1, 3), ("n4", "n3")), start_time=NOW + 3600, end_time=NOW + 7200)
    record = scontrol_show.reservation_record(r, NOW, cpus_by_node={"n3": 4, "n4": 4})
    assert record.splitlines()[1:5] == [
        "   Nodes=n[3-4] NodeCnt=2 CoreCnt=4 Features=(null) PartitionName=(null) Flags=SPEC_NODES",
        "     NodeName=n3 CoreIDs=0-2",
        "     NodeName=n4 CoreIDs=0",
        "   TRES=cpu=4"]
    one_line = scontrol_show.reservation_record(r, NOW, cpus_by_node={}, is_one_line=True)
    assert " Flags=SPEC_NODES   NodeName=n3 CoreIDs=0-2   NodeName=n4 CoreIDs=0 TRES=cpu=4 " in one_line
    whole = dataclasses.replace(r, cores_per_node=(), core_count=0)
    assert "CoreIDs" not in scontrol_show.reservation_record(whole, NOW, cpus_by_node={"n3": 4, "n4": 4})


@pytest.mark.parametrize("module", [reservations, scontrol_show])
def test_docstring_examples_hold(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
