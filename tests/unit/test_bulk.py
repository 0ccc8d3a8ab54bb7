"""jem.scheduler.bulk: each sliced operation gives what its one-call counterpart gives, for
lengths on both sides of the slice size."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jem.scheduler import bulk

# lengths around 0, 1 and 2 slices, and a few in between
lengths = st.sampled_from([0, 1, 2, bulk.SLICE - 1, bulk.SLICE, bulk.SLICE + 1, 2 * bulk.SLICE + 7]) | \
    st.integers(min_value=0, max_value=3 * bulk.SLICE)


@st.composite
def int_lists(draw):
    n = draw(lengths)
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return np.random.default_rng(seed).integers(-2**62, 2**62, size=n).tolist()


@settings(max_examples=40, deadline=None)
@given(int_lists())
def test_sliced_operations_match_their_plain_counterparts(values):
    reduced = (lambda v: v % 1000)
    assert bulk.column(reduced, values, np.int64).tolist() == [reduced(v) for v in values]
    assert bulk.column(reduced, tuple(values), np.int64).dtype == np.int64
    assert bulk.to_array(values, np.int64).tolist() == values
    assert bulk.to_array(values, np.float64).tolist() == np.array(values, dtype=np.float64).tolist()
    assert bulk.to_list(np.array(values, dtype=np.int64)) == values
    assert bulk.mapped(reduced, values) == list(map(reduced, values))
    assert bulk.distinct(reduced, values) == set(map(reduced, values))
    assert bulk.listed(set(values)) == list(set(values))
    assert bulk.listed(iter(values)) == values
    assert bulk.sorted_ints(values) == sorted(values)
    assert bulk.sorted_ints(set(values)) == sorted(set(values))


def test_results_are_plain_python_values():
    """What the loop puts into jobs and dicts must be ints, not numpy scalars."""
    assert all(type(v) is int for v in bulk.to_list(np.arange(5, dtype=np.int64)))
    assert all(type(v) is int for v in bulk.sorted_ints({3, 1, 2}))
