"""jem._core.fit against its plain-Python oracle (tests/oracle/fit_ref.py).

Property tests on random clusters and queues (hypothesis, derandomized), seeded
random cases on larger clusters, invariants that hold whatever the oracle says,
the named edge cases of STYLE.md section 4, and the wrapper's argument checks.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem._core import fit
from jem.model.resources import N_RES, Res
from tests.oracle import fit_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=300, deadline=None)


# ---------------------------------------------------------------- input builders

def make_inputs(free, usable, membership, requests, n_nodes_req, part_idx):
    """Typed, C-contiguous arrays exactly as fit.first_fit requires them."""
    n_nodes = len(free)
    n_jobs = len(requests)
    return (
        np.array(free, dtype=np.int64).reshape(n_nodes, N_RES),
        np.array(usable, dtype=np.uint8).reshape(n_nodes),
        np.array(membership, dtype=np.uint8).reshape(len(membership), n_nodes),
        np.array(requests, dtype=np.int64).reshape(n_jobs, N_RES),
        np.array(n_nodes_req, dtype=np.int64).reshape(n_jobs),
        np.array(part_idx, dtype=np.intp).reshape(n_jobs),
    )


@st.composite
def clusters_and_queues(draw):
    """A random cluster (0-12 nodes, 1-3 partitions) and queue (0-25 jobs), small
    amounts so that jobs compete for nodes and zero requests are common."""
    n_nodes = draw(st.integers(0, 12))
    n_parts = draw(st.integers(1, 3))
    n_jobs = draw(st.integers(0, 25))
    amount = st.integers(0, 16)
    free = draw(st.lists(st.lists(amount, min_size=N_RES, max_size=N_RES), min_size=n_nodes, max_size=n_nodes))
    usable = draw(st.lists(st.booleans(), min_size=n_nodes, max_size=n_nodes))
    membership = draw(st.lists(st.lists(st.booleans(), min_size=n_nodes, max_size=n_nodes),
                               min_size=n_parts, max_size=n_parts))
    request = st.integers(0, 10)
    requests = draw(st.lists(st.lists(request, min_size=N_RES, max_size=N_RES), min_size=n_jobs, max_size=n_jobs))
    n_nodes_req = draw(st.lists(st.integers(1, 4), min_size=n_jobs, max_size=n_jobs))
    part_idx = draw(st.lists(st.integers(0, n_parts - 1), min_size=n_jobs, max_size=n_jobs))
    return make_inputs(free, usable, membership, requests, n_nodes_req, part_idx)


def random_inputs(rng, *, n_nodes, n_jobs, n_parts):
    """Seeded random case for a larger cluster than hypothesis draws."""
    free = rng.integers(0, 64, size=(n_nodes, N_RES))
    usable = rng.random(n_nodes) < 0.9
    membership = rng.random((n_parts, n_nodes)) < 0.6
    requests = rng.integers(0, 24, size=(n_jobs, N_RES))
    requests[rng.random((n_jobs, N_RES)) < 0.2] = 0
    n_nodes_req = rng.integers(1, 6, size=n_jobs)
    part_idx = rng.integers(0, n_parts, size=n_jobs)
    return make_inputs(free, usable, membership, requests, n_nodes_req, part_idx)


def job_nodes(offsets, nodes, job_idx):
    return [int(n) for n in nodes[offsets[job_idx]:offsets[job_idx + 1]]]


def assert_matches_oracle(args):
    status, offsets, nodes = fit.first_fit(*args)
    ref_status, ref_offsets, ref_nodes = fit_ref.first_fit(*args)
    assert status.dtype == np.int64 and offsets.dtype == np.intp and nodes.dtype == np.intp
    assert status.tolist() == ref_status
    assert offsets.tolist() == ref_offsets
    assert nodes.tolist() == ref_nodes


def assert_invariants(args, result):
    """What must hold of any first-fit result, independent of the oracle."""
    free, usable, membership, requests, n_nodes_req, part_idx = args
    status, offsets, nodes = result
    n_jobs = len(requests)
    assert status.shape == (n_jobs,)
    assert offsets.shape == (n_jobs + 1,)
    assert offsets[0] == 0
    assert np.array_equal(np.diff(offsets), n_nodes_req)
    assert nodes.shape == (offsets[-1],)
    assert set(status.tolist()) <= {fit.STARTED, fit.RESOURCES, fit.PRIORITY}

    used = np.zeros_like(free)
    blocked: set[int] = set()
    for j in range(n_jobs):
        chosen = job_nodes(offsets, nodes, j)
        part = int(part_idx[j])
        if status[j] == fit.STARTED:
            assert part not in blocked, "a job started behind a blocked job of its partition"
            assert len(set(chosen)) == len(chosen) == n_nodes_req[j]
            for node_idx in chosen:
                assert 0 <= node_idx < len(free)
                assert usable[node_idx], f"job {j} placed on unusable node {node_idx}"
                assert membership[part, node_idx], f"job {j} placed outside its partition"
                used[node_idx] += requests[j]
        else:
            assert chosen == [-1] * int(n_nodes_req[j])
            if status[j] == fit.RESOURCES:
                assert part not in blocked, "only the first blocked job of a partition waits for Resources"
                blocked.add(part)
            else:
                assert part in blocked, "Priority without a blocked job ahead in the partition"
    assert (used <= free).all(), "a node is over-allocated"


# ---------------------------------------------------------------- kernel vs oracle

def test_status_codes_match_the_oracle():
    assert (fit.STARTED, fit.RESOURCES, fit.PRIORITY) == (fit_ref.STARTED, fit_ref.RESOURCES, fit_ref.PRIORITY)
    assert len({fit.STARTED, fit.RESOURCES, fit.PRIORITY}) == 3


@PROPERTY_SETTINGS
@given(clusters_and_queues())
def test_first_fit_agrees_with_oracle_on_random_queues(args):
    assert_matches_oracle(args)


@pytest.mark.parametrize("seed", range(40))
def test_first_fit_agrees_with_oracle_on_seeded_large_clusters(seed):
    rng = np.random.default_rng(seed)
    args = random_inputs(rng, n_nodes=int(rng.integers(1, 80)), n_jobs=int(rng.integers(1, 150)),
                         n_parts=int(rng.integers(1, 5)))
    assert_matches_oracle(args)
    assert_invariants(args, fit.first_fit(*args))


@PROPERTY_SETTINGS
@given(clusters_and_queues(), st.data())
def test_fitting_nodes_agrees_with_oracle(args, data):
    free = args[0]
    request = np.array(data.draw(st.lists(st.integers(0, 16), min_size=N_RES, max_size=N_RES)), dtype=np.int64)
    allowed = args[1]
    out = fit.fitting_nodes(free, request, allowed)
    assert out.dtype == np.uint8 and out.shape == (len(free),)
    assert out.tolist() == fit_ref.fitting_nodes(free, request, allowed)


# ---------------------------------------------------------------- invariants

@PROPERTY_SETTINGS
@given(clusters_and_queues())
def test_first_fit_result_satisfies_invariants(args):
    assert_invariants(args, fit.first_fit(*args))


@PROPERTY_SETTINGS
@given(clusters_and_queues())
def test_first_fit_leaves_its_inputs_unmodified(args):
    copies = [a.copy() for a in args]
    fit.first_fit(*args)
    for before, after in zip(copies, args):
        assert np.array_equal(before, after)


@PROPERTY_SETTINGS
@given(clusters_and_queues())
def test_first_fit_is_deterministic(args):
    first = fit.first_fit(*args)
    second = fit.first_fit(*args)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


@PROPERTY_SETTINGS
@given(clusters_and_queues())
def test_first_fit_starts_every_job_when_nothing_is_requested(args):
    free, usable, membership, requests, n_nodes_req, part_idx = args
    requests = np.zeros_like(requests)
    status, _, _ = fit.first_fit(free, usable, membership, requests, n_nodes_req, part_idx)
    for j in range(len(requests)):
        candidates = sum(1 for n in range(len(free)) if usable[n] and membership[part_idx[j], n])
        if candidates >= n_nodes_req[j]:
            # zero requests fit anywhere, so only a lack of nodes (or a blocked partition) stops a job
            assert status[j] in (fit.STARTED, fit.PRIORITY)


# ---------------------------------------------------------------- named edge cases

def cluster(n_nodes, per_node, *, n_parts=1):
    """n identical usable nodes, each in every partition."""
    return (np.tile(np.array(per_node, dtype=np.int64), (n_nodes, 1)),
            np.ones(n_nodes, dtype=np.uint8),
            np.ones((n_parts, n_nodes), dtype=np.uint8))


def queue(*jobs):
    """jobs as (request row, n_nodes, partition)."""
    requests = np.array([j[0] for j in jobs], dtype=np.int64).reshape(len(jobs), N_RES)
    n_nodes_req = np.array([j[1] for j in jobs], dtype=np.int64)
    part_idx = np.array([j[2] for j in jobs], dtype=np.intp)
    return requests, n_nodes_req, part_idx


def test_zero_nodes_blocks_the_first_job_and_the_rest_wait_on_priority():
    free, usable, membership = cluster(0, [8, 1024, 0], n_parts=2)
    requests, n_req, parts = queue(([1, 1, 0], 1, 0), ([1, 1, 0], 1, 0), ([0, 0, 0], 1, 1))
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES, fit.PRIORITY, fit.RESOURCES]
    assert offsets.tolist() == [0, 1, 2, 3]
    assert nodes.tolist() == [-1, -1, -1]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_zero_jobs_returns_empty_outputs():
    free, usable, membership = cluster(4, [8, 1024, 1])
    requests, n_req, parts = queue()
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.shape == (0,) and nodes.shape == (0,)
    assert offsets.tolist() == [0]


def test_zero_nodes_and_zero_jobs():
    free, usable, membership = cluster(0, [1, 1, 1])
    requests, n_req, parts = queue()
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.size == 0 and nodes.size == 0 and offsets.tolist() == [0]


@pytest.mark.parametrize("too_big", [
    ([9, 1, 0], 1),       # more CPUs than any node has
    ([1, 2048, 0], 1),    # more memory than any node has
    ([1, 1, 1], 1),       # a GPU on a cluster without GPUs
    ([1, 1, 0], 4),       # more nodes than the cluster has
])
def test_job_larger_than_cluster_blocks_its_partition_only(too_big):
    free, usable, membership = cluster(3, [8, 1024, 0], n_parts=2)
    membership[1] = [0, 0, 1]  # partition 1 holds node 2 only
    request, n_nodes = too_big
    requests, n_req, parts = queue(
        (request, n_nodes, 0),
        ([1, 1, 0], 1, 0),     # would fit, but waits behind the blocked job
        ([1, 1, 0], 1, 1),     # other partition: still starts
        ([1, 1, 0], 1, 0),
        ([2, 2, 0], 1, 1),
    )
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES, fit.PRIORITY, fit.STARTED, fit.PRIORITY, fit.STARTED]
    assert job_nodes(offsets, nodes, 0) == [-1] * n_nodes
    assert job_nodes(offsets, nodes, 2) == [2]
    assert job_nodes(offsets, nodes, 4) == [2]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_identical_jobs_fill_nodes_in_index_order_then_block():
    free, usable, membership = cluster(3, [4, 4096, 1])
    requests, n_req, parts = queue(*[([2, 1024, 0], 1, 0)] * 8)
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    # two jobs per node, lowest node index first, then the queue stops
    assert status.tolist() == [fit.STARTED] * 6 + [fit.RESOURCES, fit.PRIORITY]
    assert nodes.tolist() == [0, 0, 1, 1, 2, 2, -1, -1]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_identical_nodes_and_identical_jobs_give_the_same_answer_each_time():
    free, usable, membership = cluster(5, [2, 100, 0])
    requests, n_req, parts = queue(*[([1, 50, 0], 2, 0)] * 6)
    results = [fit.first_fit(free, usable, membership, requests, n_req, parts) for _ in range(5)]
    for status, offsets, nodes in results[1:]:
        assert np.array_equal(status, results[0][0]) and np.array_equal(nodes, results[0][2])
    # two 2-node jobs per node pair; the fifth finds only node 4 left and blocks the sixth
    assert results[0][0].tolist() == [fit.STARTED] * 4 + [fit.RESOURCES, fit.PRIORITY]
    assert results[0][2].tolist() == [0, 1, 0, 1, 2, 3, 2, 3, -1, -1, -1, -1]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_drained_node_is_never_chosen():
    free, usable, membership = cluster(3, [8, 1024, 0])
    usable[0] = 0  # drained: lowest index, most free, still skipped
    free[0] = [64, 65536, 8]
    requests, n_req, parts = queue(([1, 1, 0], 1, 0), ([8, 1024, 0], 1, 0), ([1, 1, 0], 2, 0))
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert 0 not in nodes.tolist()
    assert job_nodes(offsets, nodes, 0) == [1]
    assert job_nodes(offsets, nodes, 1) == [2]
    # node 1 has 7 CPUs left but node 2 none; without node 0 the 2-node job cannot start
    assert status.tolist() == [fit.STARTED, fit.STARTED, fit.RESOURCES]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_drained_node_alone_cannot_run_anything():
    free, usable, membership = cluster(1, [8, 1024, 0])
    usable[0] = 0
    requests, n_req, parts = queue(([0, 0, 0], 1, 0))
    status, _, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES] and nodes.tolist() == [-1]


def test_multi_node_job_gets_distinct_nodes():
    free, usable, membership = cluster(2, [8, 1024, 0])
    requests, n_req, parts = queue(([4, 256, 0], 2, 0))
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.STARTED]
    assert sorted(job_nodes(offsets, nodes, 0)) == [0, 1]


def test_multi_node_job_does_not_double_book_a_node_with_room_for_two():
    # node 0 could hold the per-node request twice, but a 2-node job needs 2 different nodes
    free = np.array([[16, 4096, 0], [1, 1, 0]], dtype=np.int64)
    usable = np.ones(2, dtype=np.uint8)
    membership = np.ones((1, 2), dtype=np.uint8)
    requests, n_req, parts = queue(([4, 256, 0], 2, 0))
    status, _, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES]
    assert nodes.tolist() == [-1, -1]


def test_partially_placed_job_releases_nothing_and_later_partitions_see_full_nodes():
    # the 3-node job in partition 0 finds 2 nodes, fails, and must not hold them
    free, usable, membership = cluster(2, [4, 400, 0], n_parts=2)
    requests, n_req, parts = queue(([4, 400, 0], 3, 0), ([4, 400, 0], 2, 1))
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES, fit.STARTED]
    assert job_nodes(offsets, nodes, 0) == [-1, -1, -1]
    assert job_nodes(offsets, nodes, 1) == [0, 1]


def test_started_job_consumes_every_resource_column():
    free, usable, membership = cluster(1, [8, 1000, 2])
    for column in Res:
        request = [0, 0, 0]
        request[column] = int(free[0, column])
        # first job takes all of one column; an identical second job must then wait
        requests, n_req, parts = queue((request, 1, 0), (request, 1, 0))
        status, _, _ = fit.first_fit(free, usable, membership, requests, n_req, parts)
        assert status.tolist() == [fit.STARTED, fit.RESOURCES], column.name


def test_node_outside_the_partition_is_not_used():
    free, usable, membership = cluster(3, [8, 1024, 0], n_parts=2)
    membership[0] = [0, 1, 0]
    membership[1] = [1, 0, 1]
    requests, n_req, parts = queue(([1, 1, 0], 1, 0), ([1, 1, 0], 2, 1), ([1, 1, 0], 2, 0))
    status, offsets, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert job_nodes(offsets, nodes, 0) == [1]
    assert job_nodes(offsets, nodes, 1) == [0, 2]
    assert status[2] == fit.RESOURCES  # partition 0 has only one node


def test_exact_fit_is_a_fit():
    free, usable, membership = cluster(1, [8, 1024, 1])
    requests, n_req, parts = queue(([8, 1024, 1], 1, 0))
    status, _, nodes = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.STARTED] and nodes.tolist() == [0]


def test_overcommitted_node_takes_nothing_not_even_zero_requests():
    # allocated > capacity (after a reconfiguration) gives negative free amounts
    free = np.array([[-1, 100, 0]], dtype=np.int64)
    usable = np.ones(1, dtype=np.uint8)
    membership = np.ones((1, 1), dtype=np.uint8)
    requests, n_req, parts = queue(([0, 0, 0], 1, 0))
    status, _, _ = fit.first_fit(free, usable, membership, requests, n_req, parts)
    assert status.tolist() == [fit.RESOURCES]
    assert_matches_oracle((free, usable, membership, requests, n_req, parts))


def test_fitting_nodes_marks_allowed_nodes_with_room():
    free = np.array([[4, 100, 0], [8, 100, 1], [8, 50, 1], [8, 100, 1]], dtype=np.int64)
    request = np.array([4, 100, 1], dtype=np.int64)
    allowed = np.array([1, 1, 1, 0], dtype=np.uint8)
    assert fit.fitting_nodes(free, request, allowed).tolist() == [0, 1, 0, 0]


def test_fitting_nodes_on_zero_nodes():
    out = fit.fitting_nodes(np.zeros((0, N_RES), dtype=np.int64), np.zeros(N_RES, dtype=np.int64),
                            np.zeros(0, dtype=np.uint8))
    assert out.shape == (0,) and out.dtype == np.uint8


# ---------------------------------------------------------------- wrapper argument checks

ARG_NAMES = ["free", "usable", "membership", "requests", "n_nodes_req", "part_idx"]


def valid_args():
    free, usable, membership = cluster(4, [8, 1024, 1], n_parts=2)
    return [free, usable, membership, *queue(([1, 1, 0], 1, 0), ([1, 1, 0], 2, 1), ([2, 2, 1], 1, 0))]


def test_valid_args_are_accepted():
    status, _, _ = fit.first_fit(*valid_args())
    assert status.tolist() == [fit.STARTED] * 3


WRONG_DTYPE = {
    "free": np.int32, "usable": np.bool_, "membership": np.int64,
    "requests": np.float64, "n_nodes_req": np.int32, "part_idx": np.int32,
}


@pytest.mark.parametrize("name", ARG_NAMES)
def test_first_fit_rejects_wrong_dtype(name):
    args = valid_args()
    i = ARG_NAMES.index(name)
    args[i] = args[i].astype(WRONG_DTYPE[name])
    with pytest.raises(ValueError, match=name):
        fit.first_fit(*args)


@pytest.mark.parametrize("name", ARG_NAMES)
def test_first_fit_rejects_non_contiguous(name):
    args = valid_args()
    i = ARG_NAMES.index(name)
    arr = args[i]
    if arr.ndim == 2:
        bad = np.asfortranarray(arr)
    else:
        doubled = np.repeat(arr, 2)
        bad = doubled[::2]
    assert np.array_equal(bad, arr) and not bad.flags.c_contiguous
    args[i] = bad
    with pytest.raises(ValueError, match=name):
        fit.first_fit(*args)


@pytest.mark.parametrize("name", ARG_NAMES)
def test_first_fit_rejects_a_list_instead_of_an_array(name):
    args = valid_args()
    i = ARG_NAMES.index(name)
    args[i] = args[i].tolist()
    with pytest.raises(TypeError, match=name):
        fit.first_fit(*args)


@pytest.mark.parametrize("name", ARG_NAMES)
def test_first_fit_rejects_wrong_number_of_dimensions(name):
    args = valid_args()
    i = ARG_NAMES.index(name)
    arr = args[i]
    args[i] = np.ascontiguousarray(arr.reshape(-1) if arr.ndim == 2 else arr.reshape(1, -1))
    with pytest.raises(ValueError):
        fit.first_fit(*args)


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda a: a.__setitem__(1, np.ones(3, dtype=np.uint8)), id="usable-too-short"),
    pytest.param(lambda a: a.__setitem__(2, np.ones((2, 5), dtype=np.uint8)), id="membership-too-wide"),
    pytest.param(lambda a: a.__setitem__(3, np.ones((3, 2), dtype=np.int64)), id="requests-wrong-n_res"),
    pytest.param(lambda a: a.__setitem__(3, np.ones((2, 3), dtype=np.int64)), id="requests-too-few-jobs"),
    pytest.param(lambda a: a.__setitem__(4, np.ones(4, dtype=np.int64)), id="n_nodes_req-too-long"),
    pytest.param(lambda a: a.__setitem__(5, np.zeros(2, dtype=np.intp)), id="part_idx-too-short"),
    pytest.param(lambda a: a.__setitem__(5, np.array([0, 2, 0], dtype=np.intp)), id="part_idx-past-last-partition"),
    pytest.param(lambda a: a.__setitem__(5, np.array([0, -1, 0], dtype=np.intp)), id="part_idx-negative"),
    pytest.param(lambda a: a.__setitem__(4, np.array([1, 0, 1], dtype=np.int64)), id="zero-nodes-requested"),
    pytest.param(lambda a: a.__setitem__(4, np.array([1, -2, 1], dtype=np.int64)), id="negative-nodes-requested"),
])
def test_first_fit_rejects_inconsistent_shapes_and_values(mutate):
    args = valid_args()
    mutate(args)
    with pytest.raises(ValueError):
        fit.first_fit(*args)


@pytest.mark.parametrize("args", [
    pytest.param((np.zeros((2, 3), dtype=np.int32), np.zeros(3, dtype=np.int64), np.ones(2, dtype=np.uint8)),
                 id="free-int32"),
    pytest.param((np.zeros((2, 3), dtype=np.int64), np.zeros(3, dtype=np.float64), np.ones(2, dtype=np.uint8)),
                 id="request-float"),
    pytest.param((np.zeros((2, 3), dtype=np.int64), np.zeros(3, dtype=np.int64), np.ones(2, dtype=np.bool_)),
                 id="allowed-bool"),
    pytest.param((np.zeros((3, 2), dtype=np.int64).T, np.zeros(3, dtype=np.int64), np.ones(2, dtype=np.uint8)),
                 id="free-non-contiguous"),
    pytest.param((np.zeros((2, 3), dtype=np.int64), np.zeros(2, dtype=np.int64), np.ones(2, dtype=np.uint8)),
                 id="request-wrong-n_res"),
    pytest.param((np.zeros((2, 3), dtype=np.int64), np.zeros(3, dtype=np.int64), np.ones(3, dtype=np.uint8)),
                 id="allowed-wrong-n_nodes"),
])
def test_fitting_nodes_rejects_bad_arrays(args):
    with pytest.raises(ValueError):
        fit.fitting_nodes(*args)


def test_fitting_nodes_rejects_a_list():
    with pytest.raises(TypeError):
        fit.fitting_nodes([[1, 1, 1]], np.zeros(3, dtype=np.int64), np.ones(1, dtype=np.uint8))
