"""jem._core.backfill against its plain-Python oracle (tests/oracle/backfill_ref.py).

Property tests on random clusters, running jobs and queues (hypothesis,
derandomized) for every reservation depth, seeded larger cases, invariants
that hold whatever the oracle says (no over-allocation at any time, which is
"no reservation delayed"; reserved starts as early as the queue ahead allows;
determinism), agreement with fit.first_fit at depth 0, the named edge cases,
and the wrapper's argument checks.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jem._core import backfill as bf
from jem._core import fit
from jem.model.resources import N_RES
from tests.oracle import backfill_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=200, deadline=None)
NOW = 1000
DEPTHS = (0, 1, 2, bf.CONSERVATIVE)


JOB_FILTERS = ("feat_all", "feat_any", "exclusive")
JOB_ARRAYS = ("requests", "n_nodes_req", "part_idx", "duration_s") + JOB_FILTERS


def make_inputs(free, usable, membership, requests, n_nodes_req, part_idx, duration_s,
                run_node, run_end, run_alloc, *, n_res=N_RES, filters=None):
    """Typed, C-contiguous arguments exactly as bf.backfill requires them (without now and depth).
    n_res > N_RES adds further resource columns (GRES); `filters` is None or
    (node_features, feat_all, feat_any, exclusive) as lists."""
    n_nodes, n_jobs, n_pairs = len(free), len(requests), len(run_node)
    extra = {}
    if filters is not None:
        node_features, feat_all, feat_any, exclusive = filters
        extra = dict(node_features=np.array(node_features, dtype=np.uint64).reshape(n_nodes),
                     feat_all=np.array(feat_all, dtype=np.uint64).reshape(n_jobs),
                     feat_any=np.array(feat_any, dtype=np.uint64).reshape(n_jobs),
                     exclusive=np.array(exclusive, dtype=np.uint8).reshape(n_jobs))
    return dict(
        **extra,
        free=np.array(free, dtype=np.int64).reshape(n_nodes, n_res),
        usable=np.array(usable, dtype=np.uint8).reshape(n_nodes),
        membership=np.array(membership, dtype=np.uint8).reshape(len(membership), n_nodes),
        requests=np.array(requests, dtype=np.int64).reshape(n_jobs, n_res),
        n_nodes_req=np.array(n_nodes_req, dtype=np.int64).reshape(n_jobs),
        part_idx=np.array(part_idx, dtype=np.intp).reshape(n_jobs),
        duration_s=np.array(duration_s, dtype=np.int64).reshape(n_jobs),
        run_node=np.array(run_node, dtype=np.intp).reshape(n_pairs),
        run_end=np.array(run_end, dtype=np.int64).reshape(n_pairs),
        run_alloc=np.array(run_alloc, dtype=np.int64).reshape(n_pairs, n_res),
    )


@st.composite
def scenarios(draw):
    """A random cluster (0-8 nodes, 1-2 partitions), running allocations that end
    within 60 s (some overdue, some unlimited) and a queue of 0-14 jobs; sometimes
    with further resource columns, node features (3 bits) and exclusive jobs."""
    n_nodes = draw(st.integers(0, 8))
    n_parts = draw(st.integers(1, 2))
    n_jobs = draw(st.integers(0, 14))
    n_res = N_RES + draw(st.integers(0, 2))
    row = lambda hi: st.lists(st.integers(0, hi), min_size=n_res, max_size=n_res)  # noqa: E731
    free = draw(st.lists(row(8), min_size=n_nodes, max_size=n_nodes))
    usable = draw(st.lists(st.booleans(), min_size=n_nodes, max_size=n_nodes))
    membership = draw(st.lists(st.lists(st.booleans(), min_size=n_nodes, max_size=n_nodes),
                               min_size=n_parts, max_size=n_parts))
    n_pairs = draw(st.integers(0, 12)) if n_nodes else 0
    run_node = draw(st.lists(st.integers(0, max(n_nodes - 1, 0)), min_size=n_pairs, max_size=n_pairs))
    ends = st.one_of(st.integers(NOW - 5, NOW + 60), st.just(bf.INF))
    run_end = draw(st.lists(ends, min_size=n_pairs, max_size=n_pairs))
    run_alloc = draw(st.lists(row(6), min_size=n_pairs, max_size=n_pairs))
    requests = draw(st.lists(row(8), min_size=n_jobs, max_size=n_jobs))
    n_nodes_req = draw(st.lists(st.integers(1, 3), min_size=n_jobs, max_size=n_jobs))
    part_idx = draw(st.lists(st.integers(0, n_parts - 1), min_size=n_jobs, max_size=n_jobs))
    durations = st.one_of(st.integers(1, 60), st.just(bf.INF))
    duration_s = draw(st.lists(durations, min_size=n_jobs, max_size=n_jobs))
    depth = draw(st.sampled_from(DEPTHS))
    filters = None
    if draw(st.booleans()):
        bits = st.integers(0, 7)
        filters = (draw(st.lists(bits, min_size=n_nodes, max_size=n_nodes)),
                   draw(st.lists(bits, min_size=n_jobs, max_size=n_jobs)),
                   draw(st.lists(bits, min_size=n_jobs, max_size=n_jobs)),
                   draw(st.lists(st.sampled_from((0, 0, 1)), min_size=n_jobs, max_size=n_jobs)))
    return make_inputs(free, usable, membership, requests, n_nodes_req, part_idx, duration_s,
                       run_node, run_end, run_alloc, n_res=n_res, filters=filters), depth


def random_inputs(rng, *, n_nodes, n_jobs, n_parts, n_pairs, n_res=N_RES, with_filters=False):
    """Seeded random case, larger than hypothesis draws."""
    filters = None
    if with_filters:
        filters = (rng.integers(0, 16, size=n_nodes), rng.integers(0, 4, size=n_jobs) * (rng.random(n_jobs) < 0.5),
                   rng.integers(0, 16, size=n_jobs) * (rng.random(n_jobs) < 0.3), rng.random(n_jobs) < 0.2)
    return make_inputs(
        rng.integers(0, 16, size=(n_nodes, n_res)), rng.random(n_nodes) < 0.9,
        rng.random((n_parts, n_nodes)) < 0.7, rng.integers(0, 24, size=(n_jobs, n_res)),
        rng.integers(1, 5, size=n_jobs), rng.integers(0, n_parts, size=n_jobs),
        rng.integers(1, 500, size=n_jobs), rng.integers(0, n_nodes, size=n_pairs),
        rng.integers(NOW - 10, NOW + 400, size=n_pairs), rng.integers(0, 12, size=(n_pairs, n_res)),
        n_res=n_res, filters=filters)


def run(args, depth, impl=bf):
    """(status, start, offsets, nodes) of a pass without limits or estimates."""
    return run_full(args, depth, impl)[:4]


def run_full(args, depth, impl=bf, **options):
    """(status, start, offsets, nodes, estimated); `options`: limits=, estimate_depth=."""
    extra = {k: v for k, v in args.items() if k not in ("free", "usable", "shape_idx")}
    if "shape_idx" in args:
        extra["shape_idx"] = args["shape_idx"]
    return tuple(impl.backfill(args["free"], args["usable"], now=NOW, reservation_depth=depth, **extra, **options))


def assert_matches_oracle(args, depth):
    status, start, offsets, nodes = run(args, depth)
    ref = tuple(run(args, depth, backfill_ref))
    assert status.dtype == np.int64 and start.dtype == np.int64 and nodes.dtype == np.intp
    assert (status.tolist(), start.tolist(), offsets.tolist(), nodes.tolist()) == ref


def assert_invariants(args, depth, result):
    """Over time, no node gives more than it has: running jobs hold their units until
    their expected end, started and reserved jobs take theirs over [start, start + limit)
    (an exclusive job all of the node, so nothing overlaps it); nodes have the features asked."""
    status, start, offsets, nodes = result
    n_jobs = len(args["requests"])
    assert set(status.tolist()) <= {bf.STARTED, bf.BACKFILLED, bf.RESOURCES, bf.PRIORITY}
    plan = backfill_ref.Plan(args["free"], args["run_node"], args["run_end"], args["run_alloc"], NOW)
    for j in range(n_jobs):
        chosen = nodes[offsets[j]:offsets[j + 1]].tolist()
        if start[j] < 0:
            assert chosen == [-1] * int(args["n_nodes_req"][j])
            continue
        assert status[j] in ((bf.STARTED, bf.BACKFILLED) if start[j] == NOW else (bf.RESOURCES,))
        assert len(set(chosen)) == len(chosen)
        end = min(int(start[j]) + int(args["duration_s"][j]), bf.INF)
        is_exclusive = "exclusive" in args and bool(args["exclusive"][j])
        ask = backfill_ref.Ask(plan, args["requests"][j].tolist(), is_exclusive)
        for node_idx in chosen:
            assert args["usable"][node_idx] and args["membership"][args["part_idx"][j], node_idx]
            if "node_features" in args:
                assert backfill_ref.has_features(int(args["node_features"][node_idx]), int(args["feat_all"][j]),
                                                 int(args["feat_any"][j]))
            plan.place(node_idx, ask.on(node_idx), int(start[j]), end)
    for node_idx in range(len(args["free"])):
        for t in {NOW} | plan.breakpoints(node_idx):
            assert min(plan.available(node_idx, t)) >= 0, f"node {node_idx} over-allocated at t={t}"
    if depth == 0:
        assert bf.BACKFILLED not in status.tolist()


# ---------------------------------------------------------------- kernel vs oracle

def test_status_codes_match_the_oracle_and_fit():
    assert (bf.STARTED, bf.RESOURCES, bf.PRIORITY, bf.BACKFILLED) == (
        backfill_ref.STARTED, backfill_ref.RESOURCES, backfill_ref.PRIORITY, backfill_ref.BACKFILLED)
    assert (bf.STARTED, bf.RESOURCES, bf.PRIORITY) == (fit.STARTED, fit.RESOURCES, fit.PRIORITY)
    assert bf.INF == backfill_ref.INF


@PROPERTY_SETTINGS
@given(scenarios())
def test_backfill_agrees_with_oracle_on_random_queues(scenario):
    assert_matches_oracle(*scenario)


@pytest.mark.parametrize("seed", range(30))
def test_backfill_agrees_with_oracle_on_seeded_larger_clusters(seed):
    rng = np.random.default_rng(seed)
    args = random_inputs(rng, n_nodes=int(rng.integers(1, 30)), n_jobs=int(rng.integers(1, 60)),
                         n_parts=int(rng.integers(1, 3)), n_pairs=int(rng.integers(0, 60)),
                         n_res=N_RES + seed % 3, with_filters=seed % 2 == 1)
    for depth in DEPTHS:
        assert_matches_oracle(args, depth)
        assert_invariants(args, depth, run(args, depth))


# ---------------------------------------------------------------- invariants

@PROPERTY_SETTINGS
@given(scenarios())
def test_backfill_never_over_allocates_nor_delays_a_reservation(scenario):
    args, depth = scenario
    assert_invariants(args, depth, run(args, depth))


@PROPERTY_SETTINGS
@given(scenarios())
def test_reserved_start_is_what_the_queue_ahead_allows(scenario):
    """A reservation is placed as if the lower-priority jobs did not exist: backfilling them
    cannot push it later."""
    args, depth = scenario
    status, start, _, _ = run(args, depth)
    for j in np.flatnonzero((status == bf.RESOURCES) & (start > NOW))[:3]:
        head = {k: (v[: j + 1] if k in JOB_ARRAYS else v)
                for k, v in args.items()}
        assert run(head, depth)[1][j] == start[j]


@PROPERTY_SETTINGS
@given(scenarios())
def test_backfill_is_deterministic_and_leaves_inputs_unmodified(scenario):
    args, depth = scenario
    copies = {k: v.copy() for k, v in args.items()}
    first, second = run(args, depth), run(args, depth)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    for k, v in args.items():
        assert np.array_equal(v, copies[k])


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_given_shape_index_changes_nothing(scenario):
    """The shape index only lets the pass skip jobs known not to fit: one shape per job
    (nothing shared) or one per request size plays the same."""
    args, depth = scenario
    expected = run(args, depth)
    n_jobs = len(args["requests"])
    for shape_idx in (np.arange(n_jobs, dtype=np.intp), np.arange(n_jobs, dtype=np.intp)[::-1].copy() * 7):
        for a, b in zip(expected, run({**args, "shape_idx": shape_idx}, depth)):
            assert np.array_equal(a, b)


@PROPERTY_SETTINGS
@given(scenarios())
def test_depth_zero_is_first_fit(scenario):
    args, _ = scenario
    assume("exclusive" not in args)   # first_fit knows neither features nor exclusive jobs
    status, start, offsets, nodes = run(args, 0)
    ff_status, ff_offsets, ff_nodes = fit.first_fit(args["free"], args["usable"], args["membership"],
                                                    args["requests"], args["n_nodes_req"], args["part_idx"])
    assert status.tolist() == ff_status.tolist()
    assert nodes.tolist() == ff_nodes.tolist() and offsets.tolist() == ff_offsets.tolist()


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_blocked_job_gets_a_planned_start_under_conservative(scenario):
    args, _ = scenario
    assume((args["duration_s"] < bf.INF).all())  # a job behind an unlimited one may never start
    status, start, _, _ = run(args, bf.CONSERVATIVE)
    for j in np.flatnonzero(start < 0):
        allowed = args["usable"] & args["membership"][args["part_idx"][j]]
        capacity = args["free"] + 0
        for k in range(len(args["run_node"])):
            if args["run_end"][k] < bf.INF:
                capacity[args["run_node"][k]] += args["run_alloc"][k]
        fitting = (capacity >= args["requests"][j]).all(axis=1) & (allowed == 1)
        if "exclusive" in args:
            fitting &= np.array([backfill_ref.has_features(int(f), int(args["feat_all"][j]), int(args["feat_any"][j]))
                                 for f in args["node_features"]], dtype=bool)
            if args["exclusive"][j]:   # the whole node must come free: no unlimited job holding anything
                forever = {int(args["run_node"][k]) for k in range(len(args["run_node"]))
                           if args["run_end"][k] >= bf.INF and args["run_alloc"][k].any()}
                fitting &= np.array([n not in forever for n in range(len(fitting))], dtype=bool)
        assert fitting.sum() < args["n_nodes_req"][j], "a job that could run some day got no planned start"


# ---------------------------------------------------------------- named edge cases

def one_node(free, runs=(), jobs=()):
    """One node; runs as (end, cpus); jobs as (cpus, duration)."""
    return make_inputs([[free, 0, 0]], [1], [[1]], [[c, 0, 0] for c, _ in jobs], [1] * len(jobs),
                       [0] * len(jobs), [d for _, d in jobs], [0] * len(runs), [e for e, _ in runs],
                       [[c, 0, 0] for _, c in runs])


def test_worked_example_of_the_module_docstring():
    args = one_node(1, runs=[(NOW + 100, 3)], jobs=[(4, 50), (1, 100), (1, 200)])
    status, start, _, _ = run(args, 1)
    assert status.tolist() == [bf.RESOURCES, bf.BACKFILLED, bf.PRIORITY]
    assert start.tolist() == [NOW + 100, NOW, -1]
    status, start, _, _ = run(args, bf.CONSERVATIVE)
    assert start.tolist() == [NOW + 100, NOW, NOW + 150]
    status, start, _, _ = run(args, 0)
    assert status.tolist() == [bf.RESOURCES, bf.PRIORITY, bf.PRIORITY]


@pytest.mark.parametrize("depth", DEPTHS)
def test_zero_nodes_and_zero_jobs(depth):
    empty = make_inputs([], [], [[]], [], [], [], [], [], [], [])
    status, start, offsets, nodes = run(empty, depth)
    assert status.size == start.size == nodes.size == 0 and offsets.tolist() == [0]
    no_nodes = make_inputs([], [], [[]], [[1, 0, 0]], [1], [0], [10], [], [], [])
    assert run(no_nodes, depth)[0].tolist() == [bf.RESOURCES]


@pytest.mark.parametrize("depth", DEPTHS)
def test_job_larger_than_the_cluster_never_gets_a_planned_start(depth):
    args = one_node(4, jobs=[(5, 10), (1, 10)])
    status, start, _, _ = run(args, depth)
    assert start[0] == -1 and status[0] == bf.RESOURCES
    assert status[1] == (bf.PRIORITY if depth == 0 else bf.BACKFILLED)


def test_drained_node_is_not_used_nor_reserved():
    args = make_inputs([[4, 0, 0], [4, 0, 0]], [0, 1], [[1, 1]], [[4, 0, 0], [4, 0, 0]], [1, 1], [0, 0],
                       [10, 10], [], [], [])
    status, start, _, nodes = run(args, 1)
    assert nodes.tolist() == [1, 1] and start.tolist() == [NOW, NOW + 10]


def test_all_ties_start_in_the_given_order():
    args = one_node(2, jobs=[(1, 10)] * 4)
    status, start, _, _ = run(args, 1)
    assert status.tolist() == [bf.STARTED, bf.STARTED, bf.RESOURCES, bf.PRIORITY]
    assert start.tolist() == [NOW, NOW, NOW + 10, -1]


def test_unlimited_running_job_never_returns_its_units():
    args = one_node(0, runs=[(bf.INF, 4)], jobs=[(1, 10)])
    assert run(args, bf.CONSERVATIVE)[1].tolist() == [-1]


def test_overdue_running_job_is_expected_to_end_next_second():
    args = one_node(0, runs=[(NOW - 50, 4)], jobs=[(1, 10)])
    assert run(args, 1)[1].tolist() == [NOW + 1]


def test_wrapper_rejects_bad_arguments():
    args = one_node(4, jobs=[(1, 10)])
    with pytest.raises(ValueError, match="requests"):
        run({**args, "requests": args["requests"].astype(np.int32)}, 1)
    with pytest.raises(TypeError):
        run({**args, "duration_s": [10]}, 1)
    with pytest.raises(ValueError, match="at least 1 s"):
        run({**args, "duration_s": np.zeros(1, dtype=np.int64)}, 1)
    with pytest.raises(ValueError, match="at least one node"):
        run({**args, "n_nodes_req": np.zeros(1, dtype=np.int64)}, 1)
    with pytest.raises(ValueError, match="shape_idx"):
        run({**args, "shape_idx": np.array([-1], dtype=np.intp)}, 1)
    with pytest.raises(ValueError, match="reservation_depth"):
        run(args, -1)
    with pytest.raises(ValueError, match="run_node"):
        run({**one_node(4, runs=[(NOW + 1, 1)]), "run_node": np.array([3], dtype=np.intp)}, 1)


# ---------------------------------------------------------------- features, exclusive, further resources

def one_job_on(free, *, node_features, feat_all=0, feat_any=0, exclusive=0, request=(1, 0, 0)):
    n_nodes = len(free)
    return make_inputs(free, [1] * n_nodes, [[1] * n_nodes], [request], [1], [0], [10], [], [], [],
                       n_res=len(free[0]), filters=(node_features, [feat_all], [feat_any], [exclusive]))


def test_required_features_pick_the_node_that_has_them():
    free = [[4, 0, 0]] * 3
    for feat_all, feat_any, expected in ((0b10, 0, 1), (0b11, 0, 2), (0, 0b101, 0), (0b100, 0b1, -1)):
        args = one_job_on(free, node_features=[0b001, 0b010, 0b011], feat_all=feat_all, feat_any=feat_any)
        for depth in DEPTHS:
            status, start, _, nodes = run(args, depth)
            assert nodes.tolist() == [expected]
            assert_matches_oracle(args, depth)


def test_exclusive_job_waits_for_an_empty_node_and_takes_all_of_it():
    # node 0 has 3 of 4 CPUs free (a job holds 1 until t = NOW + 50); node 1 is drained of nothing but busy forever
    args = make_inputs([[3, 0, 0], [3, 0, 0]], [1, 1], [[1, 1]], [[1, 0, 0], [1, 0, 0]], [1, 1], [0, 0], [10, 10],
                       [0, 1], [NOW + 50, bf.INF], [[1, 0, 0], [1, 0, 0]], filters=([0, 0], [0, 0], [0, 0], [1, 0]))
    status, start, _, nodes = run(args, 1)
    assert start.tolist() == [NOW + 50, NOW] and nodes.tolist() == [0, 0]   # the second backfills before it
    assert_matches_oracle(args, 1)


def test_further_resource_columns_are_counted_like_cpus():
    free = [[4, 0, 0, 1], [4, 0, 0, 2]]         # a fourth column: e.g. nvme GRES
    args = one_job_on(free, node_features=[0, 0], request=(1, 0, 0, 2))
    assert run(args, 1)[3].tolist() == [1]
    assert_matches_oracle(args, 1)


# ---------------------------------------------------------------- limits and estimates

@st.composite
def limit_groups(draw, n_jobs, *, strict=False):
    """Random limit groups for a queue of n_jobs: 0-4 groups (free now -2..6), running usage that
    returns within 60 s (or never), and each job's memberships (amount 0-3, binding or not).
    `strict`: at least one group, none over its limit now, every membership binding."""
    n_groups = draw(st.integers(1 if strict else 0, 4))
    if n_groups == 0:
        return None
    grp_free = draw(st.lists(st.integers(0 if strict else -2, 6), min_size=n_groups, max_size=n_groups))
    n_pairs = draw(st.integers(0, 6))
    grun_group = draw(st.lists(st.integers(0, n_groups - 1), min_size=n_pairs, max_size=n_pairs))
    grun_end = draw(st.lists(st.one_of(st.integers(NOW - 5, NOW + 60), st.just(bf.INF)),
                             min_size=n_pairs, max_size=n_pairs))
    grun_amt = draw(st.lists(st.integers(0, 4), min_size=n_pairs, max_size=n_pairs))
    job_off, job_grp, job_amt, job_binds = [0], [], [], []
    for _ in range(n_jobs):
        members = draw(st.lists(st.integers(0, n_groups - 1), unique=True, max_size=n_groups))
        for g in members:
            job_grp.append(g)
            job_amt.append(draw(st.integers(0, 3)))
            job_binds.append(1 if strict else draw(st.sampled_from((1, 1, 0))))
        job_off.append(len(job_grp))
    return limit_arrays(grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds)


def limit_arrays(grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds):
    return (np.array(grp_free, dtype=np.int64), np.array(grun_group, dtype=np.intp),
            np.array(grun_end, dtype=np.int64), np.array(grun_amt, dtype=np.int64),
            np.array(job_off, dtype=np.intp), np.array(job_grp, dtype=np.intp),
            np.array(job_amt, dtype=np.int64), np.array(job_binds, dtype=np.uint8))


@st.composite
def limited_scenarios(draw, *, strict=False):
    args, depth = draw(scenarios())
    n_jobs = args["requests"].shape[0]
    return args, depth, draw(limit_groups(n_jobs, strict=strict)), draw(st.sampled_from((0, 1, 3, n_jobs)))


@PROPERTY_SETTINGS
@given(limited_scenarios(), st.booleans())
def test_limits_estimates_and_forecasts_agree_with_oracle(scenario, forecast):
    args, depth, limits, estimate_depth = scenario
    status, start, offsets, nodes, estimated = run_full(args, depth, limits=limits, estimate_depth=estimate_depth,
                                                        forecast=forecast)
    ref = run_full(args, depth, backfill_ref, limits=limits, estimate_depth=estimate_depth, forecast=forecast)
    assert estimated.dtype == np.uint8
    assert (status.tolist(), start.tolist(), offsets.tolist(), nodes.tolist(), estimated.tolist()) == ref
    if not forecast:
        assert 2 not in estimated.tolist()


@PROPERTY_SETTINGS
@given(limited_scenarios(strict=True))
def test_no_plan_breaks_a_limit_at_any_instant(scenario):
    """Where every member is bound by its group's limit and the limit is not over already, what
    started, reserved and estimated jobs hold there never exceeds it, at any time."""
    args, depth, limits, estimate_depth = scenario
    grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds = limits
    status, start, _, _, _ = run_full(args, depth, limits=limits, estimate_depth=estimate_depth, forecast=True)
    durations = np.minimum(args["duration_s"], bf.INF)
    placed = [(j, int(start[j]), min(int(start[j]) + int(durations[j]), bf.INF)) for j in range(len(start))
              if start[j] >= 0]
    times = {NOW} | {t for _, t0, t1 in placed for t in (t0, t1)} | {max(int(e), NOW + 1) for e in grun_end}
    for g in range(grp_free.shape[0]):
        for t in sorted(times):
            free = int(grp_free[g]) + sum(int(a) for grp, e, a in zip(grun_group, grun_end, grun_amt)
                                          if grp == g and max(int(e), NOW + 1) <= t)
            held = sum(int(job_amt[k]) for j, t0, t1 in placed if t0 <= t < t1
                       for k in range(job_off[j], job_off[j + 1]) if job_grp[k] == g)
            assert held <= free, (g, t)


def test_a_job_held_by_a_limit_takes_no_reservation_and_is_estimated_after_it():
    """One free node; job 0 is held by a limit (one unit, held by a running job until NOW + 50):
    it gets no reservation and blocks nothing, job 1 starts, and job 0's estimate is NOW + 50."""
    args = make_inputs([[4, 4096, 0]], [1], [[1]], [[1, 1, 0], [1, 1, 0]], [1, 1], [0, 0], [100, 100],
                       [], [], [])
    limits = limit_arrays([0], [0], [NOW + 50], [1], [0, 1, 1], [0], [1], [1])
    status, start, _, _, estimated = run_full(args, 1, limits=limits, estimate_depth=2)
    assert status.tolist() == [bf.LIMIT, bf.STARTED]
    assert start.tolist() == [NOW + 50, NOW] and estimated.tolist() == [1, 0]
    status, start, _, _, estimated = run_full(args, 1, limits=limits)
    assert start.tolist() == [-1, NOW] and estimated.tolist() == [0, 0]


def test_estimates_plan_every_waiting_job_after_those_ahead():
    """One node of 4 CPUs busy until NOW + 100; three 4-CPU jobs of 100 s: EASY reserves the
    first at NOW + 100; the estimates put the others at NOW + 200 and NOW + 300."""
    args = make_inputs([[0, 4096, 0]], [1], [[1]], [[4, 1, 0]] * 3, [1] * 3, [0] * 3, [100] * 3,
                       [0], [NOW + 100], [[4, 0, 0]])
    status, start, _, _, estimated = run_full(args, 1, estimate_depth=3)
    assert start.tolist() == [NOW + 100, NOW + 200, NOW + 300] and estimated.tolist() == [0, 1, 1]


def test_forecasts_pool_a_partition_in_order_beyond_the_estimates():
    """Two 4-CPU nodes, each busy until NOW + 100 (node 0) and NOW + 200 (node 1); four jobs of
    100 s: two 1-node 4-CPU jobs, a 2-node 4-CPU job, a 1-CPU job. EASY reserves job 0 on node 0
    at NOW + 100; one estimate puts job 1 on node 1 at NOW + 200. The forecasts pool the nodes
    (after both plans: 0 CPUs until NOW + 200, 4 until NOW + 300, 8 after) and place job 2's
    8 CPUs at NOW + 300; job 3 may start no earlier than that, and the pool is full until
    NOW + 400. A job that fits on no node (5 CPUs) gets no forecast."""
    args = make_inputs([[0, 4096, 0], [0, 4096, 0]], [1, 1], [[1, 1]],
                       [[4, 1, 0], [4, 1, 0], [4, 1, 0], [1, 1, 0], [5, 1, 0]], [1, 1, 2, 1, 1], [0] * 5,
                       [100] * 5, [0, 1], [NOW + 100, NOW + 200], [[4, 0, 0], [4, 0, 0]])
    status, start, offsets, nodes, estimated = run_full(args, 1, estimate_depth=1, forecast=True)
    assert start.tolist() == [NOW + 100, NOW + 200, NOW + 300, NOW + 400, -1]
    assert estimated.tolist() == [0, 1, 2, 2, 0]
    assert nodes[offsets[2]:offsets[4]].tolist() == [-1, -1, -1]   # (a forecast names no nodes)
    ref = run_full(args, 1, backfill_ref, estimate_depth=1, forecast=True)
    assert (status.tolist(), start.tolist(), offsets.tolist(), nodes.tolist(), estimated.tolist()) == ref


def test_an_estimate_budget_leaves_the_rest_to_forecasts():
    """A budget of a nanosecond ends the estimates at once: every waiting job after the reserved
    one is forecast instead (the only way a pass's outcome depends on time)."""
    args = make_inputs([[0, 4096, 0]], [1], [[1]], [[4, 1, 0]] * 3, [1] * 3, [0] * 3, [100] * 3,
                       [0], [NOW + 100], [[4, 0, 0]])
    _, start, _, _, estimated = run_full(args, 1, estimate_depth=3, estimate_budget_s=1e-9, forecast=True)
    assert start.tolist() == [NOW + 100, NOW + 200, NOW + 300] and estimated.tolist() == [0, 2, 2]


def test_a_window_of_some_cores_leaves_the_rest_of_its_node_usable():
    """One free 4-CPU node, 2 of its CPUs reserved over [NOW, NOW + 100) for other jobs: a 2-CPU
    job of 100 s starts now beside them, a 3-CPU job at NOW + 100. A window of the whole node
    holds both back: NOW + 100, then NOW + 200."""
    args = make_inputs([[4, 4096, 0]], [1], [[1]], [[2, 1, 0], [3, 1, 0]], [1, 1], [0, 0], [100, 500], [], [], [])
    window = (np.array([0], dtype=np.intp), np.array([NOW], dtype=np.int64), np.array([NOW + 100], dtype=np.int64))
    cores = window + (np.array([[2]], dtype=np.int64),)   # (the CPU column only)
    _, start, _, _, _ = run_full(args, 1, blocks=cores, estimate_depth=2)
    assert start.tolist() == [NOW, NOW + 100]
    assert run_full(args, 1, backfill_ref, blocks=cores, estimate_depth=2)[1] == [NOW, NOW + 100]
    _, start, _, _, _ = run_full(args, 1, blocks=window, estimate_depth=2)
    assert start.tolist() == [NOW + 100, NOW + 200]


@st.composite
def blocked_scenarios(draw):
    args, depth = draw(scenarios())
    n_nodes = args["free"].shape[0]
    n_blocks = draw(st.integers(0, 3)) if n_nodes else 0
    nodes = draw(st.lists(st.integers(0, max(n_nodes - 1, 0)), min_size=n_blocks, max_size=n_blocks))
    starts = draw(st.lists(st.integers(NOW - 10, NOW + 60), min_size=n_blocks, max_size=n_blocks))
    lengths = draw(st.lists(st.integers(1, 60), min_size=n_blocks, max_size=n_blocks))
    blocks = (np.array(nodes, dtype=np.intp), np.array(starts, dtype=np.int64),
              np.array([s + n for s, n in zip(starts, lengths)], dtype=np.int64))
    if draw(st.booleans()):   # (some units of the node only, a reservation of cores; or, -1s, all of it)
        n_cols = draw(st.integers(1, args["free"].shape[1]))
        units = draw(st.lists(st.one_of(st.lists(st.integers(0, 8), min_size=n_cols, max_size=n_cols),
                                        st.just([-1] * n_cols)), min_size=n_blocks, max_size=n_blocks))
        blocks += (np.array(units, dtype=np.int64).reshape(n_blocks, n_cols),)
    n_jobs = args["requests"].shape[0]
    no_reserve = np.array(draw(st.lists(st.sampled_from((0, 0, 1)), min_size=n_jobs, max_size=n_jobs)),
                          dtype=np.uint8)
    return args, depth, blocks, draw(st.sampled_from((0, 3))), no_reserve, draw(st.booleans())


@PROPERTY_SETTINGS
@given(blocked_scenarios())
def test_blocked_windows_and_no_reserve_agree_with_oracle_and_windows_are_never_entered(scenario):
    """A node's blocked window (a reservation the pass's jobs are not in) takes no job: whatever
    starts, reserves or is estimated there ends by the window's start or starts at its end. A
    NoReserve job blocked takes no reservation (the oracle says the same)."""
    args, depth, blocks, estimate_depth, no_reserve, forecast = scenario
    status, start, offsets, nodes, estimated = run_full(args, depth, blocks=blocks, estimate_depth=estimate_depth,
                                                        no_reserve=no_reserve, forecast=forecast)
    ref = run_full(args, depth, backfill_ref, blocks=blocks, estimate_depth=estimate_depth, no_reserve=no_reserve,
                   forecast=forecast)
    for j in range(len(start)):
        if no_reserve[j] and status[j] == bf.RESOURCES:
            assert start[j] < 0 or estimated[j]
    assert (status.tolist(), start.tolist(), offsets.tolist(), nodes.tolist(), estimated.tolist()) == ref
    durations = np.minimum(args["duration_s"], bf.INF)
    for j in range(len(start)):
        if start[j] < 0:
            continue
        t0, t1 = int(start[j]), min(int(start[j]) + int(durations[j]), bf.INF)
        for node_idx in nodes[offsets[j]:offsets[j + 1]].tolist():
            for b_node, b0, b1 in zip(*blocks[:3]):
                if len(blocks) == 3 and b_node == node_idx and b1 > NOW:   # (a window of the whole node)
                    assert t1 <= max(int(b0), NOW) or t0 >= int(b1), (j, node_idx, t0, t1, b0, b1)
