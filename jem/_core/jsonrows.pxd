cdef class _Text:
    """A growing buffer of bytes: the rows written so far."""
    cdef char *data                    # (a mapping of `capacity` bytes, unmapped with the object)
    cdef Py_ssize_t size               # bytes written
    cdef Py_ssize_t capacity           # bytes allocated

    cdef inline int reserve(self, Py_ssize_t more) except -1
    cdef int grow(self, Py_ssize_t more) except -1
    cdef inline int add(self, const char *text, Py_ssize_t length) except -1
    cdef inline int add_bytes(self, bytes text) except -1


cdef int _add_value(
    _Text out,
    object value,                      # str, int, float, bool, None (as json.dumps writes them) or bytes (as is)
) except -1                            # TypeError for another type


cdef class RowsText:
    """What render_rows wrote, as a buffer (bytes(text) copies it)."""
    cdef char *out_data                # (_Text's mapping, unmapped with the object)
    cdef Py_ssize_t out_size
    cdef Py_ssize_t out_capacity
