"""Numeric text records to an int64 matrix and back: the parse step of reading an SWF
trace, and the formatting of `jem sim --csv`.

A record is a line of whitespace-separated numbers; `;` starts a comment that
runs to the end of the line, and lines with no number are skipped. A number is
`[+-]digits[.digits]`; its integer part is kept (what float parsing then
`astype(int64)` gives, as numpy.loadtxt would). A record must have every kept
field; extra fields are ignored. No I/O: the caller reads (and unzips) the bytes.
"""

import numpy as np

cimport numpy as cnp
from jem._core._types cimport int64_t, intp_t

cnp.import_array()


cdef inline bint _is_blank(unsigned char c) noexcept nogil:
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


cdef intp_t scan_records(const unsigned char[::1] text, const intp_t[::1] column_slot, int64_t[:, ::1] out,
                          intp_t limit, intp_t *bad_line) noexcept nogil:
    cdef intp_t n = text.shape[0], i = 0, n_records = 0, line = 0, field, slot, n_columns = column_slot.shape[0]
    cdef int64_t value, sign
    cdef unsigned char c
    cdef bint has_digits
    while i < n and n_records < limit:
        line += 1
        field = 0
        while True:                        # one field per turn, until the end of the line
            while i < n and _is_blank(text[i]):
                i += 1
            if i >= n or text[i] == 10 or text[i] == 59:      # end of line, or a ';' comment
                break
            sign, value, has_digits = 1, 0, False
            if text[i] == 45 or text[i] == 43:
                sign = -1 if text[i] == 45 else 1
                i += 1
            while i < n and 48 <= text[i] <= 57:
                value = value * 10 + (text[i] - 48)
                has_digits = True
                i += 1
            if i < n and text[i] == 46:
                i += 1
                while i < n and 48 <= text[i] <= 57:
                    has_digits = True
                    i += 1
            if not has_digits or (i < n and not _is_blank(text[i]) and text[i] != 10 and text[i] != 59):
                bad_line[0] = line
                return -1
            if field < n_columns:
                slot = column_slot[field]
                if slot >= 0:
                    out[n_records, slot] = sign * value
            field += 1
        while i < n and text[i] != 10:    # the rest of a comment
            i += 1
        i += 1
        if field == 0:
            continue
        if field < n_columns:
            bad_line[0] = line
            return -1
        n_records += 1
    return n_records


cdef intp_t print_records(const int64_t[:, ::1] values, unsigned char[::1] out) noexcept nogil:
    cdef intp_t r, f, pos = 0, k
    cdef int64_t v
    cdef unsigned char digits[20]
    cdef unsigned long long u
    for r in range(values.shape[0]):
        for f in range(values.shape[1]):
            v = values[r, f]
            if v < 0:
                out[pos] = 45
                pos += 1
                u = <unsigned long long>(-(v + 1)) + 1     # |v|, INT64_MIN included
            else:
                u = <unsigned long long>v
            k = 0
            while True:
                digits[k] = 48 + <unsigned char>(u % 10)
                u //= 10
                k += 1
                if u == 0:
                    break
            while k > 0:
                k -= 1
                out[pos] = digits[k]
                pos += 1
            out[pos] = 44 if f + 1 < values.shape[1] else 10
            pos += 1
    return pos


def format_records(values):
    """The rows of `values` ((n, k) C-contiguous int64) as text: "a,b,c\n" per row, in bytes."""
    if not isinstance(values, np.ndarray) or values.dtype != np.int64 or values.ndim != 2 \
            or not values.flags.c_contiguous:
        raise ValueError("format_records: expected a C-contiguous 2-d int64 array")
    out = np.empty(values.shape[0] * values.shape[1] * 21 + 1, dtype=np.uint8)   # 20 digits + sign or separator
    cdef const int64_t[:, ::1] values_v = values
    cdef unsigned char[::1] out_v = out
    cdef intp_t n_bytes
    with nogil:
        n_bytes = print_records(values_v, out_v)
    return out[:n_bytes].tobytes()


def parse_records(text, usecols, *, limit=None):
    """(n_records, len(usecols)) int64: the kept fields of each record of `text` (bytes)."""
    if not isinstance(text, (bytes, bytearray)):
        raise TypeError(f"parse_records: expected bytes, got {type(text).__name__}")
    if not usecols or min(usecols) < 0 or len(set(usecols)) != len(usecols):
        raise ValueError("parse_records: usecols must be distinct non-negative field numbers")
    column_slot = np.full(max(usecols) + 1, -1, dtype=np.intp)
    column_slot[list(usecols)] = np.arange(len(usecols), dtype=np.intp)
    max_records = text.count(b"\n") + 1
    cdef intp_t limit_c = max_records if limit is None else min(int(limit), max_records)
    out = np.empty((max_records, len(usecols)), dtype=np.int64)
    cdef const unsigned char[::1] text_v = text if len(text) else b"\n"
    cdef const intp_t[::1] slot_v = column_slot
    cdef int64_t[:, ::1] out_v = out
    cdef intp_t n_records, bad_line = 0
    with nogil:
        n_records = scan_records(text_v, slot_v, out_v, limit_c, &bad_line)
    if n_records < 0:
        raise ValueError(f"line {bad_line}: expected at least {len(column_slot)} numeric fields")
    return out[:n_records]
