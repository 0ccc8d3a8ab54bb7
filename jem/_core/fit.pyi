"""Typed Python surface of jem._core.fit (shapes in comments)."""

import numpy as np
import numpy.typing as npt

STARTED: int
RESOURCES: int
PRIORITY: int

def fitting_nodes(
    free: npt.NDArray[np.int64],      # (n_nodes, n_res) const int64_t[:, ::1]
    request: npt.NDArray[np.int64],   # (n_res,) const int64_t[::1]
    allowed: npt.NDArray[np.uint8],   # (n_nodes,) const uint8_t[::1]
) -> npt.NDArray[np.uint8]: ...       # (n_nodes,) 1 where the request fits

def first_fit(
    free: npt.NDArray[np.int64],          # (n_nodes, n_res) const int64_t[:, ::1]
    usable: npt.NDArray[np.uint8],        # (n_nodes,) const uint8_t[::1]
    membership: npt.NDArray[np.uint8],    # (n_parts, n_nodes) const uint8_t[:, ::1]
    requests: npt.NDArray[np.int64],      # (n_jobs, n_res) const int64_t[:, ::1], priority order
    n_nodes_req: npt.NDArray[np.int64],   # (n_jobs,) const int64_t[::1]
    part_idx: npt.NDArray[np.intp],       # (n_jobs,) const intp_t[::1]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp], npt.NDArray[np.intp]]: ...
    # (status (n_jobs,), offsets (n_jobs + 1,), nodes (offsets[-1],))
