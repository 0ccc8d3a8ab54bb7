"""Multifactor priority and both fair-share algorithms against their plain-Python oracle
(tests/oracle/priority_ref.py), on random account trees, usages and queues (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem.model.config import AccountConfig, PriorityConfig
from jem.scheduler.fairshare import user_factors
from jem.scheduler.priority import multifactor_priority
from tests.oracle import priority_ref

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=200, deadline=None)
ACCOUNT_NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def trees(draw):
    """Up to 5 accounts, each under root or an earlier account, 0-100 shares; 1-8 users
    with usage (ties and zero usage are common)."""
    n = draw(st.integers(1, 5))
    accounts = []
    for i in range(n):
        parent = draw(st.sampled_from(["root"] + ACCOUNT_NAMES[:i]))
        accounts.append((ACCOUNT_NAMES[i], draw(st.integers(1, 100)), parent))
    n_users = draw(st.integers(1, 8))
    users = {(draw(st.sampled_from(ACCOUNT_NAMES[: n + 1])), f"u{draw(st.integers(0, 5))}") for _ in range(n_users)}
    usage = {u: float(draw(st.sampled_from([0, 0, 10, 10, 25, 100, 1000]))) for u in users}
    usage = {u: v for u, v in usage.items() if v > 0}
    return accounts, usage, users


def as_config(accounts):
    return tuple(AccountConfig(name, shares, parent) for name, shares, parent in accounts)


@PROPERTY_SETTINGS
@given(trees())
def test_fair_tree_agrees_with_oracle(tree):
    accounts, usage, users = tree
    assert user_factors("fair_tree", as_config(accounts), usage, users) == priority_ref.fair_tree(accounts, usage, users)


@PROPERTY_SETTINGS
@given(trees())
def test_classic_agrees_with_oracle(tree):
    accounts, usage, users = tree
    got = user_factors("classic", as_config(accounts), usage, users)
    expected = priority_ref.classic(accounts, usage, users)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12)


@PROPERTY_SETTINGS
@given(trees())
def test_fair_tree_factors_are_ranks_in_zero_one(tree):
    accounts, usage, users = tree
    factors = user_factors("fair_tree", as_config(accounts), usage, users)
    assert max(factors.values()) == 1.0 and all(0.0 < f <= 1.0 for f in factors.values())


@PROPERTY_SETTINGS
@given(st.data())
def test_multifactor_agrees_with_oracle(data):
    n = data.draw(st.integers(0, 30))
    weights = {k: data.draw(st.integers(0, 100_000)) for k in ("weight_age", "weight_fairshare", "weight_job_size",
                                                                "weight_partition", "weight_qos")}
    weights["max_age_s"] = data.draw(st.integers(1, 30 * 86400))
    ints = lambda lo, hi: data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))  # noqa: E731
    fracs = lambda: data.draw(st.lists(st.sampled_from([0.0, 0.125, 0.5, 1 / 3, 1.0]), min_size=n, max_size=n))  # noqa: E731
    age, cpus, nice, fairshare, partition = ints(-100, 40 * 86400), ints(1, 5000), ints(-1000, 10**6), fracs(), fracs()
    qos = fracs()
    cluster_cpus = data.draw(st.integers(1, 4096))
    got = multifactor_priority(PriorityConfig(**weights), age_s=np.array(age, dtype=np.float64),
                               fairshare=np.array(fairshare), cpus=np.array(cpus, dtype=np.int64),
                               cluster_cpus=cluster_cpus, partition_factor=np.array(partition),
                               nice=np.array(nice, dtype=np.int64), qos_factor=np.array(qos))
    assert got.dtype == np.int64
    assert got.tolist() == priority_ref.multifactor(weights, age, fairshare, cpus, cluster_cpus, partition, nice,
                                                    qos)


@PROPERTY_SETTINGS
@given(st.lists(trees(), min_size=1, max_size=4), st.sampled_from(["fair_tree", "classic"]))
def test_factor_cache_answers_like_user_factors_call_after_call(calls, algorithm):
    """Successive calls with one account tree and changing usage and users (the simulator's pattern)."""
    from jem.scheduler.fairshare import FactorCache
    accounts = as_config(calls[0][0])
    cache = FactorCache(algorithm, accounts)
    for _, usage, users in calls + calls[:1]:
        assert cache.factors(usage, users) == user_factors(algorithm, accounts, usage, users)
