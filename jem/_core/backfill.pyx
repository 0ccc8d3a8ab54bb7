"""Backfill planning over per-node availability profiles: one pass, one parameter.

Jobs come in priority order. Each either starts now (on nodes where its
request fits for its whole time limit without cutting into any reservation),
or is blocked. With `reservation_depth` 0 a blocked job blocks the rest of
its partition (plain priority order, as jem._core.fit.first_fit). With depth
k > 0 the first k blocked jobs each reserve the earliest time their request
fits on enough nodes, and every later job may start now only where it delays
none of them: k = 1 is EASY, k >= n_jobs is conservative backfill.

Times are integer seconds; BF_INF (2**60) stands for "never" / "unlimited".
Resources are int64 units in jem.model.resources.Res column order.

Worked example (one 4-CPU node, now = 0): a running job holds 3 CPUs until
t = 100. Queue: A wants 4 CPUs for 50 s, B 1 CPU for 100 s, C 1 CPU for 200 s.
A does not fit now; with depth 1 it reserves [100, 150). B fits in the free
CPU and ends by 100: it is backfilled. C would hold that CPU past 100, when A
needs all four: it waits (Priority).

Association and QOS limits are resources over time too: each limit ("group") is a
one-column profile of what it has left, stepping up as the running jobs that hold
it end. A job must fit in every limit that binds it, at the same time as on its
nodes; one whose nodes are free now but a limit is not is LIMIT (it takes no
reservation and blocks nothing). After the pass, `estimate_depth` jobs still
without a start get an estimate: where conservative backfill would plan them,
given everything started, reserved or estimated before them (never reserved).

An exact estimate costs a search over every node, and the searches grow with
the plan (about 0.2-0.4 ms each at 10,000 nodes): a time budget may end them
early. With `forecast`, each job the estimates did not reach gets a forecast
instead: its partition's nodes pooled into one (their availability after the
pass, summed), the job's whole request (per node times nodes) placed there in
queue order, each no earlier than the partition's forecast before it (the first
no earlier than the latest start planned before it there), and in its limits as
an estimate is. Pooling ignores how the units are spread over
nodes, node features and exclusivity: a forecast is coarser than an estimate,
and marked as one (estimated 2).

Node features and exclusive jobs narrow where a job may go: a node qualifies
when its feature bitmask holds all of the job's `feat_all` bits and, if
`feat_any` is nonzero, one of its bits. An exclusive job takes the node's
whole capacity (free now plus every running allocation, unlimited ones too),
so it fits only where nothing else runs for its window, and nothing shares
the node after it.
"""

import numpy as np

cimport numpy as cnp
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from jem._core._types cimport int64_t, intp_t, uint8_t, uint64_t

cnp.import_array()

STARTED = BF_STARTED
RESOURCES = BF_RESOURCES
PRIORITY = BF_PRIORITY
BACKFILLED = BF_BACKFILLED
LIMIT = BF_LIMIT
INF = 1 << 60
CONSERVATIVE = 1 << 40   # a reservation depth no queue reaches

cdef int64_t BF_INF = 1 << 60


cdef inline int64_t _clock_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline int64_t _end_of(Profiles *p, intp_t s) noexcept nogil:
    cdef intp_t nxt = p.seg_next[s]
    return p.seg_time[nxt] if nxt != -1 else BF_INF


cdef inline bint _seg_fits(Profiles *p, intp_t s, const int64_t *request) noexcept nogil:
    cdef intp_t r
    for r in range(p.n_res):
        if request[r] > p.seg_avail[s * p.n_res + r]:
            return False
    return True


cdef bint fits_window(Profiles *p, intp_t node_idx, const int64_t *request,
                      int64_t t0, int64_t t1) noexcept nogil:
    """True when `request` is available on the node during all of [t0, t1)."""
    cdef intp_t s = p.head[node_idx]
    while s != -1:
        if p.seg_time[s] >= t1:
            return True
        if _end_of(p, s) > t0 and not _seg_fits(p, s, request):
            return False
        s = p.seg_next[s]
    return True


cdef int64_t earliest_fit(Profiles *p, intp_t node_idx, const int64_t *request,
                          int64_t t0, int64_t duration, int64_t limit) noexcept nogil:
    """Earliest t >= t0 with `request` available during [t, t + duration); BF_INF if none
    before `limit` (the search stops there: pass BF_INF for no limit)."""
    return _earliest_from(p, p.head[node_idx], request, t0, duration, limit)


cdef int64_t _earliest_from(Profiles *p, intp_t s, const int64_t *request,
                            int64_t t0, int64_t duration, int64_t limit) noexcept nogil:
    """earliest_fit, the walk starting at segment s of the node (seg_time[s] <= t0)."""
    cdef int64_t cand = t0, end
    if t0 >= limit:
        return BF_INF
    while _end_of(p, s) <= t0:
        s = p.seg_next[s]
    while s != -1:
        end = _end_of(p, s)
        if not _seg_fits(p, s, request):
            if end >= limit:
                return BF_INF
            cand = end
        elif end >= min(cand + duration, BF_INF):
            return cand
        s = p.seg_next[s]
    return BF_INF


cdef intp_t _split(Profiles *p, intp_t s, int64_t t) noexcept nogil:
    """Split segment s at t (seg_time[s] < t < its end); return the new later half, -1 if the pool is full."""
    cdef intp_t k = p.n_used, r
    if k >= p.capacity:
        return -1
    p.n_used += 1
    p.seg_time[k] = t
    for r in range(p.n_res):
        p.seg_avail[k * p.n_res + r] = p.seg_avail[s * p.n_res + r]
    p.seg_next[k] = p.seg_next[s]
    p.seg_next[s] = k
    return k


cdef int subtract(Profiles *p, intp_t node_idx, const int64_t *request,
                  int64_t t0, int64_t t1) noexcept nogil:
    """Take `request` from the node during [t0, t1) (t0 >= the node's first segment). 0, or -1 if the pool is full."""
    return _subtract_from(p, p.head[node_idx], request, t0, t1)


cdef int _subtract_from(Profiles *p, intp_t s, const int64_t *request, int64_t t0, int64_t t1) noexcept nogil:
    """subtract, the walk starting at segment s of the node (seg_time[s] <= t0)."""
    cdef intp_t r
    while _end_of(p, s) <= t0:
        s = p.seg_next[s]
    if p.seg_time[s] < t0:
        s = _split(p, s, t0)
        if s == -1:
            return -1
    while s != -1 and p.seg_time[s] < t1:
        if _end_of(p, s) > t1 and _split(p, s, t1) == -1:
            return -1
        for r in range(p.n_res):
            p.seg_avail[s * p.n_res + r] -= request[r]
        s = p.seg_next[s]
    return 0


cdef inline bint _fits_cap(Profiles *p, intp_t node_idx, const int64_t *request) noexcept nogil:
    cdef intp_t r
    for r in range(p.n_res):
        if request[r] > p.cap[node_idx * p.n_res + r]:
            return False
    return True


cdef inline bint _may_use(Profiles *p, const uint8_t[::1] usable, const uint8_t[:, ::1] membership,
                          Ask *ask, intp_t node_idx) noexcept nogil:
    """True when the job may ever use the node: usable, in its partition, with its features;
    an exclusive job also needs its request within the node and no unlimited job there."""
    cdef uint64_t have
    cdef intp_t r
    if not (usable[node_idx] and membership[ask.part, node_idx]):
        return False
    have = p.features[node_idx]
    if (have & ask.feat_all) != ask.feat_all or (ask.feat_any != 0 and (have & ask.feat_any) == 0):
        return False
    if ask.is_exclusive:
        for r in range(p.n_res):
            if ask.request[r] > p.whole[node_idx * p.n_res + r]:
                return False
        return _fits_cap(p, node_idx, &p.whole[node_idx * p.n_res])
    return True


cdef inline const int64_t *_request_on(Profiles *p, Ask *ask, intp_t node_idx) noexcept nogil:
    """The units the job takes on the node: its request, or all of the node if exclusive."""
    return &p.whole[node_idx * p.n_res] if ask.is_exclusive else ask.request


cdef int64_t _select_nth(int64_t *a, intp_t m, intp_t k) noexcept nogil:
    """The k-th smallest (0-based) of a[0:m], reordering a (Hoare's selection)."""
    cdef intp_t lo = 0, hi = m - 1, i, j
    cdef int64_t pivot, tmp
    while lo < hi:
        pivot = a[lo + (hi - lo) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


cdef int64_t _find_one(Profiles *p, const uint8_t[::1] usable, const uint8_t[:, ::1] membership,
                       Ask *ask, int64_t duration, int64_t t0, intp_t *out) noexcept nogil:
    """_find for a one-node job: the first node (index order) with the earliest fit from t0.
    Each node's search stops at the best start found so far, so most nodes are cut short."""
    cdef intp_t node_idx, best_node = -1
    cdef int64_t best = BF_INF, t
    for node_idx in range(usable.shape[0]):
        if _may_use(p, usable, membership, ask, node_idx) and _fits_cap(p, node_idx, _request_on(p, ask, node_idx)):
            t = earliest_fit(p, node_idx, _request_on(p, ask, node_idx), t0, duration, best)
            if t < best:
                best, best_node = t, node_idx
    if best_node < 0:
        return -1
    out[0] = best_node
    return best


cdef int64_t _find(Profiles *p, const uint8_t[::1] usable, const uint8_t[:, ::1] membership,
                   Ask *ask, intp_t n_wanted, int64_t duration, int64_t t0,
                   int64_t[::1] node_start, int64_t[::1] select_buf, intp_t *out) noexcept nogil:
    """Earliest start t >= t0 at which `n_wanted` allowed nodes each hold the request for
    `duration`, and the first such nodes (index order) in `out`; -1 if never. Nothing is taken.

    Each node's earliest fit from t is computed lazily; t jumps to the n-th smallest of
    them until n nodes agree on it (profiles with reservations are not monotone)."""
    cdef intp_t n_nodes = usable.shape[0], node_idx, m, found
    cdef int64_t t = t0, t_n
    if n_wanted == 1:
        return _find_one(p, usable, membership, ask, duration, t0, out)
    for node_idx in range(n_nodes):
        node_start[node_idx] = -1
    while True:
        m = 0
        for node_idx in range(n_nodes):
            if _may_use(p, usable, membership, ask, node_idx):
                if node_start[node_idx] < t:
                    if _fits_cap(p, node_idx, _request_on(p, ask, node_idx)):
                        node_start[node_idx] = earliest_fit(p, node_idx, _request_on(p, ask, node_idx), t,
                                                            duration, BF_INF)
                    else:
                        node_start[node_idx] = BF_INF
                select_buf[m] = node_start[node_idx]
                m += 1
        if m < n_wanted:
            return -1
        t_n = _select_nth(&select_buf[0], m, n_wanted - 1)
        if t_n >= BF_INF:
            return -1
        if t_n == t:
            break
        t = t_n
    found = 0
    for node_idx in range(n_nodes):
        if found == n_wanted:
            break
        if _may_use(p, usable, membership, ask, node_idx) and node_start[node_idx] == t:
            out[found] = node_idx
            found += 1
    return t


cdef inline bint _groups_fit(Groups *g, intp_t job_idx, int64_t t0, int64_t t1) noexcept nogil:
    """True when every limit binding the job holds its units during [t0, t1)."""
    cdef intp_t k
    if g == NULL:
        return True
    for k in range(g.job_off[job_idx], g.job_off[job_idx + 1]):
        if g.job_binds[k] and not fits_window(&g.prof, g.job_grp[k], &g.job_amt[k], t0, t1):
            return False
    return True


cdef inline intp_t _hint(Profiles *p, intp_t grp, intp_t *group_hint, int64_t t0) noexcept nogil:
    """Where a walk to t0 over a group's profile may start: the segment the group's last
    forecast began in, when that is not after t0 (segments are only ever split after it), else
    the head. Forecasts of one partition come in time order, so most walks start near t0."""
    cdef intp_t s = group_hint[grp] if group_hint != NULL else -1
    if s >= 0 and p.seg_time[s] <= t0:
        return s
    return p.head[grp]


cdef int64_t _groups_earliest(Groups *g, intp_t job_idx, int64_t t0, int64_t duration,
                              intp_t *group_hint) noexcept nogil:
    """Earliest t >= t0 at which every limit binding the job holds its units for `duration`;
    BF_INF if never. Each limit's earliest fit from t moves t on until all agree. `group_hint`
    (NULL: none): where each group's walk may start (see _hint)."""
    cdef intp_t k
    cdef int64_t t = t0, u
    cdef bint moved = True
    if g == NULL:
        return t0
    while moved:
        moved = False
        for k in range(g.job_off[job_idx], g.job_off[job_idx + 1]):
            if g.job_binds[k]:
                u = _earliest_from(&g.prof, _hint(&g.prof, g.job_grp[k], group_hint, t), &g.job_amt[k], t, duration,
                                   BF_INF)
                if u >= BF_INF:
                    return BF_INF
                if u > t:
                    t = u
                    moved = True
    return t


cdef int _take(Profiles *p, Groups *g, intp_t job_idx, Ask *ask, const intp_t *nodes, intp_t n,
               int64_t t0, int64_t t1) noexcept nogil:
    """Take the job's units on `nodes` and in every limit it counts in, during [t0, t1). 0, or -1
    if a segment pool is full."""
    cdef intp_t k
    for k in range(n):
        if subtract(p, nodes[k], _request_on(p, ask, nodes[k]), t0, t1) != 0:
            return -1
    if g != NULL:
        for k in range(g.job_off[job_idx], g.job_off[job_idx + 1]):
            if subtract(&g.prof, g.job_grp[k], &g.job_amt[k], t0, t1) != 0:
                return -1
    return 0


cdef int64_t _reserve(Profiles *p, Groups *g, intp_t job_idx, const uint8_t[::1] usable,
                      const uint8_t[:, ::1] membership, Ask *ask, intp_t n_wanted, int64_t duration, int64_t now,
                      int64_t[::1] node_start, int64_t[::1] select_buf, intp_t *out) noexcept nogil:
    """The earliest start at which the job's nodes and every limit binding it agree, taken there
    (nodes in `out`). Returns it, -1 if never, -2 if a segment pool is full."""
    cdef int64_t t = now, t_nodes, t_limits
    while True:
        t_nodes = _find(p, usable, membership, ask, n_wanted, duration, t, node_start, select_buf, out)
        if t_nodes < 0:
            for t in range(n_wanted):   # (an earlier round may have filled `out`)
                out[t] = -1
            return -1
        t_limits = _groups_earliest(g, job_idx, t_nodes, duration, NULL)
        if t_limits >= BF_INF:
            for t in range(n_wanted):
                out[t] = -1
            return -1
        if t_limits == t_nodes:
            break
        t = t_limits
    if _take(p, g, job_idx, ask, out, n_wanted, t_nodes, min(t_nodes + duration, BF_INF)) != 0:
        return -2
    return t_nodes


cdef intp_t _fit_now(Profiles *p, const uint8_t[::1] usable, const uint8_t[:, ::1] membership,
                     Ask *ask, intp_t n_wanted, int64_t now, int64_t end, intp_t *out) noexcept nogil:
    """Up to n_wanted allowed nodes (index order) holding `request` during [now, end); returns how many."""
    cdef intp_t node_idx, found = 0
    for node_idx in range(usable.shape[0]):
        if found == n_wanted:
            break
        if _may_use(p, usable, membership, ask, node_idx) and \
                fits_window(p, node_idx, _request_on(p, ask, node_idx), now, end):
            out[found] = node_idx
            found += 1
    return found


cdef int backfill_pass(
    Profiles *p,
    const uint8_t[::1] usable,
    const uint8_t[:, ::1] membership,
    const int64_t[:, ::1] requests,
    const int64_t[::1] n_nodes_req,
    const intp_t[::1] part_idx,
    const int64_t[::1] duration_s,
    const intp_t[::1] shape_idx,
    const uint64_t[::1] feat_all,
    const uint64_t[::1] feat_any,
    const uint8_t[::1] exclusive,
    int64_t now,
    intp_t reservation_depth,
    const intp_t[::1] offsets,
    int64_t[::1] shape_fail,
    uint8_t[::1] part_blocked,
    int64_t[::1] node_start,
    int64_t[::1] select_buf,
    int64_t[::1] out_status,
    int64_t[::1] out_start,
    intp_t[::1] out_nodes,
    Groups *groups,
    intp_t estimate_depth,
    uint8_t *out_estimated,
    const uint8_t *no_reserve,
    int64_t estimate_budget_ns,
    intp_t *out_estimates_end,
) noexcept nogil:
    cdef intp_t n_jobs = requests.shape[0], job_idx, k, n_wanted, part, found, shape
    cdef intp_t n_reserved = 0, n_estimated = 0
    cdef int64_t deadline_ns = 0
    cdef int64_t end, duration, t
    cdef bint any_blocked = False
    cdef intp_t *slots
    cdef Ask ask
    for k in range(out_nodes.shape[0]):
        out_nodes[k] = -1
    for job_idx in range(n_jobs):
        out_start[job_idx] = -1
        part = part_idx[job_idx]
        if reservation_depth == 0 and part_blocked[part]:
            out_status[job_idx] = BF_PRIORITY
            continue
        n_wanted = n_nodes_req[job_idx]
        duration = duration_s[job_idx]
        end = min(now + duration, BF_INF)
        ask.request = &requests[job_idx, 0]
        ask.part = part
        ask.feat_all = feat_all[job_idx]
        ask.feat_any = feat_any[job_idx]
        ask.is_exclusive = exclusive[job_idx] != 0
        slots = &out_nodes[offsets[job_idx]] if n_wanted > 0 else NULL
        shape = shape_idx[job_idx]
        found = 0
        if duration < shape_fail[shape]:
            found = _fit_now(p, usable, membership, &ask, n_wanted, now, end, slots)
        if found == n_wanted:
            if _groups_fit(groups, job_idx, now, end):
                if _take(p, groups, job_idx, &ask, slots, found, now, end) != 0:
                    return -1
                out_status[job_idx] = BF_BACKFILLED if any_blocked and reservation_depth > 0 else BF_STARTED
                out_start[job_idx] = now
                continue
            # Its nodes are free, a limit is not: it neither blocks its partition nor takes a
            # reservation (as in Slurm); the estimates below plan it.
            for k in range(found):
                slots[k] = -1
            out_status[job_idx] = BF_LIMIT
            continue
        if duration < shape_fail[shape]:
            shape_fail[shape] = duration
        for k in range(found):
            slots[k] = -1
        any_blocked = True
        out_status[job_idx] = BF_RESOURCES
        if reservation_depth == 0:
            part_blocked[part] = 1
        elif no_reserve != NULL and no_reserve[job_idx]:
            pass   # (RESOURCES, without a reservation; the next blocked job may take the slot)
        elif n_reserved < reservation_depth:
            t = _reserve(p, groups, job_idx, usable, membership, &ask, n_wanted, duration, now, node_start,
                         select_buf, slots)
            if t == -2:
                return -1
            if t >= 0:
                out_start[job_idx] = t
                n_reserved += 1
        else:
            out_status[job_idx] = BF_PRIORITY
    # Estimates: every job left without a start, in priority order, planned as conservative
    # backfill would plan it (after everything started, reserved or estimated before it), and
    # taken there so that later estimates see it. Nothing is reserved by an estimate.
    if estimate_budget_ns > 0:
        deadline_ns = _clock_ns() + estimate_budget_ns
    out_estimates_end[0] = n_jobs
    for job_idx in range(n_jobs):
        if n_estimated >= estimate_depth or (deadline_ns and _clock_ns() > deadline_ns):
            out_estimates_end[0] = job_idx   # (the jobs from here on were not reached)
            break
        if out_start[job_idx] >= 0:
            continue
        n_wanted = n_nodes_req[job_idx]
        duration = duration_s[job_idx]
        ask.request = &requests[job_idx, 0]
        ask.part = part_idx[job_idx]
        ask.feat_all = feat_all[job_idx]
        ask.feat_any = feat_any[job_idx]
        ask.is_exclusive = exclusive[job_idx] != 0
        slots = &out_nodes[offsets[job_idx]]
        t = _reserve(p, groups, job_idx, usable, membership, &ask, n_wanted, duration, now, node_start,
                     select_buf, slots)
        if t == -2:
            return -1
        n_estimated += 1
        if t >= 0:
            out_start[job_idx] = t
            out_estimated[job_idx] = 1
        else:
            for k in range(n_wanted):
                slots[k] = -1
    return 0


cdef int forecast_pass(Profiles *p, Profiles *pool, Groups *g, const uint8_t[::1] usable,
                       const uint8_t[:, ::1] membership, const int64_t[:, ::1] requests,
                       const int64_t[::1] n_nodes_req, const intp_t[::1] part_idx, const int64_t[::1] duration_s,
                       const intp_t[::1] shape_idx, const uint64_t[::1] feat_all, const uint64_t[::1] feat_any,
                       const uint8_t[::1] exclusive, intp_t first_job, int64_t now, int64_t[::1] shape_ok,
                       int64_t[::1] cursor, int64_t[::1] pool_request, intp_t *group_hint,
                       int64_t[::1] out_start, uint8_t *out_estimated) noexcept nogil:
    """Forecasts for the jobs from `first_job` on still without a start (see the module
    docstring): `pool` holds one profile per partition. 0, or -1 if a segment pool is full."""
    cdef intp_t job_idx, n_wanted, part, shape, node_idx, r, k, n_ok, s, grp
    cdef int64_t t, t_pool, t_limits = 0, duration
    cdef Ask ask
    for job_idx in range(first_job, requests.shape[0]):
        if out_start[job_idx] >= 0:
            continue
        n_wanted = n_nodes_req[job_idx]
        part = part_idx[job_idx]
        ask.request = &requests[job_idx, 0]
        ask.part = part
        ask.feat_all = feat_all[job_idx]
        ask.feat_any = feat_any[job_idx]
        ask.is_exclusive = exclusive[job_idx] != 0
        shape = shape_idx[job_idx]
        if shape_ok[shape] < 0:   # (once per shape: does it fit on enough nodes at all?)
            n_ok = 0
            for node_idx in range(usable.shape[0]):
                if _may_use(p, usable, membership, &ask, node_idx) and \
                        _fits_cap(p, node_idx, _request_on(p, &ask, node_idx)):
                    n_ok += 1
            shape_ok[shape] = 1 if n_ok >= n_wanted else 0
        if shape_ok[shape] == 0:
            continue
        for r in range(p.n_res):
            pool_request[r] = requests[job_idx, r] * n_wanted
        duration = duration_s[job_idx]
        t = cursor[part]
        while True:
            t_pool = earliest_fit(pool, part, &pool_request[0], t, duration, BF_INF)
            if t_pool >= BF_INF:
                break
            t_limits = _groups_earliest(g, job_idx, t_pool, duration, group_hint)
            if t_limits == t_pool or t_limits >= BF_INF:
                break
            t = t_limits
        if t_pool >= BF_INF or t_limits >= BF_INF:
            continue
        if subtract(pool, part, &pool_request[0], t_pool, min(t_pool + duration, BF_INF)) != 0:
            return -1
        if g != NULL:
            for k in range(g.job_off[job_idx], g.job_off[job_idx + 1]):
                grp = g.job_grp[k]
                s = _hint(&g.prof, grp, group_hint, t_pool)
                if _subtract_from(&g.prof, s, &g.job_amt[k], t_pool, min(t_pool + duration, BF_INF)) != 0:
                    return -1
                # (a later search from t_pool or after may start at the segment holding t_pool)
                while g.prof.seg_next[s] != -1 and g.prof.seg_time[g.prof.seg_next[s]] <= t_pool:
                    s = g.prof.seg_next[s]
                group_hint[grp] = s
        out_start[job_idx] = t_pool
        out_estimated[job_idx] = 2
        # Later forecasts of the partition start no earlier: what lies before is never read again.
        cursor[part] = t_pool
        s = pool.head[part]
        while pool.seg_next[s] != -1 and pool.seg_time[pool.seg_next[s]] <= t_pool:
            s = pool.seg_next[s]
        pool.head[part] = s
    return 0


cdef void segment_nodes(Profiles *p, intp_t n_nodes, intp_t[::1] seg_node, intp_t[::1] seg_prev) noexcept nogil:
    """Each used segment's node, and the segment before it on its node (-1 for the first)."""
    cdef intp_t node_idx, s, prev
    for node_idx in range(n_nodes):
        s = p.head[node_idx]
        prev = -1
        while s != -1:
            seg_node[s] = node_idx
            seg_prev[s] = prev
            prev = s
            s = p.seg_next[s]


cdef int build_profiles(Profiles *p, const int64_t[:, ::1] free, const intp_t[::1] run_node,
                        const int64_t[::1] run_end, const int64_t[:, ::1] run_alloc, int64_t now) noexcept nogil:
    """One segment per node from now (its free units), then a step up at each running
    allocation's expected end; run_* sorted by (node, end), every end > now."""
    cdef intp_t n_nodes = free.shape[0], node_idx, s, tail, k = 0, r
    for node_idx in range(n_nodes):
        s = p.n_used
        p.n_used += 1
        p.seg_time[s] = now
        p.seg_next[s] = -1
        for r in range(p.n_res):
            p.seg_avail[s * p.n_res + r] = free[node_idx, r]
        p.head[node_idx] = s
        tail = s
        while k < run_node.shape[0] and run_node[k] == node_idx:
            if run_end[k] != p.seg_time[tail]:
                s = p.n_used
                p.n_used += 1
                p.seg_time[s] = run_end[k]
                p.seg_next[s] = -1
                for r in range(p.n_res):
                    p.seg_avail[s * p.n_res + r] = p.seg_avail[tail * p.n_res + r]
                p.seg_next[tail] = s
                tail = s
            for r in range(p.n_res):
                p.seg_avail[tail * p.n_res + r] += run_alloc[k, r]
            k += 1
        for r in range(p.n_res):
            p.cap[node_idx * p.n_res + r] = p.seg_avail[tail * p.n_res + r]
    return 0


def _require(arr, name, dtype, ndim):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype or arr.ndim != ndim or not arr.flags.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous {ndim}-d {np.dtype(dtype).name} array, "
                         f"got {arr.ndim}-d {arr.dtype} (contiguous={arr.flags.c_contiguous})")


def _check(free, usable, membership, requests, n_nodes_req, part_idx, duration_s, run_node, run_end, run_alloc):
    for arr, name, dtype, ndim in ((free, "free", np.int64, 2), (usable, "usable", np.uint8, 1),
                                   (membership, "membership", np.uint8, 2), (requests, "requests", np.int64, 2),
                                   (n_nodes_req, "n_nodes_req", np.int64, 1), (part_idx, "part_idx", np.intp, 1),
                                   (duration_s, "duration_s", np.int64, 1), (run_node, "run_node", np.intp, 1),
                                   (run_end, "run_end", np.int64, 1), (run_alloc, "run_alloc", np.int64, 2)):
        _require(arr, name, dtype, ndim)
    n_nodes, n_res = free.shape[0], free.shape[1]
    n_jobs = requests.shape[0]
    if usable.shape[0] != n_nodes or membership.shape[1] != n_nodes:
        raise ValueError("backfill: node dimension disagrees")
    if (requests.shape[1] != n_res or n_nodes_req.shape[0] != n_jobs or part_idx.shape[0] != n_jobs
            or duration_s.shape[0] != n_jobs):
        raise ValueError("backfill: job dimension disagrees")
    if run_end.shape[0] != run_node.shape[0] or run_alloc.shape[0] != run_node.shape[0] \
            or run_alloc.shape[1] != n_res:
        raise ValueError("backfill: running dimension disagrees")
    if n_jobs and (part_idx.min() < 0 or part_idx.max() >= membership.shape[0]):
        raise ValueError("backfill: part_idx out of range")
    if n_jobs and n_nodes_req.min() < 1:
        raise ValueError("backfill: every job needs at least one node")
    if n_jobs and duration_s.min() < 1:
        raise ValueError("backfill: every time limit must be at least 1 s")
    if run_node.shape[0] and (run_node.min() < 0 or run_node.max() >= n_nodes):
        raise ValueError("backfill: run_node out of range")


def _shapes(part_idx, n_nodes_req, requests, feat_all, feat_any, exclusive):
    """Index of each job's (partition, node count, request, features, exclusive) among the distinct ones."""
    n_jobs = requests.shape[0]
    if n_jobs == 0:
        return np.zeros(0, dtype=np.intp), 0
    columns = ([requests[:, r] for r in range(requests.shape[1] - 1, -1, -1)]
               + [exclusive, feat_any, feat_all, n_nodes_req, part_idx])
    order = np.lexsort(columns)
    is_new = np.zeros(n_jobs, dtype=bool)
    is_new[0] = True
    for column in columns:
        is_new[1:] |= column[order][1:] != column[order][:n_jobs - 1]
    shape_idx = np.empty(n_jobs, dtype=np.intp)
    shape_idx[order] = np.cumsum(is_new) - 1
    return shape_idx, int(is_new.sum())


def _job_filters(n_nodes, n_jobs, node_features, feat_all, feat_any, exclusive):
    """The optional feature and exclusive arrays, checked, with zeros for the ones not given."""
    given = []
    for arr, name, dtype, n in ((node_features, "node_features", np.uint64, n_nodes),
                                (feat_all, "feat_all", np.uint64, n_jobs), (feat_any, "feat_any", np.uint64, n_jobs),
                                (exclusive, "exclusive", np.uint8, n_jobs)):
        if arr is None:
            arr = np.zeros(n, dtype=dtype)
        _require(arr, name, dtype, 1)
        if arr.shape[0] != n:
            raise ValueError(f"backfill: {name} must have {n} entries, got {arr.shape[0]}")
        given.append(arr)
    return given


def _limit_arrays(limits, n_jobs, now):
    """The limits' arrays, checked and prepared for build_profiles (see `backfill`)."""
    grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds = limits
    for arr, name, dtype in ((grp_free, "grp_free", np.int64), (grun_group, "grun_group", np.intp),
                             (grun_end, "grun_end", np.int64), (grun_amt, "grun_amt", np.int64),
                             (job_off, "job_off", np.intp), (job_grp, "job_grp", np.intp),
                             (job_amt, "job_amt", np.int64), (job_binds, "job_binds", np.uint8)):
        _require(arr, name, dtype, 1)
    n_groups, n_member = grp_free.shape[0], job_grp.shape[0]
    if job_off.shape[0] != n_jobs + 1 or job_off[0] != 0 or job_off[n_jobs] != n_member \
            or (n_jobs and np.any(np.diff(job_off) < 0)):
        raise ValueError("backfill: job_off must be (n_jobs + 1,) offsets from 0 to len(job_grp)")
    if job_amt.shape[0] != n_member or job_binds.shape[0] != n_member:
        raise ValueError("backfill: job_amt and job_binds must be as long as job_grp")
    if n_member and (job_grp.min() < 0 or job_grp.max() >= n_groups) or np.any(job_amt < 0):
        raise ValueError("backfill: job_grp out of range, or a negative amount")
    if grun_end.shape[0] != grun_group.shape[0] or grun_amt.shape[0] != grun_group.shape[0] \
            or (grun_group.shape[0] and (grun_group.min() < 0 or grun_group.max() >= n_groups)):
        raise ValueError("backfill: running limit usage disagrees")
    ends = np.minimum(np.maximum(grun_end, now + 1), INF)
    keep = ends < INF
    order = np.lexsort((ends[keep], grun_group[keep]))
    return (np.ascontiguousarray(grp_free.reshape(n_groups, 1)), np.ascontiguousarray(grun_group[keep][order]),
            np.ascontiguousarray(ends[keep][order]),
            np.ascontiguousarray(grun_amt[keep][order].reshape(-1, 1)), job_off, job_grp, job_amt, job_binds)


def backfill(free, usable, *, membership, requests, n_nodes_req, part_idx, duration_s,
             run_node, run_end, run_alloc, now, reservation_depth, shape_idx=None,
             node_features=None, feat_all=None, feat_any=None, exclusive=None, limits=None, estimate_depth=0,
             blocks=None, no_reserve=None, estimate_budget_s=0.0, forecast=False):
    """Plan one backfill pass over jobs given in priority order.

    free (n_nodes, n_res) int64 units free now; usable (n_nodes,) uint8;
    membership (n_parts, n_nodes) uint8; requests (n_jobs, n_res) int64 per node;
    n_nodes_req (n_jobs,) int64 >= 1; part_idx (n_jobs,) intp; duration_s (n_jobs,)
    int64 time limits >= 1 (INF for unlimited); running allocations as pairs:
    run_node (n_pairs,) intp, run_end (n_pairs,) int64 expected end (start + time
    limit; INF if unlimited; an end <= now counts as now + 1), run_alloc (n_pairs,
    n_res) int64 units that return to the node at run_end. now: int seconds.
    reservation_depth: 0 plain priority order, 1 EASY, CONSERVATIVE.
    shape_idx (n_jobs,) intp, optional: equal for jobs with equal (partition, node
    count, request), >= 0 (computed when None). It only lets the pass
    skip jobs known not to fit; results are the same whatever it is, as long as
    jobs with different shapes get different indices.
    node_features (n_nodes,) uint64 feature bitmask per node; feat_all, feat_any
    (n_jobs,) uint64: a job may use a node holding all of feat_all and, when
    feat_any is nonzero, one of feat_any; exclusive (n_jobs,) uint8: 1 where the
    job takes whole nodes. Each defaults to zeros (no features, nothing exclusive).

    Returns (status, start, offsets, nodes): status[j] is STARTED, BACKFILLED,
    RESOURCES or PRIORITY; start[j] is now for started jobs, the reserved start
    for jobs holding a reservation, else -1; job j's nodes (started or reserved)
    are nodes[offsets[j]:offsets[j+1]], -1 otherwise. No input is modified.

    limits, optional: association and QOS limits as resources over time, a tuple
    (grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds):
    grp_free (n_groups,) int64 units of each limit free now (its limit less what
    running jobs hold; may be negative); grun_* (n_gpairs,) intp/int64/int64: units
    that return to a group at a running job's expected end; job_off (n_jobs + 1,)
    intp and job_grp, job_amt, job_binds (n_member,) intp/int64/uint8: the groups
    each job counts in, its units there, and 1 where the group's limit binds it. A
    job whose nodes fit now but a binding limit does not is LIMIT: it takes no
    reservation and blocks nothing.
    estimate_depth: after the pass, this many jobs (in order) left without a start
    get an estimate: the start conservative backfill would plan for them, given
    everything before them; `estimated[j]` is 1 where start[j] is one.
    estimate_budget_s: seconds the estimates may take, at most (0: no bound); the
    jobs they did not reach get none, or with `forecast` a forecast (estimated[j] 2:
    see the module docstring). Only the budget makes a pass's outcome depend on time.

    blocks, optional: windows in which nodes take no job of this pass (an advance
    reservation the jobs are not in), a tuple (block_node (n_blocks,) intp,
    block_start (n_blocks,) int64, block_end (n_blocks,) int64): a job fits on such a
    node only if it ends by block_start or starts at block_end or later. A fourth
    array, block_units (n_blocks, k <= n_res) int64, makes each window take only those
    units of its node (a reservation of some of its cores; columns past k: none), or,
    where a row starts with -1, all of it as above: the rest stay usable.

    no_reserve, optional: (n_jobs,) uint8, 1 where a blocked job takes no reservation (a
    QOS's NoReserve flag): it waits with RESOURCES and the next blocked job may take the slot.

    Returns (status, start, offsets, nodes, estimated).
    """
    _check(free, usable, membership, requests, n_nodes_req, part_idx, duration_s, run_node, run_end, run_alloc)
    if reservation_depth < 0:
        raise ValueError("backfill: reservation_depth must be >= 0")
    n_nodes, n_res = free.shape[0], free.shape[1]
    n_jobs = requests.shape[0]
    node_features, feat_all, feat_any, exclusive = _job_filters(n_nodes, n_jobs, node_features, feat_all,
                                                                feat_any, exclusive)
    whole = free.copy()          # (n_nodes, n_res): free now plus every running allocation
    np.add.at(whole, run_node, run_alloc)
    whole = np.concatenate([whole.ravel(), np.zeros(1, dtype=np.int64)])
    node_features = np.concatenate([node_features, np.zeros(1, dtype=np.uint64)])
    cdef int64_t now_c = int(now)
    durations = np.minimum(duration_s, INF)
    ends = np.minimum(np.maximum(run_end, now_c + 1), INF)
    keep = ends < INF
    order = np.lexsort((ends[keep], run_node[keep]))
    r_node = np.ascontiguousarray(run_node[keep][order])
    r_end = np.ascontiguousarray(ends[keep][order])
    r_alloc = np.ascontiguousarray(run_alloc[keep][order])
    offsets = np.zeros(n_jobs + 1, dtype=np.intp)
    np.cumsum(n_nodes_req, out=offsets[1:])
    if shape_idx is None:
        shape_idx, n_shapes = _shapes(part_idx, n_nodes_req, requests, feat_all, feat_any, exclusive)
    else:
        _require(shape_idx, "shape_idx", np.intp, 1)
        if shape_idx.shape[0] != n_jobs or (n_jobs and shape_idx.min() < 0):
            raise ValueError("backfill: shape_idx must be (n_jobs,) non-negative values")
        n_shapes = int(shape_idx.max()) + 1 if n_jobs else 0
    if blocks is None:
        blocks = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    block_node, block_start, block_end = blocks[:3]
    block_units = blocks[3] if len(blocks) > 3 else None
    for arr, name, dtype in ((block_node, "block_node", np.intp), (block_start, "block_start", np.int64),
                             (block_end, "block_end", np.int64)):
        _require(arr, name, dtype, 1)
    if not (block_node.shape[0] == block_start.shape[0] == block_end.shape[0]) or \
            (block_node.shape[0] and (block_node.min() < 0 or block_node.max() >= n_nodes)):
        raise ValueError("backfill: blocks disagree, or name a node out of range")
    capacity = n_nodes + r_node.shape[0] + 2 * int(offsets[n_jobs]) + 2 * block_node.shape[0] + 1
    seg_time = np.empty(capacity, dtype=np.int64)
    seg_avail = np.empty(capacity * n_res + 1, dtype=np.int64)
    seg_next = np.empty(capacity, dtype=np.intp)
    head = np.empty(n_nodes + 1, dtype=np.intp)
    cap = np.empty((n_nodes + 1) * n_res, dtype=np.int64)
    shape_fail = np.full(n_shapes + 1, INF + 1, dtype=np.int64)
    blocked = np.zeros(membership.shape[0], dtype=np.uint8)
    node_start = np.empty(n_nodes + 1, dtype=np.int64)
    select_buf = np.empty(n_nodes + 1, dtype=np.int64)
    status = np.empty(n_jobs, dtype=np.int64)
    start = np.empty(n_jobs, dtype=np.int64)
    nodes = np.empty(offsets[n_jobs], dtype=np.intp)

    cdef int64_t[::1] seg_time_v = seg_time
    cdef int64_t[::1] seg_avail_v = seg_avail
    cdef intp_t[::1] seg_next_v = seg_next
    cdef intp_t[::1] head_v = head
    cdef int64_t[::1] cap_v = cap
    cdef const int64_t[::1] whole_v = whole
    cdef const uint64_t[::1] features_v = node_features
    cdef Profiles p
    p.cap = &cap_v[0]
    p.whole = &whole_v[0]
    p.features = &features_v[0]
    p.seg_time = &seg_time_v[0]
    p.seg_avail = &seg_avail_v[0]
    p.seg_next = &seg_next_v[0]
    p.head = &head_v[0]
    p.n_used = 0
    p.capacity = capacity
    p.n_res = n_res
    cdef const int64_t[:, ::1] free_v = free
    cdef const intp_t[::1] r_node_v = r_node
    cdef const int64_t[::1] r_end_v = r_end
    cdef const int64_t[:, ::1] r_alloc_v = r_alloc
    cdef const uint8_t[::1] usable_v = usable
    cdef const uint8_t[:, ::1] membership_v = membership
    cdef const int64_t[:, ::1] requests_v = requests
    cdef const int64_t[::1] n_nodes_v = n_nodes_req
    cdef const intp_t[::1] part_v = part_idx
    cdef const int64_t[::1] duration_v = durations
    cdef const intp_t[::1] shape_v = shape_idx
    cdef const uint64_t[::1] feat_all_v = feat_all
    cdef const uint64_t[::1] feat_any_v = feat_any
    cdef const uint8_t[::1] exclusive_v = exclusive
    cdef const intp_t[::1] offsets_v = offsets
    cdef int64_t[::1] shape_fail_v = shape_fail
    cdef uint8_t[::1] blocked_v = blocked
    cdef int64_t[::1] node_start_v = node_start
    cdef int64_t[::1] select_v = select_buf
    cdef int64_t[::1] status_v = status
    cdef int64_t[::1] start_v = start
    cdef intp_t[::1] nodes_v = nodes
    if no_reserve is None:
        no_reserve = np.zeros(n_jobs, dtype=np.uint8)
    _require(no_reserve, "no_reserve", np.uint8, 1)
    if no_reserve.shape[0] != n_jobs:
        raise ValueError(f"backfill: no_reserve must have {n_jobs} entries")
    no_reserve = np.concatenate([no_reserve, np.zeros(1, dtype=np.uint8)])
    cdef const uint8_t[::1] no_reserve_v = no_reserve
    cdef intp_t depth = min(int(reservation_depth), CONSERVATIVE)
    cdef intp_t n_estimates = max(0, min(int(estimate_depth), n_jobs))
    estimated = np.zeros(n_jobs + 1, dtype=np.uint8)
    cdef uint8_t[::1] estimated_v = estimated
    cdef Groups groups
    cdef Groups *groups_p = NULL
    cdef const int64_t[:, ::1] g_free_v
    cdef const intp_t[::1] g_run_v
    cdef const int64_t[::1] g_end_v
    cdef const int64_t[:, ::1] g_amt_v
    cdef const intp_t[::1] job_off_v
    cdef const intp_t[::1] job_grp_v
    cdef const int64_t[::1] job_amt_v
    cdef const uint8_t[::1] job_binds_v
    cdef int64_t[::1] g_time_v, g_avail_v, g_cap_v
    cdef intp_t[::1] g_next_v, g_head_v
    if limits is not None:
        g_free, g_run, g_end, g_amt, job_off, job_grp, job_amt, job_binds = _limit_arrays(limits, n_jobs, now_c)
        n_groups = g_free.shape[0]
        g_capacity = n_groups + g_run.shape[0] + 2 * job_grp.shape[0] + 1
        g_time, g_avail = np.empty(g_capacity, dtype=np.int64), np.empty(g_capacity + 1, dtype=np.int64)
        g_next, g_head = np.empty(g_capacity, dtype=np.intp), np.empty(n_groups + 1, dtype=np.intp)
        g_cap = np.empty(n_groups + 1, dtype=np.int64)
        job_grp, job_amt, job_binds = (np.concatenate([job_grp, np.zeros(1, dtype=np.intp)]),
                                       np.concatenate([job_amt, np.zeros(1, dtype=np.int64)]),
                                       np.concatenate([job_binds, np.zeros(1, dtype=np.uint8)]))
        g_free_v, g_run_v, g_end_v, g_amt_v = g_free, g_run, g_end, g_amt
        job_off_v, job_grp_v, job_amt_v, job_binds_v = job_off, job_grp, job_amt, job_binds
        g_time_v, g_avail_v, g_next_v, g_head_v, g_cap_v = g_time, g_avail, g_next, g_head, g_cap
        groups.prof.seg_time = &g_time_v[0]
        groups.prof.seg_avail = &g_avail_v[0]
        groups.prof.seg_next = &g_next_v[0]
        groups.prof.head = &g_head_v[0]
        groups.prof.cap = &g_cap_v[0]
        groups.prof.whole = &g_cap_v[0]
        groups.prof.features = &features_v[0]
        groups.prof.n_used = 0
        groups.prof.capacity = g_capacity
        groups.prof.n_res = 1
        groups.job_off = &job_off_v[0]
        groups.job_grp = &job_grp_v[0]
        groups.job_amt = &job_amt_v[0]
        groups.job_binds = &job_binds_v[0]
        groups_p = &groups
        with nogil:
            build_profiles(&groups.prof, g_free_v, g_run_v, g_end_v, g_amt_v, now_c)
    cdef int rc = 0
    cdef intp_t estimates_end = n_jobs
    cdef int64_t budget_ns = int(max(0.0, estimate_budget_s) * 1e9)
    cdef const intp_t[::1] block_node_v = block_node
    cdef const int64_t[::1] block_start_v = block_start
    cdef const int64_t[::1] block_end_v = block_end
    # What each window takes of its node: all of it and more (no job of the pass fits there, even
    # one asking nothing), or the units given (a reservation of some cores: the rest stay usable).
    whole_rows = whole[:n_nodes * n_res].reshape(n_nodes, n_res)[block_node] + 1
    if block_units is None:
        block_units = np.ascontiguousarray(whole_rows)
    else:
        _require(block_units, "block_units", np.int64, 2)
        if block_units.shape[0] != block_node.shape[0] or block_units.shape[1] > n_res or \
                np.any((block_units < 0) & (block_units[:, :1] >= 0)):
            raise ValueError("backfill: block_units must be (n_blocks, k <= n_res): units, or a row of -1")
        padded = np.zeros((block_units.shape[0], n_res), dtype=np.int64)
        padded[:, :block_units.shape[1]] = block_units
        block_units = np.ascontiguousarray(np.where(block_units[:, :1] < 0, whole_rows, padded))
    cdef const int64_t[:, ::1] block_units_v = block_units
    cdef intp_t k
    with nogil:
        build_profiles(&p, free_v, r_node_v, r_end_v, r_alloc_v, now_c)
        for k in range(block_node_v.shape[0]):
            if block_end_v[k] > now_c and rc == 0:
                rc = subtract(&p, block_node_v[k], &block_units_v[k, 0], max(block_start_v[k], now_c),
                              min(block_end_v[k], BF_INF))
        if rc == 0:
            rc = backfill_pass(&p, usable_v, membership_v, requests_v, n_nodes_v, part_v, duration_v, shape_v,
                           feat_all_v, feat_any_v, exclusive_v, now_c, depth, offsets_v, shape_fail_v, blocked_v, node_start_v, select_v,
                           status_v, start_v, nodes_v, groups_p, n_estimates, &estimated_v[0], &no_reserve_v[0],
                           budget_ns, &estimates_end)
    if rc == 0 and forecast and estimates_end < n_jobs and np.any(start[estimates_end:] < 0):
        rc = _forecast(&p, groups_p, usable_v, membership_v, requests_v, n_nodes_v, part_v, duration_v, shape_v,
                       feat_all_v, feat_any_v, exclusive_v, estimates_end, now_c, n_shapes, usable, membership,
                       seg_time, seg_avail, n_nodes, start_v, &estimated_v[0])
    if rc != 0:
        raise RuntimeError("backfill: segment pool exhausted (a bug: its capacity is an upper bound)")
    return status, start, offsets, nodes, estimated[:n_jobs]


cdef int _forecast(Profiles *p, Groups *groups_p, const uint8_t[::1] usable_v, const uint8_t[:, ::1] membership_v,
                   const int64_t[:, ::1] requests_v, const int64_t[::1] n_nodes_v, const intp_t[::1] part_v,
                   const int64_t[::1] duration_v, const intp_t[::1] shape_v, const uint64_t[::1] feat_all_v,
                   const uint64_t[::1] feat_any_v, const uint8_t[::1] exclusive_v, intp_t first_job, int64_t now_c,
                   intp_t n_shapes, usable, membership, seg_time, seg_avail, intp_t n_nodes,
                   int64_t[::1] start_v, uint8_t *estimated) except? -2:
    """Build one pooled profile per partition from the nodes' profiles after the pass (a usable
    member node adds what it has free, a blocked window counting as nothing), then forecast."""
    cdef intp_t n_res = p.n_res, n_used = p.n_used, n_parts = membership.shape[0]
    seg_node = np.empty(n_used + 1, dtype=np.intp)
    seg_prev = np.empty(n_used + 1, dtype=np.intp)
    cdef intp_t[::1] seg_node_v = seg_node
    cdef intp_t[::1] seg_prev_v = seg_prev
    with nogil:
        segment_nodes(p, n_nodes, seg_node_v, seg_prev_v)
    seg_node, seg_prev = seg_node[:n_used], seg_prev[:n_used]
    times = seg_time[:n_used]
    have = np.maximum(seg_avail[:n_used * n_res].reshape(n_used, n_res), 0)
    before = np.where((seg_prev >= 0)[:, None], have[np.maximum(seg_prev, 0)], 0)
    delta = have - before                    # (what each segment changes of its node's share)
    p_time, p_avail, p_next, p_head = [], [], [], np.empty(n_parts + 1, dtype=np.intp)
    n_pool = 0
    for part in range(n_parts):
        member = (np.asarray(membership[part], dtype=bool) & np.asarray(usable, dtype=bool))[seg_node]
        t, d = times[member], delta[member]
        if t.shape[0] == 0:
            t, d = np.array([now_c], dtype=np.int64), np.zeros((1, n_res), dtype=np.int64)
        order = np.argsort(t, kind="stable")
        t, d = t[order], d[order]
        first = np.flatnonzero(np.concatenate(([True], t[1:] != t[:t.shape[0] - 1])))
        step_time, step_avail = t[first], np.cumsum(np.add.reduceat(d, first, axis=0), axis=0)
        k = step_time.shape[0]
        p_head[part] = n_pool
        p_time.append(step_time)
        p_avail.append(step_avail)
        nxt = np.arange(n_pool + 1, n_pool + k + 1, dtype=np.intp)
        nxt[k - 1] = -1
        p_next.append(nxt)
        n_pool += k
    capacity = n_pool + 2 * (requests_v.shape[0] - first_job) + 1
    pool_time = np.empty(capacity, dtype=np.int64)
    pool_avail = np.empty(capacity * n_res + 1, dtype=np.int64)
    pool_next = np.empty(capacity, dtype=np.intp)
    pool_time[:n_pool] = np.concatenate(p_time)
    pool_avail[:n_pool * n_res] = np.concatenate(p_avail).ravel()
    pool_next[:n_pool] = np.concatenate(p_next)
    pool_cap = np.zeros((n_parts + 1) * n_res, dtype=np.int64)   # (unread: the pool's search is unbounded)
    cdef int64_t[::1] pool_time_v = pool_time
    cdef int64_t[::1] pool_avail_v = pool_avail
    cdef intp_t[::1] pool_next_v = pool_next
    cdef intp_t[::1] pool_head_v = p_head
    cdef int64_t[::1] pool_cap_v = pool_cap
    cdef Profiles pool
    pool.seg_time = &pool_time_v[0]
    pool.seg_avail = &pool_avail_v[0]
    pool.seg_next = &pool_next_v[0]
    pool.head = &pool_head_v[0]
    pool.cap = &pool_cap_v[0]
    pool.whole = &pool_cap_v[0]
    pool.features = p.features
    pool.n_used = n_pool
    pool.capacity = capacity
    pool.n_res = n_res
    shape_ok = np.full(n_shapes + 1, -1, dtype=np.int64)
    # A partition's forecasts start no earlier than the latest start planned before them there
    # (started, reserved or estimated): they come after those jobs in the queue, and a start that
    # does not hang on `now` stays put from one pass to the next.
    cursor = np.full(n_parts + 1, now_c, dtype=np.int64)
    before = np.asarray(start_v)[:first_job]
    planned = before >= 0
    if planned.any():
        np.maximum.at(cursor, np.asarray(part_v)[:first_job][planned], before[planned])
    pool_request = np.empty(n_res + 1, dtype=np.int64)
    cdef int64_t[::1] shape_ok_v = shape_ok
    cdef int64_t[::1] cursor_v = cursor
    cdef int64_t[::1] pool_request_v = pool_request
    n_groups = groups_p.prof.capacity if groups_p != NULL else 0
    group_hint = np.full(n_groups + 1, -1, dtype=np.intp)   # (indexed by group: fewer than segments)
    cdef intp_t[::1] group_hint_v = group_hint
    cdef int rc
    with nogil:
        rc = forecast_pass(p, &pool, groups_p, usable_v, membership_v, requests_v, n_nodes_v, part_v, duration_v,
                           shape_v, feat_all_v, feat_any_v, exclusive_v, first_job, now_c, shape_ok_v, cursor_v,
                           pool_request_v, &group_hint_v[0], start_v, estimated)
    return rc
