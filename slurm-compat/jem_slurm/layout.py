"""Slurm's printf-like column formats (`%.18i %-8j|lit`) and the fixed-width cell rules they follow.

A format is literal text and fields `%[.][width]X`: a width pads the value
(left-justified, or right-justified after a dot) and also truncates it, the
way squeue and sinfo print them.
"""

import re
from dataclasses import dataclass

_SPEC = re.compile(r"%(\.?)(\d*)([A-Za-z%#])")


@dataclass(frozen=True, slots=True)
class Field:
    """One `%` field of a format: its letter, width (0: as wide as the value) and justification."""

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
            parts.append(Field(letter, int(width) if width else 0, bool(dot)))
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
    """One line: each Field replaced by its letter's value, literals as written."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(cell(values.get(part.letter, ""), part.width, is_right=part.is_right))
    return "".join(out)
