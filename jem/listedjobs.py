"""A listing's jobs read straight from ListJobs' serialized pages, a column per field.

`Client.listing` asks for the pages as bytes, and jem._core.wire reads every
field of every job in one pass over them (~8 ms for 10,000 jobs), where the
protobuf runtime's message objects cost ~1 µs a job for each timestamp read
and 0.1-0.3 µs for each other field (squeue --json reads fifty).

A `JobTable` gives each field's values for all its jobs at once (`column`),
and its jobs as objects (`jobs`). A `Listing` is the table of a ListJobs
answer: a field's column is made from the wire's values the first time it is
asked for, and its jobs are lazy (jem.model.lazyjob) over the same columns,
so a field read on one job costs what reading the column once does. A plain
`JobTable` over any jobs reads the columns through their attributes: what
a Listing's columns must equal (tests/unit/test_listedjobs.py compares them,
and each field with jem.convert's job_from_pb of the same message). A Listing's
columns are the values as listed: a field later set on one of its jobs shows
on the job only.
"""

import operator
from typing import Callable

from jem import convert
from jem._core.wire import decode_records
from jem.model.arrays import accepted_array
from jem.model.idlists import parse_id_list
from jem.model.job import Job, JobUsage
from jem.model.lazyjob import lazy_rows_maker
from jem.v1 import common_pb2, jobs_pb2

_JOB = common_pb2.Job.DESCRIPTOR
JOBS_FIELD = jobs_pb2.ListJobsResponse.DESCRIPTOR.fields_by_name["jobs"].number
SPEC = _JOB.fields_by_name["spec"].number


class JobTable:
    """Jobs, and each field's values for all of them (`column("spec.name")`), read through the
    jobs' attributes."""

    def __init__(self, jobs: list[Job]):
        self._jobs = jobs

    @property
    def jobs(self) -> list[Job]:
        return self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def column(self, path: str) -> list:
        """The value of the attribute `path` (dotted) of each job, in order."""
        return list(map(operator.attrgetter(path), self.jobs))

    def take(self, order: list[int]) -> "JobTable":
        """The table of the jobs at `order`'s positions, in that order."""
        return JobTable(list(map(self.jobs.__getitem__, order)))

    def in_listing_order(self) -> "JobTable":
        """The jobs by Job.list_order: by id, an array's records together in task order (its
        unsplit tasks last)."""
        orders = self.column("list_order")
        return self.take(sorted(range(len(orders)), key=orders.__getitem__))


def _bools(values: list) -> list:
    return list(map(bool, values))


def _time_values(unset):
    """A Timestamp's (presence, seconds, nanos) -> what jem.convert reads (seconds + nanos / 1e9)."""
    def values(present: list, seconds: list, nanos: list) -> list:
        if not any(present):   # (a pending job has no start, end, ...: most of a long listing)
            return [unset] * len(present)
        return [s + n / 1e9 if p else unset for p, s, n in zip(present, seconds, nanos)]

    return values


def _optional(make: Callable | None = None):
    """An optional scalar's (presence, value) -> the value (or make(value)) where present, else None."""
    if make is None:
        return lambda present, values: [v if p else None for p, v in zip(present, values)]
    return lambda present, values: [make(v) if p else None for p, v in zip(present, values)]


def _time(name: str, unset=None) -> tuple:
    return (("h", name), ("i", f"{name}.seconds"), ("i", f"{name}.nanos")), _time_values(unset)


def _one(kind: str, name: str, make: Callable | None = None) -> tuple:
    return (((kind, name),), make)


def _id_lists(values: list) -> list:
    return [tuple(map(parse_id_list, v)) if v else () for v in values]


# Field -> ((kind, wire field) read, ...), and the function making the field's column of model
# values from those columns (None: the one column as read). A wire field is named as the proto
# names it (dotted into a submessage), of common_pb2.Job (of its JobSpec for _SPEC_FIELDS). Kinds
# as jem._core.wire's: i an int, h a presence, s a str, S repeated str, I repeated int,
# m map<string, int64>, M map<string, string>. Each makes what jem.convert's reader of the field makes.
_JOB_FIELDS: dict[str, tuple] = {
    "job_id": _one("i", "job_id"), "user": _one("s", "user"), "uid": _one("i", "uid"), "gid": _one("i", "gid"),
    "submit_time": _time("submit_time", unset=0.0),
    "shape": ((("i", "n_nodes"), ("i", "n_tasks"), ("i", "alloc_per_node.cpus"), ("i", "alloc_per_node.mem_mib"),
               ("i", "alloc_per_node.gpus")),
              lambda n_nodes, n_tasks, cpus, mem_mib, gpus: list(map(
                  convert.SHAPES.__getitem__, zip(n_nodes, n_tasks, zip(cpus, mem_mib, gpus))))),
    "time_limit_s": ((("i", "time_limit_unlimited"), ("i", "time_limit_s")),
                     lambda unlimited, limits: [None if u else v for u, v in zip(unlimited, limits)]),
    "state": _one("i", "state", lambda values: list(map(convert.STATE_FROM_PB.__getitem__, values))),
    "reason": _one("i", "reason", lambda values: list(map(convert.REASON_FROM_PB.__getitem__, values))),
    "reason_detail": _one("s", "reason_detail"), "priority": _one("i", "priority"), "held_by": _one("s", "held_by"),
    "start_time": _time("start_time"), "end_time": _time("end_time"), "nodes": _one("S", "nodes"),
    "exit_code": _one("i", "exit_code"), "exit_signal": _one("i", "exit_signal"),
    "restart_count": _one("i", "restart_count"),
    "usage": ((("i", "usage.cpu_user_us"), ("i", "usage.cpu_system_us"), ("i", "usage.max_rss_kib")),
              lambda *usage: list(map(JobUsage, *usage))),
    "planned_start": _time("planned_start_time"),
    "planned_start_is_estimate": _one("i", "planned_start_is_estimate", _bools),
    "planned_nodes": _one("S", "planned_nodes"),
    "planned_start_is_forecast": _one("i", "planned_start_is_forecast", _bools),
    "cpu_ids": _one("S", "cpu_ids", _id_lists), "gpu_ids": _one("S", "gpu_ids", _id_lists),
    "array_task_id": ((("h", "array_task_id"), ("i", "array_task_id")), _optional()),
    "array_parent_id": ((("i", "array_job_id"), ("i", "job_id")),
                        lambda array_ids, ids: [a if a != i else 0 for a, i in zip(array_ids, ids)]),
    "array_pending": _one("s", "array_pending",
                          lambda values: [accepted_array(v).indices if v else () for v in values]),
    "dependency": _one("s", "dependency"), "retries_done": _one("i", "retries_done"),
    # Properties of Job as the controller sent them: the label, and the array's id (Job.array_job_id)
    "label": _one("s", "label"), "array_job_id": _one("i", "array_job_id"),
}
_SPEC_FIELDS: dict[str, tuple] = {
    "script": _one("s", "script"), "name": _one("s", "name"), "account": _one("s", "account"),
    "partition": _one("s", "partition"),
    "n_nodes": _one("i", "n_nodes"), "n_tasks": _one("i", "n_tasks"),
    "cpus_per_task": _one("i", "cpus_per_task", lambda values: [v or 1 for v in values]),
    "n_tasks_per_node": _one("i", "n_tasks_per_node"),
    "mem_per_node_mib": _one("i", "mem_per_node_mib", lambda values: [v or None for v in values]),
    "mem_per_cpu_mib": _one("i", "mem_per_cpu_mib", lambda values: [v or None for v in values]),
    "gpus_per_node": _one("i", "gpus_per_node"),
    "time_limit_s": ((("h", "time_limit_s"), ("i", "time_limit_s")), _optional()),
    "time_limit_unlimited": _one("i", "time_limit_unlimited", _bools), "script_args": _one("S", "script_args"),
    "working_dir": _one("s", "working_dir"),
    "environment": _one("M", "environment", lambda values: [dict(v) if v else {} for v in values]),
    "stdout_pattern": _one("s", "stdout_pattern"), "stderr_pattern": _one("s", "stderr_pattern"),
    "hold": _one("i", "hold", _bools),
    "begin_time": _time("begin_time"), "nice": _one("i", "nice"),
    "requeue": ((("h", "requeue"), ("i", "requeue")), _optional(bool)), "stdin_path": _one("s", "stdin_path"),
    "array": _one("s", "array"), "dependency": _one("s", "dependency"), "open_mode": _one("s", "open_mode"),
    "warn_signal": _one("i", "warn_signal"), "warn_time_s": _one("i", "warn_time_s"),
    "warn_batch_only": _one("i", "warn_batch_only", _bools),
    "constraint": _one("s", "constraint"), "exclusive": _one("i", "exclusive", _bools), "qos": _one("s", "qos"),
    "gres_per_node": _one("m", "gres_per_node",
                          lambda values: [tuple(sorted(dict(v).items())) if v else () for v in values]),
    "reservation": _one("s", "reservation"), "gpu_type": _one("s", "gpu_type"), "retries": _one("i", "retries"),
    "retry_delay_s": _one("i", "retry_delay_s"),
    "retry_on": _one("I", "retry_on", lambda values: [convert.retry_states_from_pb(v) if v else () for v in values]),
    "mail_type": _one("I", "mail_types", lambda values: [convert.mail_type_from_pb(v) if v else "" for v in values]),
    "mail_user": _one("s", "mail_user"), "cron_schedule": _one("s", "cron_schedule"),
    "overcommit": _one("i", "overcommit", _bools),
}


def _numbers(descriptor, dotted: str) -> tuple[int, ...]:
    """The field numbers of the dotted wire field `dotted` of `descriptor`'s message."""
    numbers = []
    for name in dotted.split("."):
        field = descriptor.fields_by_name[name]
        numbers.append(field.number)
        descriptor = field.message_type
    return tuple(numbers)


def _wanted() -> tuple[tuple, bytes, dict]:
    """(every path of field numbers read, each once; their kinds; {(prefix, field): the positions
    of its paths})."""
    position: dict[tuple[str, tuple], int] = {}
    where: dict = {}
    for prefix, descriptor, fields in (((), _JOB, _JOB_FIELDS), ((SPEC,), _JOB.fields_by_name["spec"].message_type,
                                                                  _SPEC_FIELDS)):
        for name, (items, _) in fields.items():
            where[(prefix, name)] = [position.setdefault((kind, (*prefix, *_numbers(descriptor, wire_name))),
                                                         len(position)) for kind, wire_name in items]
    return tuple(path for _, path in position), "".join(kind for kind, _ in position).encode(), where


_PATHS, _KINDS, _WHERE = _wanted()
_MAKE = {(prefix, name): make for prefix, fields in (((), _JOB_FIELDS), ((SPEC,), _SPEC_FIELDS))
         for name, (_, make) in fields.items()}


class _Rows:
    """The columns read from a listing's pages, each field's model values once made, and the
    lazy job of each row once asked for."""

    __slots__ = ("wire", "n_rows", "_fields", "_jobs")

    def __init__(self, pages: list[bytes]):
        self.wire = decode_records(pages, JOBS_FIELD, _PATHS, _KINDS)
        self.n_rows = len(self.wire[0])
        self._fields: dict = {}
        self._jobs: list[Job | None] = [None] * self.n_rows

    def __len__(self) -> int:
        return self.n_rows

    def __iter__(self):
        return iter(range(self.n_rows))

    def field(self, key: tuple) -> list:
        """The model values of the field `key` ((), name) or ((SPEC,), name) of every row."""
        values = self._fields.get(key)
        if values is None:
            read = [self.wire[i] for i in _WHERE[key]]
            make = _MAKE[key]
            values = self._fields[key] = make(*read) if make is not None else read[0]
        return values

    def jobs(self, positions: list[int] | None = None) -> list[Job]:
        """The lazy jobs of the rows at `positions` (None: every row), each made once: the rows
        without one yet get theirs together, over those rows' values (a few jobs of a long
        listing do not make the others)."""
        jobs = self._jobs
        wanted = range(self.n_rows) if positions is None else positions
        missing = [i for i, job in zip(wanted, map(jobs.__getitem__, wanted)) if job is None]
        if len(missing) == self.n_rows:   # (all of them: over the rows themselves, in their order)
            jobs[:] = _make_jobs(self)
        elif missing:
            for i, job in zip(missing, _make_jobs(_SomeRows(self, missing))):
                jobs[i] = job
        return list(jobs) if positions is None else list(map(jobs.__getitem__, positions))


class _SomeRows:
    """Some rows of a listing (at `positions`), for lazy jobs made over them alone."""

    __slots__ = ("rows", "positions")

    def __init__(self, rows: _Rows, positions: list[int]):
        self.rows, self.positions = rows, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self):
        return iter(range(len(self.positions)))

    def field(self, key: tuple) -> list:
        return list(map(self.rows.field(key).__getitem__, self.positions))


def _field_column(key: tuple):
    return lambda rows: rows.field(key)


_DERIVED = ("label", "array_job_id")   # (properties of Job: see _JOB_FIELDS)
_make_jobs = lazy_rows_maker({name: _field_column(((), name)) for name in _JOB_FIELDS if name not in _DERIVED},
                             {name: _field_column(((SPEC,), name)) for name in _SPEC_FIELDS},
                             job_derived={name: _field_column(((), name)) for name in _DERIVED})


def listing_of_pages(pages: list[bytes]) -> "Listing":
    """The listing of ListJobs' serialized answers `pages`, in their order."""
    return Listing(_Rows(pages))


class Listing(JobTable):
    """The jobs of a listing's rows, in `order` (row numbers; None: the rows' own)."""

    def __init__(self, rows: _Rows, order: list[int] | None = None):
        self._rows, self._order = rows, order
        self._columns: dict[str, list] = {}

    @property
    def jobs(self) -> list[Job]:
        return self._rows.jobs(self._order)

    def __len__(self) -> int:
        return len(self._rows) if self._order is None else len(self._order)

    def column(self, path: str) -> list:
        values = self._columns.get(path)
        if values is None:
            values = self._columns[path] = self._read(path)
        return values

    def _read(self, path: str) -> list:
        first, _, rest = path.partition(".")
        if first == "spec" and rest:
            first, _, rest = rest.partition(".")
            key = ((SPEC,), first)
        else:
            key = ((), first)
        if key not in _WHERE:   # (a property of Job, or a field the wire does not carry)
            return super().column(path)
        values = self._rows.field(key)
        if self._order is not None:
            values = list(map(values.__getitem__, self._order))
        return list(map(operator.attrgetter(rest), values)) if rest else values

    def take(self, order: list[int]) -> "Listing":
        return Listing(self._rows, order if self._order is None else list(map(self._order.__getitem__, order)))

    def in_listing_order(self) -> "Listing":
        """The jobs by Job.list_order: by id, an array's records together in task order (its
        unsplit tasks last)."""
        ids, array_ids = self.column("job_id"), self.column("array_job_id")
        if not any(array_ids):   # (the pages come by id)
            return self if ids == sorted(ids) else self.take(sorted(range(len(ids)), key=ids.__getitem__))
        task_ids = self.column("array_task_id")
        keys = [(array_id, 1 << 62 if task is None else task) if array_id else (job_id, -1)
                for job_id, array_id, task in zip(ids, array_ids, task_ids)]
        return self.take(sorted(range(len(keys)), key=keys.__getitem__))
