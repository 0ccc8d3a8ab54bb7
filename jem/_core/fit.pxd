from jem._core._types cimport int64_t, intp_t, uint8_t

# Status codes of a pending job after a first-fit pass.
cdef enum:
    FIT_STARTED = 0      # assigned nodes in this pass
    FIT_RESOURCES = 1    # first blocked job of its partition: waits for resources
    FIT_PRIORITY = 2     # behind a blocked higher-priority job of its partition

cdef intp_t mark_fitting_nodes(
    const int64_t[:, ::1] free,        # (n_nodes, n_res) free units per node
    const int64_t[::1] request,        # (n_res,) units requested per node
    const uint8_t[::1] allowed,        # (n_nodes,) 1 where the job may run
    uint8_t[::1] out_fits,             # (n_nodes,) set to 1 where the request fits
) noexcept nogil                       # returns the number of fitting nodes

cdef int first_fit_pass(
    int64_t[:, ::1] free,              # (n_nodes, n_res) scratch copy, decremented in place
    const uint8_t[::1] usable,         # (n_nodes,) 1 where new jobs may start
    const uint8_t[:, ::1] membership,  # (n_parts, n_nodes) 1 where node is in partition
    const int64_t[:, ::1] requests,    # (n_jobs, n_res) per-node request, priority order
    const int64_t[::1] n_nodes_req,    # (n_jobs,) nodes wanted
    const intp_t[::1] part_idx,        # (n_jobs,) partition row of each job
    const intp_t[::1] offsets,         # (n_jobs + 1,) start of each job's slots in out_nodes
    uint8_t[::1] part_blocked,         # (n_parts,) scratch, zeroed by the caller
    int64_t[::1] out_status,           # (n_jobs,) FIT_* per job
    intp_t[::1] out_nodes,             # (offsets[n_jobs],) node index per slot, -1 if not started
) noexcept nogil                       # returns 0
