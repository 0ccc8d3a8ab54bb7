"""Protocol Buffers wire format to columns: the records of a repeated message field, chosen
fields of each read straight from the serialized bytes in one pass.

A listing of 10,000 jobs read through the protobuf runtime's message objects
cost ~1 µs a job for each timestamp and ~0.1-0.3 µs for each other field: a
Python object per submessage, a Python call per value. Here one pass over the
bytes fills a column per wanted field.

What is wanted is named by paths of field numbers from the record (`(2, 1)`:
field 1 of the submessage in field 2) and a kind per path:

- `i`: an integer field (varint: int32, int64, uint*, bool, enum), as int64;
  0 where absent. Negative int32 values travel sign-extended, so they read right.
- `h`: whether the field is present at all (an optional scalar, a submessage), 0 or 1.
- `s`: a string field, as str ("" where absent; the UTF-8 is checked).
- `S`: a repeated string field, as a tuple of str (() where absent).
- `I`: a repeated integer field (packed or not), as a tuple of int (() where absent).
- `m`: a map<string, int64> field, as a tuple of its (key, value) entries in the order
  they came (a key may come twice: the last one counts, as in a dict made of them).
- `M`: a map<string, string> field, the same way.

As the protobuf runtime does: the last value of a scalar field that occurs
twice wins, the occurrences of a submessage merge, repeated fields append,
and fields not asked for (of any number) are skipped. Groups (wire types 3 and
4) are refused, as is any length or varint that runs past its message, with
ValueError. No I/O: the caller has the bytes.
"""

from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcmp, memset
from libc.stdint cimport int64_t, uint64_t

cdef enum:
    N_FIELDS = 128   # field numbers below this may be asked for (any number is skipped)
    KIND_INT = 105   # b"i"
    KIND_HAS = 104   # b"h"
    KIND_STR = 115   # b"s"
    KIND_STRS = 83   # b"S"
    KIND_INTS = 73   # b"I"
    KIND_INT_MAP = 109   # b"m"
    KIND_STR_MAP = 77    # b"M"


cdef class _Reader:
    """One decoding: the path tables and the columns being filled (wire.pxd names them)."""

    def __dealloc__(self):
        PyMem_Free(self.value_col)
        PyMem_Free(self.has_col)
        PyMem_Free(self.child)
        PyMem_Free(self.slot_of)
        PyMem_Free(self.ints)

    cdef int allocate(self, Py_ssize_t n_nodes, Py_ssize_t n_columns, Py_ssize_t n_ints, Py_ssize_t n_rows) except -1:
        cdef Py_ssize_t i, n_cells = n_nodes * N_FIELDS
        self.n_nodes, self.n_rows = n_nodes, n_rows
        self.value_col = <Py_ssize_t *>PyMem_Malloc(n_cells * sizeof(Py_ssize_t))
        self.has_col = <Py_ssize_t *>PyMem_Malloc(n_cells * sizeof(Py_ssize_t))
        self.child = <Py_ssize_t *>PyMem_Malloc(n_cells * sizeof(Py_ssize_t))
        self.slot_of = <Py_ssize_t *>PyMem_Malloc((n_columns + 1) * sizeof(Py_ssize_t))
        self.ints = <int64_t *>PyMem_Malloc((n_ints * n_rows + 1) * sizeof(int64_t))
        if not (self.value_col and self.has_col and self.child and self.slot_of and self.ints):
            raise MemoryError()
        for i in range(n_cells):
            self.value_col[i] = self.has_col[i] = self.child[i] = -1
        memset(self.ints, 0, (n_ints * n_rows + 1) * sizeof(int64_t))
        return 0


cdef inline uint64_t _varint(const unsigned char *data, Py_ssize_t *pos, Py_ssize_t end) except? 0xffffffffffffffff:
    cdef uint64_t value = 0
    cdef int shift = 0
    cdef unsigned char byte
    while True:
        if pos[0] >= end or shift > 63:
            raise ValueError("a varint runs past its message")
        byte = data[pos[0]]
        pos[0] += 1
        value |= (<uint64_t>(byte & 0x7f)) << shift
        if byte < 0x80:
            return value
        shift += 7


cdef inline Py_ssize_t _length(const unsigned char *data, Py_ssize_t *pos, Py_ssize_t end) except -1:
    """The length of a length-delimited value, read at `pos`; ValueError where it runs past `end`."""
    cdef uint64_t length = _varint(data, pos, end)
    if length > <uint64_t>(end - pos[0]):
        raise ValueError("a length runs past its message")
    return <Py_ssize_t>length


cdef int _skip(const unsigned char *data, Py_ssize_t *pos, Py_ssize_t end, uint64_t key) except -1:
    """`pos` past the value of a field of `key` that is not read; ValueError where it runs past
    `end`, or for a group (wire types 3 and 4, which proto3 does not write) or an unknown type."""
    cdef int wire_type = key & 7
    cdef Py_ssize_t size
    if wire_type == 0:
        _varint(data, pos, end)
    elif wire_type == 2:
        pos[0] += _length(data, pos, end)
    elif wire_type == 1 or wire_type == 5:
        size = 8 if wire_type == 1 else 4
        if size > end - pos[0]:
            raise ValueError("a fixed-size field runs past its message")
        pos[0] += size
    else:
        raise ValueError(f"wire type {wire_type} (a group, or not protobuf) in field {key >> 3}")
    return 0


cdef object _text(_Reader reader, Py_ssize_t column, const unsigned char *start, Py_ssize_t length):
    """The str of `length` bytes at `start`, the last one of this column again when equal (listed
    jobs mostly share their partition, user, account...)."""
    cdef bytes last
    cached = reader.last_text[column]
    if cached is not None:
        last = cached[0]
        if len(last) == length and memcmp(<const char *>last, start, length) == 0:
            return cached[1]
    text = PyUnicode_DecodeUTF8(<const char *>start, length, NULL)
    reader.last_text[column] = ((<const char *>start)[:length], text)
    return text


cdef list _items(_Reader reader, Py_ssize_t column, Py_ssize_t row):
    """The list of a repeated column's values in `row`, made on its first value."""
    cdef list column_values = <list>reader.objects[reader.slot_of[column]]
    items = column_values[row]
    if items is None:
        items = column_values[row] = []
    return <list>items


cdef tuple _map_entry(const unsigned char *data, Py_ssize_t pos, Py_ssize_t end, bint text_values):
    """A map entry's (key, value): key field 1 (a string), value field 2 (an int64, or a string
    when `text_values`); either "" or 0 where absent, as protobuf reads a map entry."""
    cdef uint64_t key
    cdef Py_ssize_t length
    entry_key, entry_value = "", ("" if text_values else 0)
    while pos < end:
        key = _varint(data, &pos, end)
        if key == (2 << 3 | 0) and not text_values:
            entry_value = PyLong_FromLongLong(<int64_t>_varint(data, &pos, end))
        elif key == (1 << 3 | 2) or (key == (2 << 3 | 2) and text_values):
            length = _length(data, &pos, end)
            text = PyUnicode_DecodeUTF8(<const char *>(data + pos), length, NULL)
            pos += length
            if key >> 3 == 1:
                entry_key = text
            else:
                entry_value = text
        else:
            _skip(data, &pos, end, key)
    return (entry_key, entry_value)


cdef int _walk(_Reader reader, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t node, Py_ssize_t row) except -1:
    cdef const unsigned char *data = reader.data
    cdef uint64_t key, value
    cdef Py_ssize_t field, wire_type, column, sub, length, at
    cdef unsigned char kind
    cdef list items
    while pos < end:
        key = _varint(data, &pos, end)
        field, wire_type = <Py_ssize_t>(key >> 3), <Py_ssize_t>(key & 7)
        column, sub = -1, -1
        if field < N_FIELDS:
            column = reader.has_col[node * N_FIELDS + field]
            if column >= 0:
                reader.ints[reader.slot_of[column] * reader.n_rows + row] = 1
            column, sub = reader.value_col[node * N_FIELDS + field], reader.child[node * N_FIELDS + field]
        if wire_type == 0 and column >= 0:
            value = _varint(data, &pos, end)
            if reader.kind_of[column] == KIND_INT:
                reader.ints[reader.slot_of[column] * reader.n_rows + row] = <int64_t>value
            elif reader.kind_of[column] == KIND_INTS:
                _items(reader, column, row).append(PyLong_FromLongLong(<int64_t>value))
        elif wire_type == 2 and (column >= 0 or sub >= 0):
            length = _length(data, &pos, end)
            if sub >= 0:
                _walk(reader, pos, pos + length, sub, row)
            if column >= 0:
                kind = reader.kind_of[column]
                if kind == KIND_STR:
                    (<list>reader.objects[reader.slot_of[column]])[row] = _text(reader, column, data + pos, length)
                elif kind == KIND_STRS:
                    _items(reader, column, row).append(PyUnicode_DecodeUTF8(<const char *>(data + pos), length, NULL))
                elif kind == KIND_INTS:   # packed
                    items = _items(reader, column, row)
                    at = pos
                    while at < pos + length:
                        items.append(PyLong_FromLongLong(<int64_t>_varint(data, &at, pos + length)))
                elif kind == KIND_INT_MAP or kind == KIND_STR_MAP:
                    _items(reader, column, row).append(_map_entry(data, pos, pos + length, kind == KIND_STR_MAP))
            pos += length
        else:
            _skip(data, &pos, end, key)
    return 0


cdef Py_ssize_t _count(const unsigned char *data, Py_ssize_t end, Py_ssize_t list_field) except -1:
    """How many times `list_field` (length-delimited) occurs at the top level."""
    cdef Py_ssize_t pos = 0, n = 0
    cdef uint64_t key
    while pos < end:
        key = _varint(data, &pos, end)
        n += key == <uint64_t>(list_field << 3 | 2)
        _skip(data, &pos, end, key)
    return n


def decode_records(list chunks, Py_ssize_t list_field, tuple paths, bytes kinds):
    """The records of field `list_field` of each serialized message in `chunks`, in order, read
    into a column per path: a list of `len(paths)` columns, each a list with a value per record
    (see the module's text for the kinds)."""
    if len(paths) != len(kinds):
        raise ValueError("a kind for each path")
    if not 0 < list_field < N_FIELDS:
        raise ValueError(f"field numbers are below {N_FIELDS}")
    cdef Py_ssize_t n_columns = len(paths), column, node, field, n_rows = 0, row = 0, pos, end, length
    cdef Py_ssize_t n_ints = 0, n_objects = 0
    cdef unsigned char kind
    cdef uint64_t key
    cdef const unsigned char[::1] view
    cdef list values
    cdef int64_t *ints
    cdef _Reader reader = _Reader()
    # The paths as a trie: node 0 is the record; each step into a submessage is a node.
    children: list = [{}]
    value_at, has_at = {}, {}
    for column in range(n_columns):
        kind = kinds[column]
        if kind not in b"ihsSImM":
            raise ValueError(f"unknown kind {chr(kind)!r}")
        path = tuple(paths[column])
        if not path or any(not 0 < f < N_FIELDS for f in path):
            raise ValueError(f"a path of field numbers, each 0 < n < {N_FIELDS}: {path!r}")
        node = 0
        *steps_in, last = path
        for field in steps_in:
            if field not in children[node]:
                children[node][field] = len(children)
                children.append({})
            node = children[node][field]
        wanted = has_at if kind == KIND_HAS else value_at
        if (node, last) in wanted:
            raise ValueError(f"the path {path!r} is asked for twice")
        wanted[(node, last)] = column
        n_ints += kind == KIND_INT or kind == KIND_HAS
    for chunk in chunks:
        view = chunk
        n_rows += _count(&view[0] if view.shape[0] else NULL, view.shape[0], list_field)
    reader.allocate(len(children), n_columns, n_ints, n_rows)
    for node in range(len(children)):
        for field, sub in children[node].items():
            reader.child[node * N_FIELDS + field] = sub
    for (node, field), column in value_at.items():
        reader.value_col[node * N_FIELDS + field] = column
    for (node, field), column in has_at.items():
        reader.has_col[node * N_FIELDS + field] = column
    n_ints = 0
    for column in range(n_columns):
        kind = kinds[column]
        if kind == KIND_INT or kind == KIND_HAS:
            reader.slot_of[column] = n_ints
            n_ints += 1
        else:
            reader.slot_of[column] = n_objects
            n_objects += 1
    reader.kinds = kinds
    reader.kind_of = kinds
    reader.objects = [([""] if kinds[column] == KIND_STR else [None]) * n_rows
                      for column in range(n_columns) if kinds[column] != KIND_INT and kinds[column] != KIND_HAS]
    reader.last_text = [None] * n_columns
    for chunk in chunks:
        view = chunk
        end = view.shape[0]
        if not end:
            continue
        reader.data = &view[0]
        pos = 0
        while pos < end:
            key = _varint(reader.data, &pos, end)
            if key == <uint64_t>(list_field << 3 | 2):
                length = _length(reader.data, &pos, end)
                _walk(reader, pos, pos + length, 0, row)
                row += 1
                pos += length
            else:
                _skip(reader.data, &pos, end, key)
    reader.data = NULL
    columns = []
    for column in range(n_columns):
        kind = kinds[column]
        if kind == KIND_INT or kind == KIND_HAS:
            ints = reader.ints + reader.slot_of[column] * n_rows
            values = [None] * n_rows
            last = None
            for row in range(n_rows):   # (a value equal to the last row's is its object again)
                if last is None or ints[row] != ints[row - 1]:
                    last = PyLong_FromLongLong(ints[row])
                values[row] = last
            columns.append(values)
        elif kind == KIND_STR:
            columns.append(reader.objects[reader.slot_of[column]])
        else:
            columns.append([() if items is None else tuple(items) for items in reader.objects[reader.slot_of[column]]])
    return columns


def top_varint(const unsigned char[::1] data, Py_ssize_t field):
    """The value of the varint field `field` at the top level of the message `data` (the last one
    where it occurs twice), 0 where it does not occur."""
    cdef Py_ssize_t pos = 0, end = data.shape[0]
    cdef uint64_t key, found = 0
    cdef const unsigned char *start = &data[0] if end else NULL
    while pos < end:
        key = _varint(start, &pos, end)
        if key == <uint64_t>(field << 3):
            found = _varint(start, &pos, end)
        else:
            _skip(start, &pos, end, key)
    return <int64_t>found
