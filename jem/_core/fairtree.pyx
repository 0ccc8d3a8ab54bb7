"""Fair Tree ranking (Slurm's default fair-share algorithm) over a flattened account tree.

The tree is arrays: node 0 is the root, node k's children are
child_list[child_start[k]:child_start[k + 1]] in tree order. Users are leaves
with usage; an account's usage is its children's, summed in tree order. At each
level a child's Level Fairshare is LF = (shares / siblings' shares) / (usage /
siblings' usage), infinite without usage. Children are visited depth first by
LF descending, accounts before users, then name; users of one account with
equal LF form one group and share a rank. With n users, the first group
visited gets factor n / n = 1.0, and each later one (n - users ranked before
it) / n. The arithmetic is jem.scheduler.fairshare's, in the same order, so the
factors are the same floats.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdlib cimport qsort
from jem._core._types cimport float64_t, int64_t, intp_t, uint8_t

cnp.import_array()


cdef int _by_key(const void *a, const void *b) noexcept nogil:
    cdef const Ranked *x = <const Ranked *>a
    cdef const Ranked *y = <const Ranked *>b
    if x.neg_lf != y.neg_lf:
        return -1 if x.neg_lf < y.neg_lf else 1
    if x.is_user != y.is_user:
        return -1 if x.is_user < y.is_user else 1
    return -1 if x.name_rank < y.name_rank else (1 if x.name_rank > y.name_rank else 0)


cdef float64_t _sum_usage(const intp_t[::1] child_start, const intp_t[::1] child_list, float64_t[::1] usage,
                          intp_t node) noexcept nogil:
    cdef intp_t k
    cdef float64_t total = 0.0
    if child_start[node] == child_start[node + 1]:
        return usage[node]
    for k in range(child_start[node], child_start[node + 1]):
        total += _sum_usage(child_start, child_list, usage, child_list[k])
    usage[node] = total
    return total


cdef intp_t _visit(const intp_t[::1] child_start, const intp_t[::1] child_list, const int64_t[::1] shares,
                   const uint8_t[::1] is_user, const intp_t[::1] name_rank, const float64_t[::1] usage,
                   Ranked *scratch, float64_t[::1] out_factor, intp_t node, intp_t rank,
                   intp_t n_users) noexcept nogil:
    """Rank the users under `node`, the first group at `rank`; returns the rank after them."""
    cdef intp_t first = child_start[node], last = child_start[node + 1], k, j, child
    cdef int64_t total_shares = 0
    cdef float64_t total_usage = 0.0, share, lf
    for k in range(first, last):
        total_shares += shares[child_list[k]]
        total_usage += usage[child_list[k]]
    for k in range(first, last):
        child = child_list[k]
        share = <float64_t>shares[child] / total_shares if total_shares else 0.0
        lf = INFINITY if usage[child] <= 0.0 or total_usage <= 0.0 else share / (usage[child] / total_usage)
        scratch[k].neg_lf, scratch[k].is_user = -lf, is_user[child]
        scratch[k].name_rank, scratch[k].node = name_rank[child], child
    qsort(&scratch[first], last - first, sizeof(Ranked), _by_key)
    k = first
    while k < last:
        if not scratch[k].is_user:
            rank = _visit(child_start, child_list, shares, is_user, name_rank, usage, scratch, out_factor,
                          scratch[k].node, rank, n_users)
            k += 1
            continue
        j = k + 1
        while j < last and scratch[j].is_user and scratch[j].neg_lf == scratch[k].neg_lf:
            j += 1
        for child in range(k, j):
            out_factor[scratch[child].node] = <float64_t>rank / n_users
        rank -= j - k
        k = j
    return rank


cdef int rank_users(const intp_t[::1] child_start, const intp_t[::1] child_list, const int64_t[::1] shares,
                    const uint8_t[::1] is_user, const intp_t[::1] name_rank, float64_t[::1] usage,
                    Ranked *scratch, float64_t[::1] out_factor) noexcept nogil:
    cdef intp_t n_users = 0, k
    for k in range(is_user.shape[0]):
        n_users += is_user[k]
    if n_users == 0:
        return 0
    _sum_usage(child_start, child_list, usage, 0)
    _visit(child_start, child_list, shares, is_user, name_rank, usage, scratch, out_factor, 0, n_users, n_users)
    return 0


def fair_tree_factors(child_start, child_list, shares, is_user, name_rank, usage):
    """(n_nodes,) float64: each user's Fair Tree factor (NaN for accounts). `usage` (n_nodes,)
    float64 holds the users' usage and receives every node's; see the module docstring."""
    for arr, name, dtype in ((child_start, "child_start", np.intp), (child_list, "child_list", np.intp),
                             (shares, "shares", np.int64), (is_user, "is_user", np.uint8),
                             (name_rank, "name_rank", np.intp), (usage, "usage", np.float64)):
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.ndim != 1 or not arr.flags.c_contiguous:
            raise ValueError(f"fair_tree_factors: {name} must be a C-contiguous 1-d {np.dtype(dtype).name} array")
    n_nodes = shares.shape[0]
    if n_nodes < 1 or child_start.shape[0] != n_nodes + 1 or child_list.shape[0] != n_nodes - 1 \
            or is_user.shape[0] != n_nodes or name_rank.shape[0] != n_nodes or usage.shape[0] != n_nodes:
        raise ValueError("fair_tree_factors: the tree's arrays disagree in size")
    out = np.full(n_nodes, np.nan, dtype=np.float64)
    scratch = np.empty(n_nodes * sizeof(Ranked), dtype=np.uint8)
    cdef const intp_t[::1] start_v = child_start
    cdef const intp_t[::1] list_v = child_list if n_nodes > 1 else np.zeros(1, dtype=np.intp)
    cdef const int64_t[::1] shares_v = shares
    cdef const uint8_t[::1] user_v = is_user
    cdef const intp_t[::1] name_v = name_rank
    cdef float64_t[::1] usage_v = usage
    cdef float64_t[::1] out_v = out
    cdef uint8_t[::1] scratch_v = scratch
    with nogil:
        rank_users(start_v, list_v, shares_v, user_v, name_v, usage_v, <Ranked *>&scratch_v[0], out_v)
    return out
