from libc.stdint cimport int64_t, uint64_t


cdef class _Reader:
    """One decoding: the path tables and the columns being filled, in C buffers of its own."""
    cdef const unsigned char *data     # the chunk being read
    cdef Py_ssize_t n_nodes                # nodes of the path trie (0: the record)
    cdef Py_ssize_t *value_col             # [node * N_FIELDS + field] -> the column of that field's value, or -1
    cdef Py_ssize_t *has_col               # [node * N_FIELDS + field] -> the column of its presence, or -1
    cdef Py_ssize_t *child                 # [node * N_FIELDS + field] -> the trie node of its submessage, or -1
    cdef bytes kinds                   # column -> b"i", b"h", b"s" or b"S"
    cdef const unsigned char *kind_of  # (kinds' bytes)
    cdef Py_ssize_t *slot_of               # column -> its row in `ints` (i, h) or its index in `objects` (s, S)
    cdef Py_ssize_t n_rows
    cdef int64_t *ints                 # [slot * n_rows + row]: the int and presence columns
    cdef list objects                  # per s/S column: a list with an entry per record
    cdef list last_text                # per column: (the last text's bytes, its str), to reuse an equal one

    cdef int allocate(self, Py_ssize_t n_nodes, Py_ssize_t n_columns, Py_ssize_t n_ints, Py_ssize_t n_rows) except -1


cdef int _walk(
    _Reader reader,
    Py_ssize_t pos,                        # where the message starts in reader.data
    Py_ssize_t end,                        # where it ends
    Py_ssize_t node,                       # its trie node (0: the record)
    Py_ssize_t row,                        # the record's row in the columns
) except -1                            # ValueError for bytes that are not a message
