"""Reference implementations of multifactor priority and the fair-share factors, as plain loops.

Written for obviousness, not speed, and formulated differently from
jem.scheduler.fairshare where that helps to catch mistakes:

- Fair Tree: a user's rank follows from the path from root to it. At each
  level the path records the association's Level Fairshare (descending) and,
  for accounts, its name; users sort by these keys lexicographically, and users
  with equal keys share a rank. factor = rank / n_users (the best has rank n).
- Classic: each user's effective usage is computed by walking down its path
  from root, UE = UA + (UE_parent - UA) * shares / siblings' shares.

Arguments: accounts as (name, shares, parent) tuples; usage {(account, user): cpu_s};
users: set of (account, user) pairs that exist without usage.
"""

import math


def multifactor(weights, age_s, fairshare, cpus, cluster_cpus, partition_factor, nice, qos_factor=None):
    """One priority per job, each from its own factors (lists of numbers; qos_factor None: all 0)."""
    result = []
    for j in range(len(age_s)):
        age = min(max(age_s[j], 0), weights["max_age_s"]) / weights["max_age_s"]
        size = min(cpus[j] / max(cluster_cpus, 1), 1.0)
        total = (weights["weight_age"] * age + weights["weight_fairshare"] * fairshare[j]
                 + weights["weight_job_size"] * size + weights["weight_partition"] * partition_factor[j])
        if qos_factor is not None:
            total += weights.get("weight_qos", 0) * qos_factor[j]
        result.append(max(math.floor(total) - nice[j], 1))
    return result


def _tree(accounts, usage, users):
    """parent and shares of every association; associations are ("acct", name) or ("user", account, name)."""
    parent, shares = {}, {}
    names = {name for name, _, _ in accounts}
    for name, share, up in accounts:
        parent[("acct", name)] = ("acct", up) if up in names else ("root",)
        shares[("acct", name)] = share
    for account, user in set(usage) | set(users):
        if ("acct", account) not in parent:
            parent[("acct", account)] = ("root",)
            shares[("acct", account)] = 1
        parent[("user", account, user)] = ("acct", account)
        shares[("user", account, user)] = 1
    return parent, shares


def _usage_of(node, parent, usage):
    if node[0] == "user":
        return usage.get((node[1], node[2]), 0.0)
    return sum(_usage_of(child, parent, usage) for child, up in parent.items() if up == node)


def _path(node, parent):
    path = [node]
    while parent[path[-1]] != ("root",):
        path.append(parent[path[-1]])
    return list(reversed(path))


def _level_fs(node, parent, shares, usage):
    siblings = [c for c, up in parent.items() if up == parent[node]]
    share = shares[node] / sum(shares[s] for s in siblings)
    own, total = _usage_of(node, parent, usage), sum(_usage_of(s, parent, usage) for s in siblings)
    if own <= 0 or total <= 0:
        return math.inf
    return share / (own / total)


def fair_tree(accounts, usage, users):
    parent, shares = _tree(accounts, usage, users)
    leaves = [n for n in parent if n[0] == "user"]

    def key(leaf):
        parts = []
        for node in _path(leaf, parent):
            lf = _level_fs(node, parent, shares, usage)
            parts.append((-lf, 0, node[1]) if node[0] == "acct" else (-lf, 1, ""))
        return parts

    ordered = sorted(leaves, key=key)
    factors, rank, i = {}, len(leaves), 0
    while i < len(ordered):
        same = [leaf for leaf in ordered[i:] if key(leaf) == key(ordered[i])]
        for leaf in same:
            factors[(leaf[1], leaf[2])] = rank / len(leaves)
        rank -= len(same)
        i += len(same)
    return factors


def classic(accounts, usage, users):
    parent, shares = _tree(accounts, usage, users)
    total = sum(usage.values())
    factors = {}
    for leaf in [n for n in parent if n[0] == "user"]:
        effective, norm_shares = (1.0 if total > 0 else 0.0), 1.0
        for node in _path(leaf, parent):
            siblings = [c for c, up in parent.items() if up == parent[node]]
            fraction = shares[node] / sum(shares[s] for s in siblings)
            actual = _usage_of(node, parent, usage) / total if total > 0 else 0.0
            effective = actual + (effective - actual) * fraction
            norm_shares *= fraction
        factors[(leaf[1], leaf[2])] = 2.0 ** (-effective / norm_shares) if norm_shares > 0 else 0.0
    return factors
