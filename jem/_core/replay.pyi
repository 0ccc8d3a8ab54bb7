"""Typed Python surface of jem._core.replay (shapes in comments)."""

import numpy as np
import numpy.typing as npt

def replay(
    submit_s: npt.NDArray[np.int64],     # (n,) const int64_t[::1], non-decreasing
    run_s: npt.NDArray[np.int64],        # (n,) const int64_t[::1], >= 0
    size: npt.NDArray[np.int64],         # (n,) const int64_t[::1], 1..procs
    estimate_s: npt.NDArray[np.int64],   # (n,) const int64_t[::1], >= max(run_s, 1)
    *,
    procs: int,
    reservation_depth: int,
) -> npt.NDArray[np.int64]: ...          # (n,) start time of each job
