"""Jobs whose fields are read from a record the first time they are used: what listings return.

A listing of 10,000 jobs (squeue) that built each `Job` in full spent ~14 µs a
job, ~140 ms in all, although squeue's default columns read about ten of the
job's fifty-odd fields (a frozen 29-field `JobSpec` alone costs ~6 µs to
build). A lazy job costs ~0.4 µs to make and reads each field from its
record (a wire message, for jem.convert) through the same reader function the
eager conversion uses, when the field is first used, and keeps the value.

A listing reads the same fields of every job, so the first use of a field
on any job of a listing reads that field for all of them at once, in C-level
`map` loops (a field costs ~0.1 µs a job that way, against ~0.3 µs read job
by job through a Python descriptor).

A reader may be a `ColumnReader` (the listing's column at once, in C-level
loops: a table lookup per job costs no Python call). A property of Job named
in `job_derived` (jem.convert names `label`) is read from the record too, as
the sender computed it, until a field of the job is set (then the property
computes it again on each set).

A lazy job is a `Job` (a subclass) and its `spec` a `JobSpec`, so callers see
no difference: every field reads as it would from the eager conversion;
setting a field of a job keeps the new value (a spec stays frozen); equality
with a plain Job or JobSpec compares the field values; `repr`, `copy` and
`pickle` give plain ones; `dataclasses.replace` returns a plain Job.
`tests/unit/test_convert.py` checks a lazy job field by field against the eager one.
"""

import collections
import dataclasses
import itertools
import operator
from typing import Any, Callable, Iterable

from jem.model.job import Job, JobSpec

Reader = Callable[[Any], Any]
Column = Callable[[list], Iterable]   # the records of a listing -> one field's values, in order


def _drain(values: Iterable) -> None:
    collections.deque(values, maxlen=0)


class ColumnReader:
    """A reader given as a column (records -> values, in order), for a field whose column can be
    read in C-level loops alone: a listing reads it so; one record reads the column of itself."""

    __slots__ = ("column",)

    def __init__(self, column: Column):
        self.column = column

    def __call__(self, record):
        return next(iter(self.column([record])))


class _Listing:
    """The records of one listing, and the __dict__ of each lazy object made over them, in one order."""

    __slots__ = ("records", "dicts")

    def __init__(self, records: list, dicts: list[dict]):
        self.records, self.dicts = records, dicts


class _LazyField:
    """A field read from the records on first use and kept in each object's __dict__.

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
        _drain(map(dict.setdefault, listing.dicts, itertools.repeat(self.name), self.column(listing.records)))
        return obj.__dict__[self.name]


def _lazy_type(base: type, columns: dict[str, Column], derived: dict[str, Column] | None = None) -> type:
    """A subclass of the dataclass `base` whose fields are _LazyFields over `columns`, and so are
    the properties of `base` named in `derived`: read from the record (which carries them as
    the property gives them) until a field of the object is set; each set then computes
    them with the property again into the object's __dict__ (where a later fill, setdefault,
    leaves them)."""
    names = tuple(f.name for f in dataclasses.fields(base))

    def as_plain(self):
        return base(*[getattr(self, name) for name in names])

    namespace: dict[str, Any] = {
        "__slots__": ("_listing", "__dict__"),
        "__doc__": f"A {base.__name__} read from its record on first use (see jem.model.lazyjob).",
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


def _columns(base: type, readers: dict[str, Reader]) -> dict[str, Column]:
    """Each field's column: its reader mapped over the records, or its default where it has no reader."""
    columns = {}
    for field in dataclasses.fields(base):
        read = readers.get(field.name)
        if isinstance(read, ColumnReader):
            columns[field.name] = read.column
        elif read is not None:
            columns[field.name] = _mapped(read)
        elif field.default_factory is not dataclasses.MISSING:
            columns[field.name] = (lambda make: lambda records: (make() for _ in records))(field.default_factory)
        else:
            columns[field.name] = (lambda value: lambda records: itertools.repeat(value, len(records)))(field.default)
    return columns


def _mapped(read: Reader) -> Column:
    return lambda records: map(read, records)


def _maker(lazy: type) -> Callable[[Iterable], list]:
    """records -> one new `lazy` object over each (object.__new__: the class's own __new__ makes
    plain instances), all in C-level loops."""
    set_listing, dict_of = lazy._listing.__set__, operator.attrgetter("__dict__")

    def make(records: Iterable) -> list:
        records = list(records)
        objs = list(map(object.__new__, itertools.repeat(lazy, len(records))))
        listing = _Listing(records, list(map(dict_of, objs)))
        _drain(map(set_listing, objs, itertools.repeat(listing)))
        return objs

    return make


def lazy_jobs_maker(job_readers: dict[str, Reader], spec_readers: dict[str, Reader],
                    spec_record: Reader, *, job_derived: dict[str, Reader] | None = None
                    ) -> Callable[[Iterable], list[Job]]:
    """records -> a lazy Job over each; `spec_record` gives the record a job's spec is read from.

    Makes the two lazy classes, so call it once per set of readers (jem.convert does, at import).
    `job_readers` and `spec_readers` map a field to a function of one record; fields without
    one keep their dataclass default. `job_derived` maps a property of Job (`label`) to the
    reader of the record's copy of it: one read in C instead of the property's Python and the
    fields it reads, while the job is as listed (see _lazy_type).
    """
    make_specs = _maker(_lazy_type(JobSpec, _columns(JobSpec, spec_readers)))
    columns = _columns(Job, job_readers)
    columns["spec"] = lambda records: make_specs(map(spec_record, records))
    derived = {name: _mapped(read) for name, read in (job_derived or {}).items()}
    return _maker(_lazy_type(Job, columns, derived))
