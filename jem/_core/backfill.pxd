from jem._core._types cimport int64_t, intp_t, uint8_t, uint64_t

# Outcome of a pending job after one backfill pass (BF_* mirror jem._core.fit's first three).
cdef enum:
    BF_STARTED = 0       # starts now; no higher-priority job of the pass was blocked
    BF_RESOURCES = 1     # blocked: waits for resources (with a planned start if it holds a reservation)
    BF_PRIORITY = 2      # waits behind higher-priority jobs (no reservation)
    BF_BACKFILLED = 3    # starts now, ahead of a blocked higher-priority job, delaying no reservation
    BF_LIMIT = 4         # its nodes are free now, an association or QOS limit is not (no reservation)

# Per-node availability profiles: one linked list of segments per node, in a pool.
# Segment s covers [seg_time[s], seg_time[seg_next[s]]) (the last one up to BF_INF)
# with seg_avail[s, :] units available.
cdef struct Profiles:
    int64_t *seg_time      # (capacity,)
    int64_t *seg_avail     # (capacity * n_res,)
    intp_t *seg_next       # (capacity,) -1 ends a node's list
    intp_t *head           # (n_nodes,) first segment of each node (starts at now)
    int64_t *cap           # (n_nodes * n_res,) units once every running job ended: no segment has more
    const int64_t *whole   # (n_nodes * n_res,) the node's capacity: what an exclusive job takes
    const uint64_t *features  # (n_nodes,) feature bitmask of each node
    intp_t n_used          # segments in use
    intp_t capacity
    intp_t n_res

# What one pending job asks of each node it may use.
cdef struct Ask:
    const int64_t *request   # (n_res,) units per node (an exclusive job takes the node's `whole` instead)
    intp_t part              # partition row
    uint64_t feat_all        # a node must have every one of these features
    uint64_t feat_any        # ... and, when nonzero, at least one of these
    bint is_exclusive        # the job takes whole nodes

# Association and QOS limits as resources over time: one one-column profile per limit
# ("group": a holder's column with its limit), whose units are the limit less what the
# holder's running jobs hold, and step up as they end. Job j counts in the groups
# job_grp[job_off[j]:job_off[j+1]] (job_amt units each) and must fit in those of them
# where job_binds is 1 (a group whose limit a QOS masks for j still counts j's usage).
cdef struct Groups:
    Profiles prof
    const intp_t *job_off     # (n_jobs + 1,)
    const intp_t *job_grp     # (n_member,) group of each membership
    const int64_t *job_amt    # (n_member,) units the job holds there
    const uint8_t *job_binds  # (n_member,) 1 where the group's limit binds the job

cdef bint fits_window(Profiles *p, intp_t node_idx, const int64_t *request,
                      int64_t t0, int64_t t1) noexcept nogil

cdef int64_t earliest_fit(Profiles *p, intp_t node_idx, const int64_t *request,
                          int64_t t0, int64_t duration, int64_t limit) noexcept nogil

cdef int subtract(Profiles *p, intp_t node_idx, const int64_t *request,
                  int64_t t0, int64_t t1) noexcept nogil

cdef int build_profiles(
    Profiles *p,                         # n_used = 0 on entry; head has n_nodes entries
    const int64_t[:, ::1] free,          # (n_nodes, n_res) units free now
    const intp_t[::1] run_node,          # (n_pairs,) sorted, with run_end, by (node, end)
    const int64_t[::1] run_end,          # (n_pairs,) each > now
    const int64_t[:, ::1] run_alloc,     # (n_pairs, n_res) units returned at run_end
    int64_t now,
) noexcept nogil                         # returns 0

cdef int backfill_pass(
    Profiles *p,
    const uint8_t[::1] usable,           # (n_nodes,) 1 where new jobs may start
    const uint8_t[:, ::1] membership,    # (n_parts, n_nodes) 1 where node is in partition
    const int64_t[:, ::1] requests,      # (n_jobs, n_res) per-node request, priority order
    const int64_t[::1] n_nodes_req,      # (n_jobs,) nodes wanted
    const intp_t[::1] part_idx,          # (n_jobs,) partition row of each job
    const int64_t[::1] duration_s,       # (n_jobs,) time limit, BF_INF-capped
    const intp_t[::1] shape_idx,         # (n_jobs,) jobs with equal (partition, request, n_nodes, features,
                                         #   exclusive) share it
    const uint64_t[::1] feat_all,        # (n_jobs,) features a node must all have
    const uint64_t[::1] feat_any,        # (n_jobs,) features a node must have one of (0: no such rule)
    const uint8_t[::1] exclusive,        # (n_jobs,) 1 where the job takes whole nodes
    int64_t now,
    intp_t reservation_depth,
    const intp_t[::1] offsets,           # (n_jobs + 1,) start of each job's slots in out_nodes
    int64_t[::1] shape_fail,             # (n_shapes,) scratch: shortest duration that did not fit now
    uint8_t[::1] part_blocked,           # (n_parts,) scratch, zeroed by the caller
    int64_t[::1] node_start,             # (n_nodes,) scratch
    int64_t[::1] select_buf,             # (n_nodes,) scratch
    int64_t[::1] out_status,             # (n_jobs,) BF_* per job
    int64_t[::1] out_start,              # (n_jobs,) planned start (now if started), -1 if none
    intp_t[::1] out_nodes,               # (offsets[n_jobs],) node index per slot, -1 if none
    Groups *groups,                      # the limits, or NULL for none
    intp_t estimate_depth,               # jobs given an estimate after the pass, at most (0: none)
    uint8_t *out_estimated,              # (n_jobs,) set to 1 where out_start is an estimate; NULL if depth 0
    const uint8_t *no_reserve,           # (n_jobs,) 1 where a blocked job takes no reservation (a QOS's
                                         #   NoReserve); NULL: none
    int64_t estimate_budget_ns,          # nanoseconds the estimates may take (0: no bound)
    intp_t *out_estimates_end,           # set to the first job the estimates did not reach (n_jobs: none)
) noexcept nogil                         # returns 0, or -1 if the segment pool ran out
