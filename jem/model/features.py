"""Node features and a job's required features (sbatch -C/--constraint), as Slurm writes them.

A node carries a set of feature names (config `features = ["a", "b"]`). A job's
constraint is one feature (`a`), all of several (`a&b`) or one of several
(`a|b`); Slurm's counts (`a*2`), brackets (`[a|b]`) and mixing `&` with `|`
are refused, so every accepted constraint is "all of A, and one of B when B
is not empty" — what jem._core.backfill tests with two bitmasks.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jem.model.errors import InvalidFeature

MAX_FEATURES = 63                  # bits of a uint64 mask; the top bit means "a feature no node has"
MISSING_BIT = 1 << MAX_FEATURES
_NAME = re.compile(r"[A-Za-z0-9_.:+-]+")


@dataclass(frozen=True, slots=True)
class Constraint:
    """A job's required features: every name of `all_of`, and one of `any_of` when it is not empty."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.all_of + self.any_of

    def is_met_by(self, features: Iterable[str]) -> bool:
        have = set(features)
        return have.issuperset(self.all_of) and (not self.any_of or not have.isdisjoint(self.any_of))


def parse_constraint(text: str) -> Constraint:
    """`a`, `a&b&c` or `a|b|c` (blanks around names ignored); "" is no constraint.

    >>> parse_constraint("intel&gpu")
    Constraint(all_of=('intel', 'gpu'), any_of=())
    >>> parse_constraint("rack1|rack2")
    Constraint(all_of=(), any_of=('rack1', 'rack2'))
    """
    text = text.strip()
    if not text:
        return Constraint()
    if "&" in text and "|" in text:
        raise InvalidFeature(f"{text!r}: JEM takes a&b or a|b, not both in one constraint")
    names = tuple(name.strip() for name in re.split(r"[&|]", text))
    for name in names:
        if not _NAME.fullmatch(name):
            raise InvalidFeature(f"{text!r}: {name!r} is not a feature name")
    return Constraint(any_of=names) if "|" in text else Constraint(all_of=names)


def check_feature_names(names: Iterable[str], where: str) -> tuple[str, ...]:
    """The names, each checked to be a valid feature name; raises InvalidFeature naming `where`."""
    result = tuple(names)
    for name in result:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidFeature(f"{where}: {name!r} is not a feature name")
    return result


class FeatureBits:
    """One bit per feature name, in sorted name order; names no node has map to MISSING_BIT."""

    def __init__(self, names: Iterable[str]):
        ordered = sorted(set(names))
        if len(ordered) > MAX_FEATURES:
            raise InvalidFeature(f"{len(ordered)} distinct node features; at most {MAX_FEATURES} are supported")
        self._bit = {name: 1 << i for i, name in enumerate(ordered)}

    def mask(self, names: Iterable[str]) -> int:
        bits = 0
        for name in names:
            bits |= self._bit.get(name, MISSING_BIT)
        return bits
