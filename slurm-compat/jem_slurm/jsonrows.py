"""`json.dumps(document, indent=2)` for a document whose big part is a list of rows, in C-level loops.

squeue --json prints ~110 fields for each job; json's indented encoder is pure
Python (~100 ms a thousand jobs of 40 fields). Here the values are encoded a
column at a time by the C encoder, which json uses when there is no indent:
with "\\n" as the item separator, the separators are the only raw newlines in
its output, because JSON strings escape control characters. A value that
nests (a list, a dict) is encoded indented once per distinct value and
re-indented to its place. Each row is then the join of its cells, each cell a
value's text with its key and the fields that never vary already around it.
The text is the one json.dumps(document, indent=2) gives;
`tests/unit/test_slurm_parsing.py` and `test_squeue_json.py` compare them.
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

    Each field's text in a row ("key": value, with the separator before it) is made once per
    distinct value. The fields with one text in every row (a `Same`, or a list of one value)
    make the text between the fields that vary, and a row is the join of those texts and its
    own fields' texts, in C, with no template to parse (squeue --json writes ~3 kB a job,
    10,000 jobs at times, most fields alike in them all).
    """
    assert columns and not isinstance(columns[0], Same) and ABSENT not in columns[0], "the first column is a list"
    n_rows = len(columns[0])
    if not n_rows:
        return json.dumps({**document, key: []}, indent=2)
    pieces: list = []   # each row's pieces, in order: a text the same in every row, or each row's text
    alike = _ROW_INDENT + "{\n"
    for i, (name, column) in enumerate(zip(names, columns)):
        field = (",\n" if i else "") + f"{_FIELD_INDENT}{json.dumps(name)}: "
        if isinstance(column, Same):
            alike += field + _encoded_one(column.value)
            continue
        keys, texts = _field_texts(column, field)
        if len(set(texts.values())) == 1:
            alike += next(iter(texts.values()))
            continue
        pieces += [itertools.repeat(alike), map(texts.__getitem__, keys)] if alike else [map(texts.__getitem__, keys)]
        alike = ""
    pieces.append(itertools.repeat(alike + "\n" + _ROW_INDENT + "}"))
    rows = list(itertools.islice(map("".join, zip(*pieces)), n_rows))
    head, _, tail = json.dumps({**document, key: [_PLACEHOLDER]}, indent=2).partition(
        f"{_ROW_INDENT}{json.dumps(_PLACEHOLDER)}")
    rows[0] = head + rows[0]   # (then one join of the rows copies the big text once)
    rows[-1] += tail
    return ",\n".join(rows)


def _field_texts(values: list, field: str) -> tuple[list, dict]:
    """(each row's key into the table, {key: the field's text in that row}): `field` + the value's
    JSON text ("" for ABSENT), each distinct value encoded once."""
    types = set(map(type, values))
    if types <= _SCALAR_TYPES and float not in types and not {int, bool} <= types:
        # Equal values here have one text (1 == True == 1.0 and -0.0 == 0.0 are kept apart above):
        # the values are their own keys, and their texts come from one call of the C encoder.
        distinct = list(set(values))
        texts = json.dumps(distinct, separators=("\n", ":"))[1:-1].split("\n")
        return values, {value: field + text for value, text in zip(distinct, texts)}
    # Else each distinct object by its id (the column keeps them alive: no id is reused), and a
    # nested value's indented text once per distinct compact text.
    objects = dict(zip(map(id, values), values))
    indented: dict[str, str] = {}
    texts = {}
    for object_id, value in objects.items():
        if value is ABSENT:
            texts[object_id] = ""
        elif type(value) in _SCALAR_TYPES:
            texts[object_id] = field + json.dumps(value)
        else:
            compact = json.dumps(value)
            if compact not in indented:
                indented[compact] = _encoded_one(value)
            texts[object_id] = field + indented[compact]
    return list(map(id, values)), texts


def _encoded_one(value) -> str:
    """`value`'s text as json.dumps(indent=2) writes it at a row's field."""
    return json.dumps(value, indent=2).replace("\n", "\n" + _FIELD_INDENT)
