"""`json.dumps(document, indent=2)` for a document whose big part is a list of rows, written by a
compiled kernel, as ASCII bytes (a buffer: `bytes(text)`, or written as it is).

squeue --json prints ~110 fields for each job, 3 kB a job, 10,000 jobs at
times; json's indented encoder is pure Python (~100 ms a thousand jobs of 40
fields). Here the text that is the same in every row (the keys, the
indentation, and the fields whose value never varies) is made once, between
the cells that vary; jem._core.jsonrows then writes each row, a cell per
varying field, each value as json writes it. A value that nests (a list, a
dict), or a field that some rows leave out, is encoded indented once per
distinct value, with its key, and given to the kernel as bytes. The kernel
also tells which columns hold one value (one text in every row). The text is
the one json.dumps(document, indent=2).encode() gives;
`tests/unit/test_slurm_parsing.py` and `test_squeue_json.py` compare them.
"""

import json

from jem._core.jsonrows import RowsText, classify_columns, render_rows

_SCALAR_TYPES = {str, int, float, bool, type(None)}
_PLACEHOLDER = "\x00rows\x00"
_ROW_INDENT = "    "
_FIELD_INDENT = "      "
_ONE_TEXT, _SCALARS = 0, 1   # (classify_columns' kinds; 2: values that are not all scalars)


class Same:
    """A column whose value is the same in every row (encoded once)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


# A column's value for a row that leaves the key out (squeue's job_resources of a job that never ran).
ABSENT = object()


def encode_indented(document: dict, key: str, rows: list[dict]) -> "bytes | RowsText":
    """json.dumps(document | {key: rows}, indent=2).encode(), for `rows` of equal keys (in one order).

    `key` must be the last key of the document, as it is where the rows go.
    """
    if not rows or len(set(map(tuple, rows))) != 1:   # not rows of one shape: the plain encoder
        return json.dumps({**document, key: rows}, indent=2).encode()
    names = tuple(rows[0])
    columns = [list(column) for column in zip(*map(dict.values, rows))]
    return encode_table(document, key, names, columns)


def encode_table(document: dict, key: str, names: tuple[str, ...], columns: list) -> "bytes | RowsText":
    """json.dumps(document | {key: rows}, indent=2).encode() for rows given by column: `columns[i]`
    holds `names[i]`'s value in every row (a list, or a `Same`); a value ABSENT leaves the key
    out of that row. `key` must be the last key of the document; the first column is a list
    without ABSENT values.

    A column of one value (a `Same`, or a list of one scalar) is text of every row; a column of
    scalars is the kernel's to write; any other column is each row's text, with its key, made
    once per distinct value here.
    """
    assert columns and not isinstance(columns[0], Same) and ABSENT not in columns[0], "the first column is a list"
    n_rows = len(columns[0])
    if not n_rows:
        return json.dumps({**document, key: []}, indent=2).encode()
    pieces: list[bytes] = []   # the text before each varying cell, and after the last
    cells: list[list] = []     # each varying column's values
    alike = _ROW_INDENT + "{\n"
    lists = [column for column in columns if not isinstance(column, Same)]
    kinds = iter(classify_columns(lists))
    for i, (name, column) in enumerate(zip(names, columns)):
        field = (",\n" if i else "") + f"{_FIELD_INDENT}{json.dumps(name)}: "
        if isinstance(column, Same):
            alike += field + _encoded_one(column.value)
            continue
        kind = next(kinds)
        if kind == _ONE_TEXT:
            alike += field + json.dumps(column[0])
            continue
        if kind == _SCALARS:
            pieces.append((alike + field).encode())
            cells.append(column)
        else:
            texts = _texts_with_key(column, field)
            if texts.count(texts[0]) == len(texts):   # (one distinct text: every row's)
                alike += texts[0].decode()
                continue
            pieces.append(alike.encode())
            cells.append(texts)
        alike = ""
    pieces.append((alike + "\n" + _ROW_INDENT + "}").encode())
    head, _, tail = json.dumps({**document, key: [_PLACEHOLDER]}, indent=2).partition(
        f"{_ROW_INDENT}{json.dumps(_PLACEHOLDER)}")
    return render_rows(head.encode(), tuple(pieces), cells, n_rows, b",\n", tail.encode())


def _texts_with_key(values: list, field: str) -> list[bytes]:
    """Each row's `field` + the value's JSON text, encoded (b"" for ABSENT): each distinct object
    once, by its id (the column keeps them alive: no id is reused), and a nested value's indented
    text once per distinct compact text."""
    ids = list(map(id, values))
    indented: dict[str, bytes] = {}
    texts: dict[int, bytes] = {}
    for object_id, value in dict(zip(ids, values)).items():
        if value is ABSENT:
            texts[object_id] = b""
        elif type(value) in _SCALAR_TYPES:
            texts[object_id] = (field + json.dumps(value)).encode()
        else:
            compact = json.dumps(value)
            if compact not in indented:
                indented[compact] = (field + _encoded_one(value)).encode()
            texts[object_id] = indented[compact]
    return list(map(texts.__getitem__, ids))


def _encoded_one(value) -> str:
    """`value`'s text as json.dumps(indent=2) writes it at a row's field."""
    return json.dumps(value, indent=2).replace("\n", "\n" + _FIELD_INDENT)
