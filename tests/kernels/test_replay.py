"""jem._core.replay: the C event loop of `jem sim`, against two oracles on random traces:
the textbook FCFS/EASY simulator (tests/oracle/easy_ref.py), and, for every depth, a plain
Python event loop that plans each pass with tests/oracle/backfill_ref.py."""

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem._core import backfill as bf
from jem._core.replay import replay
from tests.oracle import backfill_ref, easy_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)


@st.composite
def traces(draw):
    """A machine of 1-12 processors and 0-40 jobs arriving in bursts (ties are common)."""
    procs = draw(st.integers(1, 12))
    n = draw(st.integers(0, 40))
    gaps = draw(st.lists(st.sampled_from([0, 0, 1, 5, 30]), min_size=n, max_size=n))
    run = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    slack = draw(st.lists(st.sampled_from([0, 0, 1, 20, 100]), min_size=n, max_size=n))
    size = draw(st.lists(st.integers(1, procs), min_size=n, max_size=n))
    as_array = lambda xs: np.array(xs, dtype=np.int64).reshape(n)  # noqa: E731
    run_a = as_array(run)
    return procs, np.cumsum(as_array(gaps)), run_a, as_array(size), np.maximum(run_a + as_array(slack), 1)


def textbook(procs, submit, run, size, estimate, policy):
    jobs = [{"id": j, "index": j, "submit": int(submit[j]), "run": int(run[j]), "size": int(size[j]),
             "estimate": int(estimate[j])} for j in range(len(submit))]
    result = easy_ref.simulate_jobs(procs, jobs, policy)
    return [result[j][1] for j in range(len(submit))]


def per_pass_oracle(procs, submit, run, size, estimate, depth):
    """Completions, arrivals, one pass (skipped when no queued job fits), each pass by backfill_ref."""
    n, start = len(submit), [-1] * len(submit)
    queue, running, heap, free, arrived = [], {}, [], procs, 0
    while arrived < n or heap:
        now = min(int(submit[arrived]) if arrived < n else bf.INF, heap[0][0] if heap else bf.INF)
        while heap and heap[0][0] <= now:
            job = heapq.heappop(heap)[1]
            free += int(size[running.pop(job)])
        while arrived < n and submit[arrived] <= now:
            queue.append(arrived)
            arrived += 1
        if not queue or min(int(size[j]) for j in queue) > free:
            continue
        status, *_ = backfill_ref.backfill(
            [[free, 0, 0]], [1], membership=[[1]], requests=[[int(size[j]), 0, 0] for j in queue],
            n_nodes_req=[1] * len(queue), part_idx=[0] * len(queue), duration_s=[int(estimate[j]) for j in queue],
            run_node=[0] * len(running), run_end=[start[j] + int(estimate[j]) for j in running],
            run_alloc=[[int(size[j]), 0, 0] for j in running], now=now, reservation_depth=depth)
        waiting = []
        for job, st_ in zip(queue, status):
            if st_ in (bf.STARTED, bf.BACKFILLED):
                start[job] = now
                free -= int(size[job])
                running[job] = job
                heapq.heappush(heap, (now + int(run[job]), job))
            else:
                waiting.append(job)
        queue = waiting
    return start


@PROPERTY_SETTINGS
@given(traces(), st.sampled_from(["fcfs", "easy"]))
def test_replay_equals_the_textbook_simulator(trace, policy):
    procs, submit, run, size, estimate = trace
    starts = replay(submit, run, size, estimate, procs=procs, reservation_depth=0 if policy == "fcfs" else 1)
    assert starts.tolist() == textbook(procs, submit, run, size, estimate, policy)


@PROPERTY_SETTINGS
@given(traces(), st.sampled_from([0, 1, 2, bf.CONSERVATIVE]))
def test_replay_equals_a_loop_over_the_reference_pass(trace, depth):
    procs, submit, run, size, estimate = trace
    starts = replay(submit, run, size, estimate, procs=procs, reservation_depth=depth)
    assert starts.tolist() == per_pass_oracle(procs, submit, run, size, estimate, depth)
    assert (starts >= submit).all()


def test_empty_trace_and_a_job_of_the_whole_machine():
    empty = np.zeros(0, dtype=np.int64)
    assert replay(empty, empty, empty, empty, procs=4, reservation_depth=1).size == 0
    one = np.array([0, 0], dtype=np.int64)
    starts = replay(one, np.array([10, 10], dtype=np.int64), np.array([4, 4], dtype=np.int64),
                    np.array([10, 10], dtype=np.int64), procs=4, reservation_depth=1)
    assert starts.tolist() == [0, 10]


def test_replay_rejects_bad_traces():
    ok = np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError, match="sorted"):
        replay(ok[::-1].copy(), ok, ok + 1, ok + 1, procs=2, reservation_depth=1)
    with pytest.raises(ValueError, match="size"):
        replay(ok, ok, ok + 5, ok + 1, procs=2, reservation_depth=1)
    with pytest.raises(ValueError, match="int64"):
        replay(ok.astype(np.int32), ok, ok + 1, ok + 1, procs=2, reservation_depth=1)
    with pytest.raises(ValueError, match="procs"):
        replay(ok, ok, ok + 1, ok + 1, procs=0, reservation_depth=1)
