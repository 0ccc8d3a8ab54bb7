from jem._core._types cimport int64_t, intp_t, uint8_t, uint64_t
from jem._core.backfill cimport Profiles

# Scratch arrays of one replay, preallocated by the wrapper (n = jobs, procs = machine).
cdef struct Scratch:
    intp_t *queue            # (n,) the jobs one pass plans, in submit order
    intp_t *q_next           # (n + 1,) pending jobs as a list in submit order; n is the head sentinel
    intp_t *q_prev           # (n + 1,)
    int64_t *heap_t          # (n,) completion heap: actual end
    intp_t *heap_j           # (n,) completion heap: job
    intp_t *run_job          # (procs,) running jobs, sorted by expected end
    int64_t *n_of_size       # (procs + 1,) queued jobs of each size
    uint64_t *has_size       # (procs // 64 + 1,) bit s set when n_of_size[s] > 0
    int64_t min_queued       # smallest queued size (> procs when the queue is empty)
    intp_t n_queue
    intp_t n_heap
    intp_t n_running

cdef int replay_loop(
    const int64_t[::1] submit_s,       # (n,) non-decreasing
    const int64_t[::1] run_s,          # (n,) >= 0
    const int64_t[::1] size,           # (n,) processors, 1..procs
    const int64_t[::1] estimate_s,     # (n,) >= max(run_s, 1)
    int64_t procs,
    intp_t reservation_depth,
    Profiles *p,
    Scratch *s,
    int64_t[:, ::1] free1,             # (1, n_res) scratch
    const uint8_t[::1] usable1,        # (1,) = 1
    const uint8_t[:, ::1] member1,     # (1, 1) = 1
    const intp_t[::1] zeros_n,         # (max(n, procs),) = 0: node and partition indices
    const int64_t[::1] ones_n,         # (n,) = 1: node counts
    const uint64_t[::1] no_features,   # (n,) = 0: trace jobs ask for no node features
    const uint8_t[::1] not_exclusive,  # (n,) = 0: nor whole nodes
    const intp_t[::1] offsets,         # (n + 1,) = 0, 1, ..., n
    int64_t[::1] run_end,              # (procs,) scratch: expected ends, sorted
    int64_t[:, ::1] run_alloc,         # (procs, n_res) scratch
    int64_t[:, ::1] requests,          # (n, n_res) scratch
    int64_t[::1] duration,             # (n,) scratch
    intp_t[::1] shape,                 # (n,) scratch
    int64_t[::1] shape_fail,           # (procs + 1,) scratch
    uint8_t[::1] blocked,              # (1,) scratch
    int64_t[::1] node_start,           # (1,) scratch
    int64_t[::1] select_buf,           # (1,) scratch
    int64_t[::1] status,               # (n,) scratch
    int64_t[::1] start_buf,            # (n,) scratch
    intp_t[::1] nodes_buf,             # (n,) scratch
    int64_t[::1] out_start,            # (n,) start time of each job
) noexcept nogil                       # returns 0, -1 if the segment pool ran out
