"""Jobs whose fields are made the first time they are used: what listings return.

A listing of 10,000 jobs (squeue) that built each `Job` in full spent ~14 µs a
job, ~140 ms in all, although squeue's default columns read about ten of the
job's fifty-odd fields (a frozen 29-field `JobSpec` alone costs ~6 µs to
build). A lazy job costs ~0.4 µs to make and reads each field when it is
first used, and keeps the value.

A listing reads the same fields of every job, so the first use of a field
on any job of a listing reads that field for all of them at once: its column
(a function of the listing's rows giving every row's value; jem.listedjobs
makes them from the wire), stored in the objects in C-level `map` loops. A
property of Job named in `job_derived` (`label`) is read from its column too,
as the sender computed it, until a field of the job is set (then the property
computes it again on each set).

A lazy job is a `Job` (a subclass) and its `spec` a `JobSpec`, so callers see
no difference: every field reads as it would from an eager conversion;
setting a field of a job keeps the new value (a spec stays frozen); equality
with a plain Job or JobSpec compares the field values; `repr`, `copy` and
`pickle` give plain ones; `dataclasses.replace` returns a plain Job.
`tests/unit/test_listedjobs.py` checks a lazy job field by field against jem.convert's.
"""

import collections
import dataclasses
import itertools
import operator
from typing import Any, Callable, Iterable

from jem.model.job import Job, JobSpec

Column = Callable[[Any], Iterable]   # a listing's rows -> one field's values, in order


def _drain(values: Iterable) -> None:
    collections.deque(values, maxlen=0)


class _Listing:
    """The rows of one listing, and the __dict__ of each lazy object made over them, in one order."""

    __slots__ = ("rows", "dicts")

    def __init__(self, rows, dicts: list[dict]):
        self.rows, self.dicts = rows, dicts


class _LazyField:
    """A field read from the rows on first use and kept in each object's __dict__.

    A non-data descriptor (no __set__): once the value is in the instance's __dict__, Python
    finds it there without calling back here, so a later read costs what a plain attribute
    does. The same ordering makes setting a field of a Job simply store the new value, which
    the fill below keeps (setdefault), as it keeps every value already there.
    """

    __slots__ = ("name", "column")

    def __init__(self, name: str, column: Column):
        self.name, self.column = name, column

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        listing = obj._listing
        _drain(map(dict.setdefault, listing.dicts, itertools.repeat(self.name), self.column(listing.rows)))
        return obj.__dict__[self.name]


def _lazy_type(base: type, columns: dict[str, Column], derived: dict[str, Column] | None = None) -> type:
    """A subclass of the dataclass `base` whose fields are _LazyFields over `columns`, and so are
    the properties of `base` named in `derived`: read from their columns (the values the
    property gives) until a field of the object is set; each set then computes
    them with the property again into the object's __dict__ (where a later fill, setdefault,
    leaves them)."""
    names = tuple(f.name for f in dataclasses.fields(base))

    def as_plain(self):
        return base(*[getattr(self, name) for name in names])

    namespace: dict[str, Any] = {
        "__slots__": ("_listing", "__dict__"),
        "__doc__": f"A {base.__name__} whose fields are read on first use (see jem.model.lazyjob).",
        # dataclasses.replace calls type(obj)(**fields): that makes a plain instance.
        "__new__": lambda cls, *args, **fields: base(*args, **fields),
        "__eq__": lambda self, other: as_plain(self) == other if isinstance(other, base) else NotImplemented,
        "__hash__": base.__hash__,
        "__repr__": lambda self: repr(as_plain(self)),
        "__reduce__": lambda self: (base, tuple(getattr(self, name) for name in names)),
    }
    for name, column in {**columns, **(derived or {})}.items():
        namespace[name] = _LazyField(name, column)
    if derived:
        computed = {name: getattr(base, name).fget for name in derived}

        def __setattr__(self, name, value):
            base.__setattr__(self, name, value)
            for derived_name, compute in computed.items():
                self.__dict__[derived_name] = compute(self)

        namespace["__setattr__"] = __setattr__
    return type(f"Lazy{base.__name__}", (base,), namespace)


def _columns(base: type, given: dict[str, Column]) -> dict[str, Column]:
    """Each field's column: the one `given`, or its default where none is."""
    columns = {}
    for field in dataclasses.fields(base):
        if field.name in given:
            columns[field.name] = given[field.name]
        elif field.default_factory is not dataclasses.MISSING:
            columns[field.name] = (lambda make: lambda rows: (make() for _ in rows))(field.default_factory)
        else:
            columns[field.name] = (lambda value: lambda rows: itertools.repeat(value, len(rows)))(field.default)
    return columns


def lazy_rows_maker(job_columns: dict[str, Column], spec_columns: dict[str, Column],
                    *, job_derived: dict[str, Column] | None = None) -> Callable[[Any], list[Job]]:
    """rows -> a lazy Job over each row of `rows`: an object with a len() and an iteration of its
    rows, which each column (a function of `rows`, giving every row's value in order) reads as it
    will (jem.listedjobs' columns read the wire). A job's spec reads the same rows through
    `spec_columns`. Fields without a column keep their dataclass default. Makes the two lazy
    classes: call it once per set of columns."""
    make_specs = _rows_maker(_lazy_type(JobSpec, _columns(JobSpec, spec_columns)))
    columns = _columns(Job, job_columns)
    columns["spec"] = make_specs
    return _rows_maker(_lazy_type(Job, columns, job_derived))


def _rows_maker(lazy: type) -> Callable[[Any], list]:
    """rows -> one new `lazy` object per row, over `rows` itself (object.__new__: the class's own
    __new__ makes plain instances), all in C-level loops."""
    set_listing, dict_of = lazy._listing.__set__, operator.attrgetter("__dict__")

    def make(rows) -> list:
        objs = list(map(object.__new__, itertools.repeat(lazy, len(rows))))
        listing = _Listing(rows, list(map(dict_of, objs)))
        _drain(map(set_listing, objs, itertools.repeat(listing)))
        return objs

    return make
