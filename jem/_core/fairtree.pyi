"""Typed Python surface of jem._core.fairtree (shapes in comments)."""

import numpy as np
import numpy.typing as npt

def fair_tree_factors(
    child_start: npt.NDArray[np.intp],    # (n_nodes + 1,) const intp_t[::1], node 0 is the root
    child_list: npt.NDArray[np.intp],     # (n_nodes - 1,) const intp_t[::1], children in tree order
    shares: npt.NDArray[np.int64],        # (n_nodes,) const int64_t[::1]
    is_user: npt.NDArray[np.uint8],       # (n_nodes,) const uint8_t[::1]
    name_rank: npt.NDArray[np.intp],      # (n_nodes,) const intp_t[::1], rank of each name in sorted order
    usage: npt.NDArray[np.float64],       # (n_nodes,) float64_t[::1], users' in, every node's out
) -> npt.NDArray[np.float64]: ...         # (n_nodes,) factor of each user, NaN for accounts
