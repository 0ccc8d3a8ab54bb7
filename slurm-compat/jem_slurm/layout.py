"""Slurm's printf-like column formats (`%.18i %-8j|lit`) and the fixed-width cell rules they follow.

A format is literal text and fields `%[.][width]X`: a width pads the value
(left-justified, or right-justified after a dot) and also truncates it, the
way squeue and sinfo print them.
"""

import functools
import itertools
import re
from typing import Callable, Iterable, NamedTuple

_SPEC = re.compile(r"%(\.?)(\d*)([A-Za-z%#])")


MAX_WIDTH = 4096   # columns a field may ask for: `%999999999999i` must not allocate gigabytes


def field_width(digits: str, default: int = 0) -> int:
    """A field's width from its digits (ASCII only), at most MAX_WIDTH; `default` without digits."""
    return min(int(digits), MAX_WIDTH) if digits.isascii() and digits.isdigit() else default


class Field(NamedTuple):
    """One `%` field of a format: its letter, width (0: as wide as the value) and justification.

    A NamedTuple (not a dataclass) so that hashing a line's parts, which `render`
    does for every line, stays in C.
    """

    letter: str
    width: int = 0
    is_right: bool = False


def parse_format(text: str) -> list[str | Field]:
    """Split a format into literal strings and Fields.

    >>> parse_format("%.18i x%-5j")
    [Field(letter='i', width=18, is_right=True), ' x%-5j']
    """
    parts: list[str | Field] = []
    pos = 0
    for match in _SPEC.finditer(text):
        if match.start() > pos:
            parts.append(text[pos:match.start()])
        dot, width, letter = match.groups()
        if letter == "%":
            parts.append("%")
        else:
            parts.append(Field(letter, field_width(width), bool(dot)))
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    merged: list[str | Field] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def cell(value: str, width: int, *, is_right: bool) -> str:
    """Pad and truncate `value` to `width` (0: unchanged)."""
    if not width:
        return value
    value = value[:width]
    return value.rjust(width) if is_right else value.ljust(width)


def render(parts: list[str | Field], values: dict[str, str]) -> str:
    """One line: each Field replaced by its letter's value (padded and cut as `cell` does), literals as written."""
    template, letters = _template(tuple(parts))
    return template % tuple([values.get(letter, "") for letter in letters])


def lines(parts: list[str | Field], columns: dict[str, Callable[..., Iterable[str]]], items: list, *args) -> list[str]:
    """One line of `parts` per item: each Field's values are its letter's column(items, *args),
    one text per item in order (letters without a column print empty, as in `render`).

    A column yields a whole field's texts (mostly in C-level loops), and the template
    is applied to each line's tuple in C: squeue prints 10,000 lines at times, and a
    Python call per cell cost most of its time.
    """
    template, letters = _template(tuple(parts))
    if not letters:
        return [template % ()] * len(items)
    texts = [columns.get(letter, _empty)(items, *args) for letter in letters]
    return list(map(template.__mod__, zip(*texts)))


def _empty(items: list, *args) -> Iterable[str]:
    return itertools.repeat("", len(items))


@functools.lru_cache(maxsize=64)
def _template(parts: tuple) -> tuple[str, tuple[str, ...]]:
    """A `%` template for a line of `parts` (one `%s` per Field), and the letters in its argument order.

    `%-18.18s` pads and truncates in C, as `cell(value, 18, is_right=False)`
    does in Python (and `%` over a tuple costs half what str.format does).
    """
    pieces, letters = [], []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part.replace("%", "%%"))
            continue
        pieces.append(f"%{'' if part.is_right else '-'}{part.width}.{part.width}s" if part.width else "%s")
        letters.append(part.letter)
    return "".join(pieces), tuple(letters)


def accounting_columns(text: str, by_lower: dict[str, str], default: Callable[[str], tuple[int, bool]],
                       invalid: Callable[[str], Exception]) -> list[tuple[str, int, bool]]:
    """sacct's and sstat's `-o "name[%[-]width],..."` -> [(field, width, is_left)]: names in any
    case (`by_lower`), `default(field)` the width and justification without one, an explicit
    width right-justifying unless it starts with `-`; `invalid(name)` raised for an unknown one."""
    columns = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, width = item.partition("%")
        field = by_lower.get(name.lower())
        if field is None:
            raise invalid(name)
        size, is_left = default(field)
        digits = width.lstrip("-")
        if digits.isascii() and digits.isdigit():
            size, is_left = field_width(digits), width.startswith("-")
        columns.append((field, size, is_left))
    return columns


def accounting_cell(value: str, width: int, is_left: bool) -> str:
    """sacct's and sstat's cell: a value too wide is cut to end in `+`."""
    if len(value) > width:
        value = value[:width - 1] + "+"
    return value.ljust(width) if is_left else value.rjust(width)
