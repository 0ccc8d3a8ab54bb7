"""Typed Python surface of jem._core.records (shapes in comments)."""

import numpy as np
import numpy.typing as npt

def parse_records(
    text: bytes,                          # const unsigned char[::1], lines of whitespace-separated numbers
    usecols: tuple[int, ...],             # the 0-based fields to keep, in output column order
    *,
    limit: int | None = None,             # keep at most this many records (the first ones)
) -> npt.NDArray[np.int64]: ...           # (n_records, len(usecols)) int64

def format_records(
    values: npt.NDArray[np.int64],        # (n_records, n_fields) const int64_t[:, ::1]
) -> bytes: ...                           # "a,b,c\n" per record
