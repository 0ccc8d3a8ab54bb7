"""`json.dumps(document, indent=2)` for a document whose big part is a list of rows, in C-level loops.

squeue --json prints ~110 fields for each job; json's indented encoder is pure
Python (~100 ms a thousand jobs of 40 fields). Here the values are encoded a
column at a time by the C encoder, which json uses when there is no indent:
with "\\n" as the item separator, the separators are the only raw newlines in
its output, because JSON strings escape control characters. A value that
nests (a list, a dict) is encoded indented once per distinct value and
re-indented to its place. Each row is then one `%` template (its keys already
encoded and indented). The text is the one json.dumps(document, indent=2)
gives; `tests/unit/test_slurm_parsing.py` and `test_squeue_json.py` compare them.
"""

import itertools
import json

_SCALAR_TYPES = {str, int, float, bool, type(None)}
_PLACEHOLDER = "\x00rows\x00"
_ROW_INDENT = "    "
_FIELD_INDENT = "      "


class Same:
    """A column whose value is the same in every row (encoded once)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


# A column's value for a row that leaves the key out (squeue's job_resources of a job that never ran).
ABSENT = object()


def dumps_indented(document: dict, key: str, rows: list[dict]) -> str:
    """json.dumps(document | {key: rows}, indent=2), for `rows` of equal keys (in one order).

    `key` must be the last key of the document, as it is where the rows go.
    """
    if not rows or len(set(map(tuple, rows))) != 1:
        return json.dumps({**document, key: rows}, indent=2)  # not rows of one shape: the plain encoder
    names = tuple(rows[0])
    columns = [list(column) for column in zip(*map(dict.values, rows))]
    return dumps_table(document, key, names, columns)


def dumps_table(document: dict, key: str, names: tuple[str, ...], columns: list) -> str:
    """json.dumps(document | {key: rows}, indent=2) for rows given by column: `columns[i]` holds
    `names[i]`'s value in every row (a list, or a `Same`); a value ABSENT leaves the key out of
    that row. `key` must be the last key of the document; the first column is a list without
    ABSENT values.

    A `Same` value is written into the row template once; an ABSENT-capable column's cells carry
    their own ",\n  key: " so that one template serves every row.
    """
    lists = [c for c in columns if not isinstance(c, Same)]
    assert lists and not isinstance(columns[0], Same) and ABSENT not in columns[0], "the first column is a list"
    if not lists[0]:
        return json.dumps({**document, key: []}, indent=2)
    template, cells = "", []
    for name, column in zip(names, columns):
        key_text = f"{_FIELD_INDENT}{json.dumps(name)}: "
        if isinstance(column, Same):
            template += ",\n" + (key_text + _encoded_one(column.value)).replace("%", "%%")
            continue
        encoded = _encoded_column(column)
        if None in encoded:   # (None is no JSON text: it stands for ABSENT)
            cells.append(["" if text is None else f",\n{key_text}{text}" for text in encoded])
            template += "%s"
        else:
            cells.append(encoded)
            template += ",\n" + key_text.replace("%", "%%") + "%s"
    row = _ROW_INDENT + "{\n" + template.removeprefix(",\n") + "\n" + _ROW_INDENT + "}"
    text = json.dumps({**document, key: [_PLACEHOLDER]}, indent=2)
    return text.replace(f"{_ROW_INDENT}{json.dumps(_PLACEHOLDER)}", ",\n".join(map(row.__mod__, zip(*cells))), 1)


def _encoded_column(values: list) -> list:
    """Each value's JSON text at a field's place (None for ABSENT): all at once when all are scalars;
    a nested value once per object, and once per distinct text."""
    if set(map(type, values)) <= _SCALAR_TYPES:
        return json.dumps(values, separators=("\n", ":"))[1:-1].split("\n")
    by_id: dict[int, str] = {}
    by_text: dict[str, str] = {}
    out = []
    for value in values:
        if value is ABSENT:
            out.append(None)
        elif type(value) in _SCALAR_TYPES:
            out.append(json.dumps(value))
        elif id(value) in by_id:   # (the column keeps every value alive: ids are not reused)
            out.append(by_id[id(value)])
        else:
            compact = json.dumps(value)
            if compact not in by_text:
                by_text[compact] = _encoded_one(value)
            out.append(by_id.setdefault(id(value), by_text[compact]))
    return out


def _encoded_one(value) -> str:
    """`value`'s text as json.dumps(indent=2) writes it at a row's field."""
    return json.dumps(value, indent=2).replace("\n", "\n" + _FIELD_INDENT)
