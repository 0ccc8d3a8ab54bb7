from jem._core._types cimport int64_t, intp_t

cdef intp_t scan_records(
    const unsigned char[::1] text,     # (n_bytes,) whitespace-separated numbers, one record per line
    const intp_t[::1] column_slot,     # (n_columns,) out column of each field, -1 for fields not kept
    int64_t[:, ::1] out,               # (max records, n_kept) values, integer part
    intp_t limit,                      # stop after this many records
    intp_t *bad_line,                  # set to the 1-based line of a malformed record
) noexcept nogil                       # returns the number of records, -1 if one is malformed

cdef intp_t print_records(
    const int64_t[:, ::1] values,      # (n_records, n_fields)
    unsigned char[::1] out,            # (n_records * n_fields * 21,) text, `,` between fields, one line each
) noexcept nogil                       # returns the number of bytes written
