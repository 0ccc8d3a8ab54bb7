"""Operations over a queue's worth of items, done in slices so that no one call holds the
interpreter lock for long.

A C-level loop (`list(map(...))`, `np.fromiter`, `np.array(list)`, `sorted`, `set(...)`)
never gives up the interpreter lock until it returns: over 100,000 jobs each such call held
it 3-20 ms in the controller, and every request thread that wanted the lock meanwhile waited
the whole call out. A submission takes the lock some 30 times (each network, store and lock
wait gives it up), so a cycle made of such calls slowed every submission it overlapped by
tens of ms (benchmarks/load.py: submit p99 ~85 ms whether cycles came every second or every
five). Done SLICE items at a time, the same work is as fast, and between slices a thread
that asked for the lock gets it (CPython hands it over when a thread runs bytecode after
the switch interval, here between two slices), as long as nothing between the slices gives
the lock up and takes it straight back (see `_joined`). benchmarks/gil_wait.py measures it.
"""

from collections.abc import Callable, Iterable, Sequence
from itertools import islice

import numpy as np

SLICE = 2048   # items per C-level call: a few hundred microseconds at most


def column(getter: Callable, items: Sequence, dtype) -> np.ndarray:
    """np.array of getter(item) for each item, as `dtype`."""
    return _joined([np.fromiter(map(getter, part), dtype=dtype, count=len(part)) for part in _slices(items)], dtype)


def to_array(values: Sequence, dtype) -> np.ndarray:
    """np.array(values, dtype) of a sequence of scalars."""
    return _joined([np.fromiter(part, dtype=dtype, count=len(part)) for part in _slices(values)], dtype)


def to_list(array: np.ndarray) -> list:
    """array.tolist() of a one-dimensional array."""
    out: list = []
    for start in range(0, len(array), SLICE):
        out.extend(array[start:start + SLICE].tolist())
    return out


def mapped(func: Callable, items: Sequence) -> list:
    """list(map(func, items))."""
    out: list = []
    for start in range(0, len(items), SLICE):
        out.extend(map(func, items[start:start + SLICE]))
    return out


def distinct(func: Callable, items: Sequence) -> set:
    """set(map(func, items))."""
    out: set = set()
    for start in range(0, len(items), SLICE):
        out.update(map(func, items[start:start + SLICE]))
    return out


def listed(items: Iterable) -> list:
    """list(items), for a set or other iterable that nobody changes meanwhile."""
    out: list = []
    iterator = iter(items)
    while part := list(islice(iterator, SLICE)):
        out.extend(part)
    return out


def _slices(items: Sequence) -> list[Sequence]:
    return [items[start:start + SLICE] for start in range(0, len(items), SLICE)]


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    # The slices are built into arrays of their own and joined by one np.concatenate at the
    # end, not each copied into a result as it is made: numpy gives up the interpreter lock
    # while it copies more than a few hundred items, and a thread that gives it up and takes
    # it straight back, slice after slice, keeps it from the others (CPython asks a thread to
    # hand the lock over only when it was held for a whole switch interval without anyone
    # taking it, and each retake restarts that count). concatenate's own copies come back to
    # back and take microseconds in all.
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def sorted_ints(values: Iterable[int]) -> list[int]:
    """sorted(values) of ints that fit in 64 bits (numpy sorts without the interpreter lock)."""
    array = to_array(listed(values), np.int64)
    array.sort(kind="stable")
    return to_list(array)
