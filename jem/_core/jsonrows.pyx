"""Rows of JSON text from columns of values: the writing step of a listing's `--json`.

A row is the constant texts `pieces` with a cell between each two: the value
of each column at that row, as JSON text. Rows are joined by `separator`. The
values are what Python's json.dumps writes (ensure_ascii: the text is ASCII):

- str: a JSON string, `"`, `\\` and the short escapes (\\b \\f \\n \\r \\t) as
  json writes them, every other character outside ' '..'~' as \\uXXXX (a
  surrogate pair past U+FFFF);
- bool: true or false; int: its decimal digits; None: null;
- float: repr(), or NaN, Infinity, -Infinity, as json writes them;
- bytes: inserted as they are (a value the caller encoded: a list, an object,
  or a cell left empty).

Anything else is a TypeError. No I/O: the caller writes the bytes.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_1BYTE_DATA, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ
from libc.math cimport isinf, isnan
from cpython.buffer cimport PyBuffer_FillInfo
from libc.string cimport memcmp, memcpy

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)

cdef const char *_HEX = b"0123456789abcdef"


cdef extern from "<sys/mman.h>":
    void *mmap(void *address, size_t length, int protection, int flags, int fd, long offset)
    void *mremap(void *old_address, size_t old_length, size_t new_length, int flags)
    int munmap(void *address, size_t length)
    int madvise(void *address, size_t length, int advice)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MREMAP_MAYMOVE, MADV_HUGEPAGE
    void *MAP_FAILED

cdef class _Text:
    """A growing buffer of bytes, in a mapping of its own (jsonrows.pxd names its fields).

    A listing's text is tens of MB written once: in 4 kB pages most of its time went to the
    kernel's page faults, so a large buffer asks for huge pages (where the kernel gives them
    to a process that asks: transparent_hugepage "madvise" or "always"), and grows by
    mremap, without a copy."""

    def __dealloc__(self):
        if self.data != NULL:
            munmap(self.data, self.capacity)

    cdef inline int reserve(self, Py_ssize_t more) except -1:
        if self.size + more <= self.capacity:
            return 0
        return self.grow(more)

    cdef int grow(self, Py_ssize_t more) except -1:
        cdef Py_ssize_t wanted = self.size + more, capacity = self.capacity or (64 << 10)
        cdef void *grown
        while capacity < wanted:
            capacity *= 2
        if self.data == NULL:
            grown = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        else:
            grown = mremap(self.data, self.capacity, capacity, MREMAP_MAYMOVE)
        if grown == MAP_FAILED:
            raise MemoryError()
        if capacity >= 2 << 20:
            madvise(grown, capacity, MADV_HUGEPAGE)   # (advice: refused where there are none)
        self.data, self.capacity = <char *>grown, capacity
        return 0

    cdef inline int add(self, const char *text, Py_ssize_t length) except -1:
        self.reserve(length)
        memcpy(self.data + self.size, text, length)
        self.size += length
        return 0

    cdef inline int add_bytes(self, bytes text) except -1:
        return self.add(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))


cdef inline bint _plain(unsigned char c) noexcept nogil:
    """Written as it is inside a JSON string (json's ensure_ascii: ' '..'~' but '"' and '\\\\')."""
    return 32 <= c <= 126 and c != 34 and c != 92


cdef char _SHORT_ESCAPE[128]   # a character's letter after "\\" where json writes it so, else 0
for _c, _letter in ((34, b'"'), (92, b"\\"), (10, b"n"), (13, b"r"), (9, b"t"), (8, b"b"), (12, b"f")):
    _SHORT_ESCAPE[_c] = _letter[0]


cdef int _add_escaped(_Text out, unsigned int c) except -1:
    cdef char unit[12]
    cdef unsigned int high, low
    if c < 128 and _SHORT_ESCAPE[c]:
        unit[0], unit[1] = 92, _SHORT_ESCAPE[c]
        return out.add(unit, 2)
    if c > 0xFFFF:   # a surrogate pair, as json writes it
        c -= 0x10000
        high, low = 0xD800 | ((c >> 10) & 0x3FF), 0xDC00 | (c & 0x3FF)
        _unit(unit, high)
        _unit(unit + 6, low)
        return out.add(unit, 12)
    _unit(unit, c)
    return out.add(unit, 6)


cdef inline void _unit(char *at, unsigned int c) noexcept:
    at[0], at[1] = 92, 117   # \u
    at[2], at[3] = _HEX[(c >> 12) & 15], _HEX[(c >> 8) & 15]
    at[4], at[5] = _HEX[(c >> 4) & 15], _HEX[c & 15]


cdef int _add_string(_Text out, str text) except -1:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, start
    cdef const unsigned char *ascii
    cdef int kind
    cdef void *data
    cdef unsigned int c
    out.add(b'"', 1)
    if PyUnicode_IS_ASCII(text):
        ascii = PyUnicode_1BYTE_DATA(text)
        start = 0
        for i in range(n):
            if not _plain(ascii[i]):
                out.add(<const char *>(ascii + start), i - start)
                _add_escaped(out, ascii[i])
                start = i + 1
        out.add(<const char *>(ascii + start), n - start)
    else:
        kind, data = PyUnicode_KIND(text), PyUnicode_DATA(text)
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            if c < 128 and _plain(<unsigned char>c):
                out.reserve(1)
                out.data[out.size] = <char>c
                out.size += 1
            else:
                _add_escaped(out, c)
    return out.add(b'"', 1)


cdef int _add_integer(_Text out, long long number) except -1:
    """Its decimal digits (printf's %lld)."""
    cdef char digits[24]
    cdef int at = 24
    cdef unsigned long long magnitude = <unsigned long long>(-(number + 1)) + 1 if number < 0 else <unsigned long long>number
    while True:
        at -= 1
        digits[at] = <char>(48 + magnitude % 10)
        magnitude //= 10
        if magnitude == 0:
            break
    if number < 0:
        at -= 1
        digits[at] = 45
    return out.add(digits + at, 24 - at)


cdef int _add_value(_Text out, object value) except -1:
    cdef long long number
    cdef double real
    cdef int overflow = 0
    if type(value) is bytes:
        return out.add_bytes(<bytes>value)
    if type(value) is str:
        return _add_string(out, <str>value)
    if value is None:
        return out.add(b"null", 4)
    if value is True:
        return out.add(b"true", 4)
    if value is False:
        return out.add(b"false", 5)
    if type(value) is int:
        number = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow:
            return out.add_bytes(str(value).encode())
        return _add_integer(out, number)
    if type(value) is float:
        real = value
        if isnan(real):
            return out.add(b"NaN", 3)
        if isinf(real):
            return out.add(b"Infinity", 8) if real > 0 else out.add(b"-Infinity", 9)
        return out.add_bytes(float.__repr__(value).encode())
    if isinstance(value, str):   # (subclasses, as json writes them: their text, their number)
        return _add_string(out, value)
    if isinstance(value, int):
        return out.add_bytes(int.__repr__(value).encode())
    if isinstance(value, float):
        return _add_value(out, float(value))
    raise TypeError(f"a cell of a JSON row is str, int, float, bool, None or bytes, not {type(value).__name__}")


cdef class RowsText:
    """The text render_rows wrote, as a read-only buffer (bytes(text), or written as it is: a
    listing's 30 MB is copied no further)."""

    def __dealloc__(self):
        if self.out_data != NULL:
            munmap(self.out_data, self.out_capacity)

    def __len__(self):
        return self.out_size

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.out_data if self.out_data != NULL else <char *>"", self.out_size, 1, flags)

    def __releasebuffer__(self, Py_buffer *view):
        pass


def render_rows(bytes prefix, tuple pieces, list columns, Py_ssize_t n_rows, bytes separator, bytes suffix) -> RowsText:
    """`prefix`, then `n_rows` rows joined by `separator`, then `suffix`: each row pieces[0] + cell +
    pieces[1] + ... + cell + pieces[-1], with a cell of each column in turn (`columns[k]` holds
    a value per row)."""
    cdef Py_ssize_t n_columns = len(columns), row, k, row_size = 0
    cdef _Text out = _Text()
    cdef list column
    cdef RowsText text = RowsText()
    if len(pieces) != n_columns + 1:
        raise ValueError("a piece before each column and one after the last")
    for column in columns:
        if len(column) != n_rows:
            raise ValueError("a value of each column for each row")
    for piece in pieces:
        if type(piece) is not bytes:
            raise TypeError("the pieces are bytes")
        row_size += PyBytes_GET_SIZE(piece)
    # (room for rows of short cells at once: the buffer grows by doubling past that)
    out.reserve(PyBytes_GET_SIZE(prefix) + PyBytes_GET_SIZE(suffix) +
                n_rows * (row_size + 12 * n_columns + PyBytes_GET_SIZE(separator)))
    out.add_bytes(prefix)
    for row in range(n_rows):
        if row:
            out.add_bytes(separator)
        out.add_bytes(<bytes>pieces[0])
        for k in range(n_columns):
            _add_value(out, (<list>columns[k])[row])
            out.add_bytes(<bytes>pieces[k + 1])
    out.add_bytes(suffix)
    text.out_data, text.out_size, text.out_capacity = out.data, out.size, out.capacity
    out.data = NULL   # (the text's now)
    return text


cdef enum:
    ONE_TEXT = 0        # every value scalar, and every value's text the same
    SCALARS = 1         # every value scalar (str, int, float, bool, None)
    OTHER = 2           # some value is not


def classify_columns(list columns) -> bytes:
    """For each column (a list), whether its values are scalars all written alike (0: one type,
    equal values; a float alike to the bit), scalars (1) or not all scalars (2)."""
    cdef bytearray kinds = bytearray(len(columns))
    cdef Py_ssize_t k, i, n
    cdef list column
    cdef object first, value
    cdef type first_type
    cdef double first_real = 0.0, real
    cdef bint alike
    for k in range(len(columns)):
        column = <list>columns[k]
        n = len(column)
        if n == 0:
            kinds[k] = SCALARS
            continue
        first = column[0]
        first_type = type(first)
        if not _is_scalar(first_type):
            kinds[k] = OTHER
            continue
        alike = True
        kinds[k] = SCALARS
        if first_type is float:
            first_real = first
        for i in range(1, n):
            value = column[i]
            if value is first:
                continue
            if type(value) is not first_type:
                alike = False
                if not _is_scalar(type(value)):
                    kinds[k] = OTHER
                    break
            elif alike:
                if first_type is float:
                    real = value
                    alike = memcmp(&real, &first_real, sizeof(double)) == 0
                elif first_type is not bool and first_type is not type(None):
                    alike = first == value
                else:
                    alike = False   # (True and False, each one object)
        if kinds[k] == SCALARS and alike:
            kinds[k] = ONE_TEXT
    return bytes(kinds)


cdef inline bint _is_scalar(type value_type):
    return value_type is str or value_type is int or value_type is float or value_type is bool or \
        value_type is type(None)
