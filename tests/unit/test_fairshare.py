"""jem.scheduler.fairshare and the multifactor priority: the worked examples of the
docstrings, Fair Tree's ordering and ties, the classic formula, usage decay, and the
sshare rows; jem.scheduler.priority's whole-queue computation."""

import math

import numpy as np
import pytest

from jem.model.config import AccountConfig, PriorityConfig
from jem.scheduler.fairshare import DEFAULT_ACCOUNT, Usage, share_rows, user_factors
from jem.scheduler.priority import multifactor_priority, queue_order

A70_B30 = (AccountConfig("A", 70), AccountConfig("B", 30))


def test_fair_tree_worked_example():
    factors = user_factors("fair_tree", A70_B30, {("A", "a1"): 60.0, ("B", "b1"): 40.0}, set())
    assert factors == {("A", "a1"): 1.0, ("B", "b1"): 0.5}


def test_fair_tree_ranks_every_user_of_a_better_account_above_the_others():
    usage = {("A", "a1"): 90.0, ("A", "a2"): 1.0, ("B", "b1"): 5.0, ("B", "b2"): 4.0}
    factors = user_factors("fair_tree", A70_B30, usage, set())
    # LF(A) = 0.7 / (91 / 100) < LF(B) = 0.3 / (9 / 100): B's users rank first
    assert min(factors[("B", "b1")], factors[("B", "b2")]) > max(factors[("A", "a1")], factors[("A", "a2")])
    assert factors[("A", "a2")] > factors[("A", "a1")]
    assert sorted(factors.values()) == [0.25, 0.5, 0.75, 1.0]


def test_fair_tree_users_without_usage_come_first_and_tie():
    factors = user_factors("fair_tree", (), {("x", "busy"): 10.0}, {("x", "idle1"), ("x", "idle2"), ("x", "busy")})
    assert factors[("x", "idle1")] == factors[("x", "idle2")] == 1.0
    assert factors[("x", "busy")] == pytest.approx(1 / 3)


def test_classic_formula():
    factors = user_factors("classic", A70_B30, {("A", "a1"): 60.0, ("B", "b1"): 40.0}, set())
    ue_a = 0.6 + (1.0 - 0.6) * 0.7           # UE = UA + (UE_parent - UA) * S_fraction, UE_root = 1
    ue_b = 0.4 + (1.0 - 0.4) * 0.3
    assert factors[("A", "a1")] == pytest.approx(2 ** (-ue_a / 0.7))
    assert factors[("B", "b1")] == pytest.approx(2 ** (-ue_b / 0.3))


def test_classic_without_any_usage_gives_everyone_one():
    assert user_factors("classic", A70_B30, {}, {("A", "a1"), ("B", "b1")}) == {("A", "a1"): 1.0, ("B", "b1"): 1.0}


def test_sub_accounts_and_unconfigured_accounts():
    accounts = (AccountConfig("science", 80), AccountConfig("bio", 1, parent="science"))
    rows = share_rows("fair_tree", accounts, {("bio", "u1"): 5.0, ("other", "u2"): 5.0}, set())
    by_key = {(r.account, r.user): r for r in rows}
    assert [(r.account, r.user, r.depth) for r in rows] == [
        ("other", "", 0), ("other", "u2", 1), ("science", "", 0), ("bio", "", 1), ("bio", "u1", 2)]
    assert by_key[("science", "")].norm_shares == pytest.approx(80 / 81)
    assert by_key[("other", "")].raw_shares == 1 and by_key[("other", "")].raw_usage == 5.0
    assert math.isnan(by_key[("science", "")].factor) and by_key[("bio", "u1")].factor == 1.0


def test_a_cycle_of_parents_is_an_error():
    accounts = (AccountConfig("a", 1, parent="b"), AccountConfig("b", 1, parent="a"))
    with pytest.raises(ValueError, match="cycle"):
        user_factors("fair_tree", accounts, {}, {("a", "u")})


def test_usage_decays_with_the_half_life_and_charges_running_time():
    usage = Usage(half_life_s=100)
    usage.advance(1000, [])
    usage.advance(1100, [("acct", "ann", 4, 1050, None), ("", "bob", 2, 900, 1080)])
    assert usage.by_user == {("acct", "ann"): 4 * 50, (DEFAULT_ACCOUNT, "bob"): 2 * 80}
    usage.advance(1200, [])
    assert usage.by_user[("acct", "ann")] == pytest.approx(100.0)


def test_multifactor_priority_worked_example_and_queue_order():
    weights = PriorityConfig(weight_age=1000, weight_fairshare=10000, max_age_s=7 * 86400)
    prio = multifactor_priority(weights, age_s=np.array([3.5 * 86400, 30 * 86400, 0.0]),
                                fairshare=np.array([0.25, 0.0, 0.0]), cpus=np.array([1, 1, 1]), cluster_cpus=8,
                                partition_factor=np.zeros(3), nice=np.array([0, 0, 5000]))
    assert prio.tolist() == [3000, 1000, 1]        # age capped at max_age; never below 1
    order = queue_order(np.array([5, 7, 5, 5]), np.array([10.0, 99.0, 10.0, 3.0]), np.array([9, 1, 4, 8]))
    assert order.tolist() == [1, 3, 2, 0]          # priority desc, submit asc, job id asc


def test_job_size_and_partition_factors():
    weights = PriorityConfig(weight_job_size=100, weight_partition=50)
    prio = multifactor_priority(weights, age_s=np.zeros(2), fairshare=np.zeros(2), cpus=np.array([4, 64]),
                                cluster_cpus=16, partition_factor=np.array([1.0, 0.5]), nice=np.zeros(2))
    assert prio.tolist() == [25 + 50, 100 + 25]


def test_usage_survives_a_round_trip_through_json():
    import json
    usage = Usage(half_life_s=100)
    usage.advance(1000, [("acct", "ann", 4, 900, None)])
    usage.advance(1050, [("acct", "ann", 4, 900, None), ("", "bob", 1, 1000, None)])
    again = Usage.from_dict(json.loads(json.dumps(usage.as_dict())), half_life_s=200)
    assert again.by_user == usage.by_user and again.t_last == 1050 and again.half_life_s == 200
    with pytest.raises(ValueError, match="malformed"):
        Usage.from_dict({"by_user": [["a", "u", 1.0]]}, half_life_s=100)
