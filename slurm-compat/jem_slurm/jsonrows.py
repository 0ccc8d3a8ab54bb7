"""`json.dumps(document, indent=2)` for a document whose big part is a list of flat rows, in C-level loops.

squeue --json prints ~40 scalar fields for each job; json's indented encoder
is pure Python (~100 ms a thousand jobs). Here every row's values are encoded
at once by the C encoder, which json uses when there is no indent: with "\n"
as the item separator, the separators are the only raw newlines in its output,
because JSON strings escape control characters. Each row is then one `%`
template (its keys already encoded and indented). The text is the one
json.dumps(document, indent=2) gives; `tests/unit/test_slurm_parsing.py` compares them.
"""

import itertools
import json

_SCALAR_TYPES = {str, int, float, bool, type(None)}
_PLACEHOLDER = "\x00rows\x00"


def dumps_indented(document: dict, key: str, rows: list[dict]) -> str:
    """json.dumps(document | {key: rows}, indent=2), for `rows` of equal keys (in one order) and scalar values.

    `key` must be the last key of the document, as it is where the rows go.
    """
    if not rows:
        return json.dumps({**document, key: rows}, indent=2)
    names = tuple(rows[0])
    values = list(itertools.chain.from_iterable(map(dict.values, rows)))
    # Checked with C-level loops too: equal keys in every row, and no value json would nest.
    if len(set(map(tuple, rows))) != 1 or not set(map(type, values)) <= _SCALAR_TYPES:
        return json.dumps({**document, key: rows}, indent=2)  # not flat rows: the plain encoder
    encoded = json.dumps(values, separators=("\n", ":"))[1:-1].split("\n")
    fields = (f"      {json.dumps(name).replace('%', '%%')}: %s" for name in names)
    template = "    {\n" + ",\n".join(fields) + "\n    }"
    per_row = zip(*[iter(encoded)] * len(names))
    text = json.dumps({**document, key: [_PLACEHOLDER]}, indent=2)
    return text.replace(f"    {json.dumps(_PLACEHOLDER)}", ",\n".join(map(template.__mod__, per_row)), 1)
