"""Replay of a rigid-job trace on one machine of `procs` processors, every pass
through jem._core.backfill's `backfill_pass`.

The event loop of jem.scheduler.sim, in C, for queues in submit order: at each
instant, completions (actual ends), then arrivals, then one pass, skipped when
no queued job fits in the free processors (at depth 0: when the head does not,
since it blocks the rest). The pending jobs form a linked list in submit order;
a pass plans only those whose outcome it can change (see `_gather`), so plain
priority order costs what starts, EASY one scan of the list. The machine is one node of `procs`
CPUs (rigid jobs of single-CPU nodes only need a count), with one resource
column, CPUs (the kernel takes any number of columns); a running job holds
its processors in the planner until start + estimate. Times are integer
seconds; the output is each job's start time.
"""

import numpy as np

cimport numpy as cnp
from jem._core._types cimport int64_t, intp_t, uint8_t, uint64_t, RES_CPU
from jem._core.backfill cimport BF_STARTED, BF_BACKFILLED, Profiles, backfill_pass, build_profiles

cnp.import_array()

cdef int64_t INF = 1 << 60


cdef void _heap_push(Scratch *s, int64_t t, intp_t j) noexcept nogil:
    cdef intp_t i = s.n_heap, parent
    s.n_heap += 1
    while i > 0:
        parent = (i - 1) // 2
        if s.heap_t[parent] <= t:
            break
        s.heap_t[i] = s.heap_t[parent]
        s.heap_j[i] = s.heap_j[parent]
        i = parent
    s.heap_t[i] = t
    s.heap_j[i] = j


cdef intp_t _heap_pop(Scratch *s) noexcept nogil:
    cdef intp_t top = s.heap_j[0], i = 0, child
    cdef int64_t t
    cdef intp_t j
    s.n_heap -= 1
    t = s.heap_t[s.n_heap]
    j = s.heap_j[s.n_heap]
    while True:
        child = 2 * i + 1
        if child >= s.n_heap:
            break
        if child + 1 < s.n_heap and s.heap_t[child + 1] < s.heap_t[child]:
            child += 1
        if s.heap_t[child] >= t:
            break
        s.heap_t[i] = s.heap_t[child]
        s.heap_j[i] = s.heap_j[child]
        i = child
    s.heap_t[i] = t
    s.heap_j[i] = j
    return top


cdef void _run_insert(Scratch *s, int64_t[::1] run_end, int64_t[:, ::1] run_alloc, intp_t j,
                      int64_t exp_end, int64_t procs_j) noexcept nogil:
    """Insert job j into the running list, kept sorted by expected end."""
    cdef intp_t i = s.n_running
    s.n_running += 1
    while i > 0 and run_end[i - 1] > exp_end:
        run_end[i] = run_end[i - 1]
        run_alloc[i, RES_CPU] = run_alloc[i - 1, RES_CPU]
        s.run_job[i] = s.run_job[i - 1]
        i -= 1
    run_end[i] = exp_end
    run_alloc[i, RES_CPU] = procs_j
    s.run_job[i] = j


cdef void _run_remove(Scratch *s, int64_t[::1] run_end, int64_t[:, ::1] run_alloc, intp_t j) noexcept nogil:
    cdef intp_t i = 0
    while s.run_job[i] != j:
        i += 1
    while i + 1 < s.n_running:
        run_end[i] = run_end[i + 1]
        run_alloc[i, RES_CPU] = run_alloc[i + 1, RES_CPU]
        s.run_job[i] = s.run_job[i + 1]
        i += 1
    s.n_running -= 1


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil


cdef inline void _queue_size_came(Scratch *s, int64_t size_j) noexcept nogil:
    if s.n_of_size[size_j] == 0:
        s.has_size[size_j >> 6] |= (<uint64_t>1) << (size_j & 63)
    s.n_of_size[size_j] += 1
    s.min_queued = min(s.min_queued, size_j)


cdef inline void _queue_size_gone(Scratch *s, int64_t size_j, int64_t procs) noexcept nogil:
    """One queued job of `size_j` left the queue: keep the smallest queued size up to date,
    by the next set bit of `has_size` (64 sizes a word)."""
    cdef intp_t word
    cdef uint64_t bits
    s.n_of_size[size_j] -= 1
    if s.n_of_size[size_j] > 0:
        return
    s.has_size[size_j >> 6] &= ~((<uint64_t>1) << (size_j & 63))
    if size_j != s.min_queued:
        return
    word = size_j >> 6
    bits = s.has_size[word] & (~(<uint64_t>0) << (size_j & 63))
    while bits == 0:
        word += 1
        if word > (procs >> 6):
            s.min_queued = procs + 1
            return
        bits = s.has_size[word]
    s.min_queued = (word << 6) + __builtin_ctzll(bits)


cdef inline void _unlink(Scratch *s, intp_t j) noexcept nogil:
    s.q_next[s.q_prev[j]] = s.q_next[j]
    s.q_prev[s.q_next[j]] = s.q_prev[j]
    s.n_queue -= 1


cdef intp_t _gather(Scratch *s, const int64_t[::1] size, const int64_t[::1] estimate_s, int64_t free,
                    intp_t reservation_depth, intp_t sentinel, int64_t[:, ::1] requests, int64_t[::1] duration,
                    intp_t[::1] shape, int64_t[::1] shape_fail) noexcept nogil:
    """Copy into the pass arrays the pending jobs whose outcome this pass can change; returns how many.

    Jobs start in order while they fit (one node: while the sizes add up to at most
    `free`); the first that does not is the blocked head. After it, plain priority
    order starts nothing, and EASY starts only jobs that fit in what the leading jobs
    leave free (the later ones, delaying no reservation, would get none of their own:
    depth 1 is spent on the head). Conservative backfill plans every job."""
    cdef intp_t j = s.q_next[sentinel], m = 0
    cdef int64_t avail = free
    cdef bint is_blocked = False
    while j != sentinel:
        if not is_blocked:
            if size[j] <= avail:
                avail -= size[j]
            else:
                is_blocked = True
        elif reservation_depth == 0 or (reservation_depth == 1 and avail < s.min_queued):
            break                          # no later job can start
        elif reservation_depth == 1 and size[j] > avail:
            j = s.q_next[j]
            continue
        s.queue[m] = j
        requests[m, RES_CPU] = size[j]
        duration[m] = estimate_s[j]
        shape[m] = size[j]
        shape_fail[size[j]] = INF + 1      # the shapes (sizes) this pass can meet
        m += 1
        j = s.q_next[j]
    return m


cdef int replay_loop(
    const int64_t[::1] submit_s, const int64_t[::1] run_s, const int64_t[::1] size,
    const int64_t[::1] estimate_s, int64_t procs, intp_t reservation_depth, Profiles *p, Scratch *s,
    int64_t[:, ::1] free1, const uint8_t[::1] usable1, const uint8_t[:, ::1] member1,
    const intp_t[::1] zeros_n, const int64_t[::1] ones_n, const uint64_t[::1] no_features,
    const uint8_t[::1] not_exclusive, const intp_t[::1] offsets,
    int64_t[::1] run_end, int64_t[:, ::1] run_alloc, int64_t[:, ::1] requests, int64_t[::1] duration,
    intp_t[::1] shape, int64_t[::1] shape_fail, uint8_t[::1] blocked, int64_t[::1] node_start,
    int64_t[::1] select_buf, int64_t[::1] status, int64_t[::1] start_buf, intp_t[::1] nodes_buf,
    int64_t[::1] out_start,
) noexcept nogil:
    cdef intp_t n = submit_s.shape[0], arrived = 0, k, j, q, estimates_end
    cdef int64_t now, free = procs, min_size
    s.q_next[n], s.q_prev[n] = n, n
    while arrived < n or s.n_heap > 0:
        now = submit_s[arrived] if arrived < n else INF
        if s.n_heap > 0 and s.heap_t[0] < now:
            now = s.heap_t[0]
        while s.n_heap > 0 and s.heap_t[0] <= now:
            j = _heap_pop(s)
            _run_remove(s, run_end, run_alloc, j)
            free += size[j]
        while arrived < n and submit_s[arrived] <= now:
            s.q_prev[arrived], s.q_next[arrived] = s.q_prev[n], n     # append to the pending list
            s.q_next[s.q_prev[n]] = arrived
            s.q_prev[n] = arrived
            _queue_size_came(s, size[arrived])
            s.n_queue += 1
            arrived += 1
        if s.n_queue == 0:
            continue
        # A pass can start nothing unless some queued job fits in the free processors;
        # in plain priority order, unless the head does (it blocks the rest).
        min_size = size[s.q_next[n]] if reservation_depth == 0 else s.min_queued
        if min_size > free:
            continue
        q = _gather(s, size, estimate_s, free, reservation_depth, n, requests, duration, shape, shape_fail)
        blocked[0] = 0
        free1[0, RES_CPU] = free
        p.n_used = 0
        build_profiles(p, free1, zeros_n[:s.n_running], run_end[:s.n_running], run_alloc[:s.n_running], now)
        if backfill_pass(p, usable1, member1, requests[:q], ones_n[:q], zeros_n[:q], duration[:q], shape[:q],
                         no_features[:q], no_features[:q], not_exclusive[:q], now, reservation_depth,
                         offsets[:q + 1], shape_fail, blocked, node_start, select_buf,
                         status[:q], start_buf[:q], nodes_buf[:q], NULL, 0, NULL, NULL, 0, &estimates_end) != 0:
            return -1
        for k in range(q):
            if status[k] == BF_STARTED or status[k] == BF_BACKFILLED:
                j = s.queue[k]
                out_start[j] = now
                free -= size[j]
                _run_insert(s, run_end, run_alloc, j, now + estimate_s[j], size[j])
                _heap_push(s, now + run_s[j], j)
                _unlink(s, j)
                _queue_size_gone(s, size[j], procs)
    return 0


def _check_trace(submit_s, run_s, size, estimate_s, procs, reservation_depth):
    arrays = (submit_s, run_s, size, estimate_s)
    for arr, name in zip(arrays, ("submit_s", "run_s", "size", "estimate_s")):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.ndim != 1 \
                or not arr.flags.c_contiguous or arr.shape[0] != submit_s.shape[0]:
            raise ValueError(f"replay: {name} must be a C-contiguous 1-d int64 array like submit_s")
    n = submit_s.shape[0]
    if procs < 1 or reservation_depth < 0:
        raise ValueError("replay: procs must be >= 1 and reservation_depth >= 0")
    if n and ((np.diff(submit_s) < 0).any() or run_s.min() < 0 or size.min() < 1 or size.max() > procs
              or (estimate_s < np.maximum(run_s, 1)).any()):
        raise ValueError("replay: submit_s must be sorted, 1 <= size <= procs, estimate_s >= max(run_s, 1)")


def replay(submit_s, run_s, size, estimate_s, *, procs, reservation_depth):
    """Start time (n,) int64 of each job of a trace replayed in submit order on `procs` processors.

    submit_s (n,) int64 non-decreasing; run_s (n,) int64 >= 0; size (n,) int64 in
    [1, procs]; estimate_s (n,) int64 >= max(run_s, 1); reservation_depth as for
    jem._core.backfill.backfill (0 fcfs, 1 EASY, CONSERVATIVE).
    """
    _check_trace(submit_s, run_s, size, estimate_s, procs, reservation_depth)
    n = submit_s.shape[0]
    n_res = RES_CPU + 1       # only processors are counted: the planner works on the CPU column alone
    capacity = 1 + procs + 2 * n + 1
    seg_time = np.empty(capacity, dtype=np.int64)
    seg_avail = np.empty(capacity * n_res, dtype=np.int64)
    seg_next = np.empty(capacity, dtype=np.intp)
    head = np.empty(1, dtype=np.intp)
    cap = np.empty(n_res, dtype=np.int64)
    queue = np.empty(n + 1, dtype=np.intp)
    q_next = np.empty(n + 1, dtype=np.intp)
    q_prev = np.empty(n + 1, dtype=np.intp)
    heap_t = np.empty(n + 1, dtype=np.int64)
    heap_j = np.empty(n + 1, dtype=np.intp)
    run_job = np.empty(procs + 1, dtype=np.intp)
    out_start = np.full(n, -1, dtype=np.int64)
    cdef int64_t[::1] seg_time_v = seg_time
    cdef int64_t[::1] seg_avail_v = seg_avail
    cdef intp_t[::1] seg_next_v = seg_next
    cdef intp_t[::1] head_v = head
    cdef int64_t[::1] cap_v = cap
    cdef intp_t[::1] queue_v = queue
    cdef intp_t[::1] q_next_v = q_next
    cdef intp_t[::1] q_prev_v = q_prev
    cdef int64_t[::1] heap_t_v = heap_t
    cdef intp_t[::1] heap_j_v = heap_j
    cdef intp_t[::1] run_job_v = run_job
    cdef Profiles prof
    prof.seg_time, prof.seg_avail, prof.seg_next, prof.head = &seg_time_v[0], &seg_avail_v[0], &seg_next_v[0], &head_v[0]
    prof.n_used, prof.capacity, prof.n_res, prof.cap = 0, capacity, n_res, &cap_v[0]
    cdef const uint64_t[::1] no_features = np.zeros(n + 1, dtype=np.uint64)   # trace jobs ask for no features
    cdef const uint8_t[::1] not_exclusive = np.zeros(n + 1, dtype=np.uint8)
    prof.features, prof.whole = &no_features[0], &cap_v[0]
    cdef Scratch scratch
    scratch.queue, scratch.heap_t, scratch.heap_j, scratch.run_job = &queue_v[0], &heap_t_v[0], &heap_j_v[0], &run_job_v[0]
    scratch.n_queue, scratch.n_heap, scratch.n_running = 0, 0, 0
    scratch.q_next, scratch.q_prev = &q_next_v[0], &q_prev_v[0]
    n_of_size = np.zeros(procs + 2, dtype=np.int64)
    cdef int64_t[::1] n_of_size_v = n_of_size
    scratch.n_of_size, scratch.min_queued = &n_of_size_v[0], procs + 1
    has_size = np.zeros(procs // 64 + 2, dtype=np.uint64)
    cdef uint64_t[::1] has_size_v = has_size
    scratch.has_size = &has_size_v[0]
    cdef int64_t[:, ::1] free1 = np.zeros((1, n_res), dtype=np.int64)
    cdef const uint8_t[::1] usable1 = np.ones(1, dtype=np.uint8)
    cdef const uint8_t[:, ::1] member1 = np.ones((1, 1), dtype=np.uint8)
    cdef const intp_t[::1] zeros_n = np.zeros(max(n, procs) + 1, dtype=np.intp)
    cdef const int64_t[::1] ones_n = np.ones(n + 1, dtype=np.int64)
    cdef const intp_t[::1] offsets = np.arange(n + 1, dtype=np.intp)
    cdef int64_t[::1] run_end = np.zeros(procs + 1, dtype=np.int64)
    cdef int64_t[:, ::1] run_alloc = np.zeros((procs + 1, n_res), dtype=np.int64)
    cdef int64_t[:, ::1] requests = np.zeros((n + 1, n_res), dtype=np.int64)
    cdef int64_t[::1] duration = np.zeros(n + 1, dtype=np.int64)
    cdef intp_t[::1] shape = np.zeros(n + 1, dtype=np.intp)
    cdef int64_t[::1] shape_fail = np.zeros(procs + 1, dtype=np.int64)
    cdef uint8_t[::1] blocked = np.zeros(1, dtype=np.uint8)
    cdef int64_t[::1] node_start = np.zeros(1, dtype=np.int64)
    cdef int64_t[::1] select_buf = np.zeros(1, dtype=np.int64)
    cdef int64_t[::1] status = np.zeros(n + 1, dtype=np.int64)
    cdef int64_t[::1] start_buf = np.zeros(n + 1, dtype=np.int64)
    cdef intp_t[::1] nodes_buf = np.zeros(n + 1, dtype=np.intp)
    cdef const int64_t[::1] submit_v = submit_s
    cdef const int64_t[::1] run_v = run_s
    cdef const int64_t[::1] size_v = size
    cdef const int64_t[::1] estimate_v = estimate_s
    cdef int64_t[::1] out_v = out_start
    cdef int64_t procs_c = procs
    cdef intp_t depth = min(int(reservation_depth), 1 << 40)
    cdef int rc
    with nogil:
        rc = replay_loop(submit_v, run_v, size_v, estimate_v, procs_c, depth, &prof, &scratch, free1, usable1,
                         member1, zeros_n, ones_n, no_features, not_exclusive, offsets, run_end, run_alloc, requests, duration, shape,
                         shape_fail, blocked, node_start, select_buf, status, start_buf, nodes_buf, out_v)
    if rc != 0:
        raise RuntimeError("replay: segment pool exhausted (a bug: its capacity is an upper bound)")
    return out_start
