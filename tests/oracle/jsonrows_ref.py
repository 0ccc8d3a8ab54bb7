"""Reference for jem._core.jsonrows: each cell through json.dumps, the rows joined with str methods,
written for obviousness."""

import json
import struct

SCALARS = (str, int, float, bool, type(None))


def render_rows(prefix: bytes, pieces: tuple, columns: list, n_rows: int, separator: bytes, suffix: bytes) -> bytes:
    rows = []
    for row in range(n_rows):
        parts = [pieces[0]]
        for k, column in enumerate(columns):
            value = column[row]
            parts.append(value if isinstance(value, bytes) else json.dumps(value).encode())
            parts.append(pieces[k + 1])
        rows.append(b"".join(parts))
    return prefix + separator.join(rows) + suffix


def _text(value) -> tuple:
    """What a scalar's text depends on: its type, and its value (a float's bits)."""
    return (type(value), struct.pack("<d", value) if type(value) is float else value)


def classify_columns(columns: list) -> bytes:
    kinds = []
    for column in columns:
        if not column:
            kinds.append(1)
        elif not all(type(v) in SCALARS for v in column):
            kinds.append(2)
        else:
            kinds.append(0 if len({_text(v) for v in column}) == 1 else 1)
    return bytes(kinds)
