"""Typed Python surface of jem._core.backfill (shapes in comments)."""

import numpy as np
import numpy.typing as npt

STARTED: int
RESOURCES: int
PRIORITY: int
BACKFILLED: int
LIMIT: int          # its nodes are free now, an association or QOS limit is not
INF: int            # 2**60 s: "never" / unlimited
CONSERVATIVE: int   # a reservation depth that gives every pending job a reservation

def backfill(
    free: npt.NDArray[np.int64],          # (n_nodes, n_res) const int64_t[:, ::1]
    usable: npt.NDArray[np.uint8],        # (n_nodes,) const uint8_t[::1]
    *,
    membership: npt.NDArray[np.uint8],    # (n_parts, n_nodes) const uint8_t[:, ::1]
    requests: npt.NDArray[np.int64],      # (n_jobs, n_res) const int64_t[:, ::1], priority order
    n_nodes_req: npt.NDArray[np.int64],   # (n_jobs,) const int64_t[::1], each >= 1
    part_idx: npt.NDArray[np.intp],       # (n_jobs,) const intp_t[::1]
    duration_s: npt.NDArray[np.int64],    # (n_jobs,) const int64_t[::1], each >= 1, INF if unlimited
    run_node: npt.NDArray[np.intp],       # (n_pairs,) const intp_t[::1]
    run_end: npt.NDArray[np.int64],       # (n_pairs,) const int64_t[::1], INF if unlimited
    run_alloc: npt.NDArray[np.int64],     # (n_pairs, n_res) const int64_t[:, ::1]
    now: int,
    reservation_depth: int,
    shape_idx: npt.NDArray[np.intp] | None = None,  # (n_jobs,) const intp_t[::1], equal for equal shapes
    node_features: npt.NDArray[np.uint64] | None = None,  # (n_nodes,) const uint64_t[::1] feature bitmask
    feat_all: npt.NDArray[np.uint64] | None = None,  # (n_jobs,) const uint64_t[::1] features all required
    feat_any: npt.NDArray[np.uint64] | None = None,  # (n_jobs,) const uint64_t[::1] one required (0: none)
    exclusive: npt.NDArray[np.uint8] | None = None,  # (n_jobs,) const uint8_t[::1] 1: takes whole nodes
    limits: tuple | None = None,  # (grp_free (n_groups,) int64, grun_group (n_gpairs,) intp, grun_end (n_gpairs,)
                                  #  int64, grun_amt (n_gpairs,) int64, job_off (n_jobs + 1,) intp,
                                  #  job_grp (n_member,) intp, job_amt (n_member,) int64, job_binds (n_member,) uint8)
    estimate_depth: int = 0,      # jobs left without a start that get an estimate, at most
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.intp], npt.NDArray[np.intp],
           npt.NDArray[np.uint8]]: ...
    # (status (n_jobs,), start (n_jobs,), offsets (n_jobs + 1,), nodes (offsets[-1],), estimated (n_jobs,))
