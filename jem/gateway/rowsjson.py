"""A listing's answer as proto3 JSON with its records printed a column at a time, from its bytes.

jsonprint prints a message field by field in Python: ~40 µs a job, so a portal's page of
1,000 jobs cost ~40 ms to print against ~5 ms for ListJobs itself. Here the records (the
answer's one repeated message field: ListJobsResponse.jobs, ListNodesResponse.nodes, ...)
are read from the serialized answer into a column per field by jem._core.wire, each column
is converted at once (64-bit integers to text, enums to names, booleans), and jem._core.jsonrows
writes the rows between the text that is the same in every row. A field with presence that
some records lack (a start time, an optional limit) is a cell with its key, or empty; the
answer's other fields print through jsonprint. What it prints is what
`json.dumps(jsonprint.message_to_dict(answer), separators=(",", ":"))` prints;
`tests/unit/test_rowsjson.py` compares the two on random answers.

A record type it cannot print so (bytes, floating point or zigzag fields, a nested message
that some records lack, an object whose first field has presence) raises Unsupported, and
the caller prints the answer with jsonprint.
"""

import json
from typing import Callable

from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from jem._core.jsonrows import RowsText, render_rows
from jem._core.wire import decode_records
from jem.gateway.jsonprint import message_to_dict

_PLACEHOLDER = "\x00rows\x00"
_INTEGER_TYPES = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
                  FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_BOOL}
_TIMESTAMP = "google.protobuf.Timestamp"


class Unsupported(Exception):
    """A record type, or a listing's records, that this printer leaves to jsonprint."""


def _key(name: str) -> str:
    return json.dumps(name) + ":"


def _convert(field: FieldDescriptor) -> Callable[[list], list] | None:
    """How a column of `field`'s values (as jem._core.wire reads them) becomes what jsonprint prints."""
    if field.type == FieldDescriptor.TYPE_BOOL:
        return lambda values: list(map(bool, values))
    if field.type == FieldDescriptor.TYPE_INT64:
        return lambda values: list(map(str, values))
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = {value.number: value.name for value in field.enum_type.values}
        return lambda values: [names.get(v, v) for v in values]
    return None


def _printed_order(descriptor: Descriptor) -> list[FieldDescriptor]:
    """The fields in the order jsonprint prints them: those printed as they are (int32, uint32,
    bool, string), then the 64-bit integers, then the enums, each without presence; then the
    rest (fields with presence, repeated fields, maps, messages, ...), each group in the
    descriptor's order."""
    groups: list[list[FieldDescriptor]] = [[], [], [], []]
    for field in descriptor.fields:
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if field.has_presence or field.is_repeated or is_map or field.message_type is not None:
            groups[3].append(field)
        elif field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64):
            groups[1].append(field)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            groups[2].append(field)
        elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_BOOL,
                            FieldDescriptor.TYPE_STRING):
            groups[0].append(field)
        else:
            groups[3].append(field)
    return [field for group in groups for field in group]


class _Plan:
    """How one record type prints: the wire paths to read, with their kinds, and the steps that make
    a row (constant text, or a cell from those columns), each made once from the descriptor."""

    def __init__(self, descriptor: Descriptor):
        self.paths: list[tuple[int, ...]] = []
        self.kinds = ""
        self.steps: list[tuple] = []
        self._add_object(descriptor, ())

    def _read(self, kind: str, path: tuple[int, ...]) -> int:
        self.paths.append(path)
        self.kinds += kind
        return len(self.paths) - 1

    def _add_object(self, descriptor: Descriptor, prefix: tuple[int, ...]) -> None:
        self.steps.append(("text", "{"))
        for index, field in enumerate(_printed_order(descriptor)):
            comma = "," if index else ""
            path = (*prefix, field.number)
            key = comma + _key(field.name)
            message = field.message_type
            is_map = message is not None and message.GetOptions().map_entry
            if index == 0 and field.has_presence:
                raise Unsupported(f"{descriptor.full_name}: its first field has presence")
            if is_map:
                value_field = message.fields_by_name["value"]
                if message.fields_by_name["key"].type != FieldDescriptor.TYPE_STRING or value_field.type not in (
                        FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32):
                    raise Unsupported(f"{field.full_name}: a map of other than strings and integers")
                kind = "M" if value_field.type == FieldDescriptor.TYPE_STRING else "m"
                as_text = value_field.type == FieldDescriptor.TYPE_INT64
                self.steps.append(("map", key, self._read(kind, path), as_text))
            elif field.is_repeated:
                if message is not None or field.type not in _INTEGER_TYPES | {FieldDescriptor.TYPE_STRING}:
                    raise Unsupported(f"{field.full_name}: a repeated field of other than strings and integers")
                kind = "S" if field.type == FieldDescriptor.TYPE_STRING else "I"
                self.steps.append(("list", key, self._read(kind, path), _convert(field)))
            elif message is not None and message.full_name == _TIMESTAMP:
                self.steps.append(("timestamp", key, self._read("h", path), self._read("i", (*path, 1)),
                                   self._read("i", (*path, 2))))
            elif message is not None:
                self.steps.append(("text", key))
                self.steps.append(("present", self._read("h", path), field.full_name))
                self._add_object(message, path)
            elif field.type == FieldDescriptor.TYPE_STRING or field.type in _INTEGER_TYPES:
                kind = "s" if field.type == FieldDescriptor.TYPE_STRING else "i"
                if field.has_presence:
                    self.steps.append(("optional", key, self._read("h", path), self._read(kind, path),
                                       _convert(field)))
                else:
                    self.steps.append(("text", key))
                    self.steps.append(("value", self._read(kind, path), _convert(field)))
            else:
                raise Unsupported(f"{field.full_name}: a field of type {field.type}")
        self.steps.append(("text", "}"))


_plans: dict[str, _Plan] = {}


def _plan(descriptor: Descriptor) -> _Plan:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = _plans[descriptor.full_name] = _Plan(descriptor)
    return plan


def records_field(descriptor: Descriptor) -> FieldDescriptor | None:
    """The answer's one repeated message field (its records), None where it has not one."""
    fields = [f for f in descriptor.fields if f.is_repeated and f.message_type is not None
              and not f.message_type.GetOptions().map_entry]
    return fields[0] if len(fields) == 1 else None


def answer_json(answer_class, data: bytes) -> "bytes | RowsText":
    """`data` (a serialized `answer_class`) as proto3 JSON, its records printed a column at a time;
    Unsupported for a record type or records this cannot print."""
    field = records_field(answer_class.DESCRIPTOR)
    if field is None:
        raise Unsupported(f"{answer_class.DESCRIPTOR.full_name} has no one repeated message field")
    plan = _plan(field.message_type)
    columns = decode_records([data], field.number, tuple(plan.paths), plan.kinds.encode())
    n_rows = len(columns[0]) if columns else 0
    rest = answer_class.FromString(data)
    rest.ClearField(field.name)
    document = message_to_dict(rest)
    document[field.name] = [_PLACEHOLDER]
    head, _, tail = json.dumps(document, separators=(",", ":")).partition(json.dumps(_PLACEHOLDER))
    if not n_rows:
        return json.dumps({**document, field.name: []}, separators=(",", ":")).encode()
    pieces, cells = _pieces_and_cells(plan, columns, n_rows)
    return render_rows(head.encode(), tuple(pieces), cells, n_rows, b",", tail.encode())


def _pieces_and_cells(plan: _Plan, columns: list[list], n_rows: int) -> tuple[list[bytes], list[list]]:
    pieces: list[bytes] = []
    cells: list[list] = []
    text = ""
    for step in plan.steps:
        kind = step[0]
        if kind == "text":
            text += step[1]
            continue
        if kind == "present":
            present = columns[step[1]]
            if present.count(1) != n_rows:
                raise Unsupported(f"{step[2]}: some records lack it")
            continue
        if kind == "value":
            values = columns[step[1]]
            cell = step[2](values) if step[2] else values
        elif kind == "optional":
            _, key, has, value, convert = step
            values = convert(columns[value]) if convert else columns[value]
            cell = _cells_with_key(key, columns[has], values)
        elif kind == "timestamp":
            _, key, has, seconds, nanos = step
            present = columns[has]
            stamps = [(s, n) if p else None for p, s, n in zip(present, columns[seconds], columns[nanos])]
            cell = _cells_with_key(key, present, stamps, _timestamp_text)
        elif kind == "list":
            _, key, column, convert = step
            cell = _texts(key, columns[column], (lambda v: convert(list(v))) if convert else list)
        else:   # map
            _, key, column, as_text = step
            cell = _texts(key, columns[column], lambda entries: {k: (str(v) if as_text else v) for k, v in entries})
        pieces.append(text.encode())
        cells.append(cell)
        text = ""
    pieces.append(text.encode())
    return pieces, cells


def _cells_with_key(key: str, present: list, values: list, value_of: Callable = lambda value: value) -> list[bytes]:
    """Each row's `key` + the JSON of value_of(its value) where present, else nothing; each distinct
    value's text made once."""
    texts: dict = {}   # (by type too: True == 1)
    out = []
    for is_present, value in zip(present, values):
        if not is_present:
            out.append(b"")
            continue
        text = texts.get((type(value), value))
        if text is None:
            text = texts[(type(value), value)] = (key + json.dumps(value_of(value))).encode()
        out.append(text)
    return out


def _texts(key: str, values: list, value_of: Callable) -> list[bytes]:
    """Each row's `key` + the JSON of value_of(its value) (a list or an object), each distinct value's
    text made once (the values are tuples: of items, or of a map's entries)."""
    texts: dict = {}
    out = []
    for value in values:
        text = texts.get(value)
        if text is None:
            text = texts[value] = (key + json.dumps(value_of(value), separators=(",", ":"))).encode()
        out.append(text)
    return out


def _timestamp_text(stamp: tuple[int, int]) -> str:
    seconds, nanos = stamp
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).ToJsonString()
