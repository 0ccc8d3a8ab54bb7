"""jem._core.fairtree: the module docstring's example and the wrapper's checks. Agreement with
the plain-Python oracle (tests/oracle/priority_ref.py) on random trees is in
tests/unit/test_priority_oracle.py, through jem.scheduler.fairshare, which calls this kernel."""

import numpy as np
import pytest

from jem._core.fairtree import fair_tree_factors


def tree():
    """root -> A (70 shares), B (30); A -> user a, B -> user b; A used 60 %, B 40 %."""
    return dict(child_start=np.array([0, 2, 3, 4, 4, 4], dtype=np.intp), child_list=np.arange(1, 5, dtype=np.intp),
                shares=np.array([1, 70, 30, 1, 1], dtype=np.int64), is_user=np.array([0, 0, 0, 1, 1], dtype=np.uint8),
                name_rank=np.array([4, 0, 1, 2, 3], dtype=np.intp),
                usage=np.array([0, 0, 0, 60.0, 40.0], dtype=np.float64))


def test_the_account_under_its_share_ranks_first():
    factors = fair_tree_factors(**tree())
    assert np.isnan(factors[:3]).all() and factors[3:].tolist() == [1.0, 0.5]


def test_users_without_usage_share_the_top_rank():
    args = tree()
    args["usage"][:] = 0.0
    assert fair_tree_factors(**args)[3:].tolist() == [1.0, 0.5]   # accounts still ordered: A (name) first


def test_wrapper_rejects_arrays_that_disagree():
    args = tree()
    with pytest.raises(ValueError, match="usage"):
        fair_tree_factors(**{**args, "usage": args["usage"].astype(np.float32)})
    with pytest.raises(ValueError, match="disagree"):
        fair_tree_factors(**{**args, "child_list": args["child_list"][:2].copy()})
