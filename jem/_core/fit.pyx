"""Priority-order first fit: start jobs in order while they fit; a job that does
not fit blocks the lower-priority jobs of its partition (no backfill).

Arrays are int64 resource units (CPUs, MiB, GPUs) in jem.model.resources.Res
column order, rows = nodes. The wrapper checks shapes and dtypes, allocates
the outputs, and runs the nogil loop on a scratch copy of `free`.
"""

import numpy as np

cimport numpy as cnp
from jem._core._types cimport int64_t, intp_t, uint8_t

cnp.import_array()

STARTED = FIT_STARTED
RESOURCES = FIT_RESOURCES
PRIORITY = FIT_PRIORITY


cdef intp_t mark_fitting_nodes(
    const int64_t[:, ::1] free,
    const int64_t[::1] request,
    const uint8_t[::1] allowed,
    uint8_t[::1] out_fits,
) noexcept nogil:
    cdef intp_t n_nodes = free.shape[0]
    cdef intp_t n_res = free.shape[1]
    cdef intp_t node_idx, res, n_fit = 0
    cdef uint8_t fits
    for node_idx in range(n_nodes):
        fits = allowed[node_idx]
        if fits:
            for res in range(n_res):
                if request[res] > free[node_idx, res]:
                    fits = 0
                    break
        out_fits[node_idx] = fits
        n_fit += fits
    return n_fit


cdef inline bint _fits(int64_t[:, ::1] free, const int64_t[:, ::1] requests,
                       intp_t node_idx, intp_t job_idx) noexcept nogil:
    cdef intp_t res
    for res in range(free.shape[1]):
        if requests[job_idx, res] > free[node_idx, res]:
            return False
    return True


cdef int first_fit_pass(
    int64_t[:, ::1] free,
    const uint8_t[::1] usable,
    const uint8_t[:, ::1] membership,
    const int64_t[:, ::1] requests,
    const int64_t[::1] n_nodes_req,
    const intp_t[::1] part_idx,
    const intp_t[::1] offsets,
    uint8_t[::1] part_blocked,
    int64_t[::1] out_status,
    intp_t[::1] out_nodes,
) noexcept nogil:
    cdef intp_t n_jobs = requests.shape[0]
    cdef intp_t n_nodes = free.shape[0]
    cdef intp_t n_res = free.shape[1]
    cdef intp_t job_idx, node_idx, slot, res, part, found
    for slot in range(out_nodes.shape[0]):
        out_nodes[slot] = -1
    for job_idx in range(n_jobs):
        part = part_idx[job_idx]
        if part_blocked[part]:
            out_status[job_idx] = FIT_PRIORITY
            continue
        found = 0
        slot = offsets[job_idx]
        for node_idx in range(n_nodes):
            if found == n_nodes_req[job_idx]:
                break
            if usable[node_idx] and membership[part, node_idx] and _fits(free, requests, node_idx, job_idx):
                out_nodes[slot + found] = node_idx
                found += 1
        if found == n_nodes_req[job_idx] and found > 0:
            for slot in range(offsets[job_idx], offsets[job_idx] + found):
                node_idx = out_nodes[slot]
                for res in range(n_res):
                    free[node_idx, res] -= requests[job_idx, res]
            out_status[job_idx] = FIT_STARTED
        else:
            for slot in range(offsets[job_idx], offsets[job_idx] + found):
                out_nodes[slot] = -1
            out_status[job_idx] = FIT_RESOURCES
            part_blocked[part] = 1
    return 0


def _require(arr, name, dtype, ndim):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype or arr.ndim != ndim or not arr.flags.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous {ndim}-d {np.dtype(dtype).name} array, "
                         f"got {arr.ndim}-d {arr.dtype} (contiguous={arr.flags.c_contiguous})")


def fitting_nodes(free, request, allowed):
    """Mask of nodes where `request` fits in `free` and `allowed` is set."""
    _require(free, "free", np.int64, 2)
    _require(request, "request", np.int64, 1)
    _require(allowed, "allowed", np.uint8, 1)
    if request.shape[0] != free.shape[1] or allowed.shape[0] != free.shape[0]:
        raise ValueError("fitting_nodes: shapes disagree")
    out = np.zeros(free.shape[0], dtype=np.uint8)
    cdef const int64_t[:, ::1] free_v = free
    cdef const int64_t[::1] request_v = request
    cdef const uint8_t[::1] allowed_v = allowed
    cdef uint8_t[::1] out_v = out
    with nogil:
        mark_fitting_nodes(free_v, request_v, allowed_v, out_v)
    return out


def first_fit(free, usable, membership, requests, n_nodes_req, part_idx):
    """Run one priority-order first-fit pass over jobs given in priority order.

    Returns (status, offsets, nodes): status[j] is STARTED, RESOURCES or
    PRIORITY; job j's nodes are nodes[offsets[j]:offsets[j+1]] (-1 unless started).
    `free` is not modified.
    """
    _require(free, "free", np.int64, 2)
    _require(usable, "usable", np.uint8, 1)
    _require(membership, "membership", np.uint8, 2)
    _require(requests, "requests", np.int64, 2)
    _require(n_nodes_req, "n_nodes_req", np.int64, 1)
    _require(part_idx, "part_idx", np.intp, 1)
    n_nodes, n_res = free.shape[0], free.shape[1]
    n_jobs = requests.shape[0]
    if usable.shape[0] != n_nodes or membership.shape[1] != n_nodes:
        raise ValueError("first_fit: node dimension disagrees")
    if requests.shape[1] != n_res or n_nodes_req.shape[0] != n_jobs or part_idx.shape[0] != n_jobs:
        raise ValueError("first_fit: job dimension disagrees")
    if n_jobs and (part_idx.min() < 0 or part_idx.max() >= membership.shape[0]):
        raise ValueError("first_fit: part_idx out of range")
    if n_jobs and n_nodes_req.min() < 1:
        raise ValueError("first_fit: every job needs at least one node")
    offsets = np.zeros(n_jobs + 1, dtype=np.intp)
    np.cumsum(n_nodes_req, out=offsets[1:])
    scratch = free.copy()
    blocked = np.zeros(membership.shape[0], dtype=np.uint8)
    status = np.empty(n_jobs, dtype=np.int64)
    nodes = np.empty(offsets[n_jobs], dtype=np.intp)
    cdef int64_t[:, ::1] scratch_v = scratch
    cdef const uint8_t[::1] usable_v = usable
    cdef const uint8_t[:, ::1] membership_v = membership
    cdef const int64_t[:, ::1] requests_v = requests
    cdef const int64_t[::1] n_nodes_v = n_nodes_req
    cdef const intp_t[::1] part_v = part_idx
    cdef const intp_t[::1] offsets_v = offsets
    cdef uint8_t[::1] blocked_v = blocked
    cdef int64_t[::1] status_v = status
    cdef intp_t[::1] nodes_v = nodes
    with nogil:
        first_fit_pass(scratch_v, usable_v, membership_v, requests_v, n_nodes_v, part_v,
                       offsets_v, blocked_v, status_v, nodes_v)
    return status, offsets, nodes
