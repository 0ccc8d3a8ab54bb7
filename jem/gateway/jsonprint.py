"""A message as proto3 JSON, as protobuf's json_format.MessageToDict prints it for the gateway (the
protos' field names, every field without presence printed, zero or not), from a printing plan per
message type made once from its descriptor.

Why not json_format itself: it is pure Python that looks up each field's type and options anew for
every value, ~0.15 ms a job, so a portal's listing of 1,000 jobs took ~150 ms to print against ~5 ms
for ListJobs itself. With a plan (each field's name, whether it has presence, and its converter,
chosen once) a job costs a few tens of µs. Requests are still read by json_format (ParseDict).
`tests/unit/test_jsonprint.py` holds the two equal, json_format as the oracle, on random messages
of every type of jem.v1.
"""

import base64
import math
from typing import Any, Callable

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.internal import type_checkers

_INT64 = {FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64}


class _EnumNames(dict):
    """An enum's number -> name; a number it does not name prints as itself (proto3 enums are open)."""

    def __missing__(self, number):
        return number


class _Plan:
    """How one message type prints: the fields that print as they are and the 64-bit ones (each group
    read in one C-level pass), the enums (a name lookup each), and the rest with their converters."""

    __slots__ = ("plain", "int64", "enums", "others")

    def __init__(self):
        self.plain: tuple[str, ...] = ()
        self.int64: tuple[str, ...] = ()
        self.enums: tuple[tuple[str, _EnumNames], ...] = ()
        self.others: list[tuple[str, bool, bool, bool, Callable[[Any], Any] | None]] = []


_plans: dict[str, _Plan] = {}


def message_to_dict(message) -> dict:
    return _print(message, _plan(message.DESCRIPTOR))


def _print(message, plan: _Plan) -> dict:
    get = message.__getattribute__
    out = dict(zip(plan.plain, map(get, plan.plain)))
    if plan.int64:
        out.update(zip(plan.int64, map(str, map(get, plan.int64))))
    for name, names in plan.enums:
        out[name] = names[get(name)]
    for name, has_presence, is_repeated, is_map, convert in plan.others:
        if has_presence:
            if message.HasField(name):
                value = get(name)
                out[name] = convert(value) if convert else value
        elif is_map:
            value = get(name)
            out[name] = {_map_key(k): (convert(v) if convert else v) for k, v in value.items()}
        elif is_repeated:
            value = get(name)
            out[name] = list(map(convert, value)) if convert else list(value)
        else:
            out[name] = convert(get(name))
    return out


def _map_key(key) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _plan(descriptor: Descriptor) -> _Plan:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = _plans[descriptor.full_name] = _Plan()   # (placed first: a message that holds itself finds it)
        plain, int64, enums = [], [], []
        for field in descriptor.fields:
            is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
            value_field = field.message_type.fields_by_name["value"] if is_map else field
            convert = _converter(value_field)
            if field.has_presence or field.is_repeated or is_map:
                plan.others.append((field.name, field.has_presence, field.is_repeated, is_map, convert))
            elif convert is None:
                plain.append(field.name)
            elif convert is str:
                int64.append(field.name)
            elif isinstance(convert, _EnumLookup):
                enums.append((field.name, convert.names))
            else:
                plan.others.append((field.name, False, False, False, convert))
        plan.plain, plan.int64, plan.enums = tuple(plain), tuple(int64), tuple(enums)
    return plan


class _EnumLookup:
    def __init__(self, names: _EnumNames):
        self.names = names

    def __call__(self, number):
        return self.names[number]


def _converter(field: FieldDescriptor) -> Callable[[Any], Any] | None:
    """How a value of `field` prints (None: as it is)."""
    cpp = field.cpp_type
    if cpp == FieldDescriptor.CPPTYPE_MESSAGE:
        message = field.message_type
        if message.full_name == "google.protobuf.Timestamp":
            return lambda value: value.ToJsonString()
        if message.full_name.startswith("google.protobuf."):
            from google.protobuf import json_format   # (a well-known type JEM's protos do not use: json_format's way)

            return lambda value: json_format.MessageToDict(value, preserving_proto_field_name=True,
                                                           always_print_fields_with_no_presence=True)
        return lambda value: _print(value, _plan(message))
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        return _EnumLookup(_EnumNames({v.number: v.name for v in field.enum_type.values}))
    if cpp in _INT64:
        return str
    if field.type == FieldDescriptor.TYPE_BYTES:
        return lambda value: base64.b64encode(value).decode("utf-8")
    if cpp == FieldDescriptor.CPPTYPE_DOUBLE:
        return _double
    if cpp == FieldDescriptor.CPPTYPE_FLOAT:
        return lambda value: _double(value) if not math.isfinite(value) else type_checkers.ToShortestFloat(value)
    return None   # (int32, uint32, bool, string: as they are)


def _double(value: float):
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return value
