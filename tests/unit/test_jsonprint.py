"""jem.gateway.jsonprint against its oracle, protobuf's json_format.MessageToDict with the gateway's
options, on random messages of every type of jem.v1: every field set or not, nested messages, maps,
repeated fields, enum values the enum does not name, 64-bit extremes, NaN and infinities."""

import math

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from jem.gateway.jsonprint import message_to_dict
from jem.v1 import admin_pb2, agent_pb2, common_pb2, jobs_pb2, steps_pb2

MESSAGE_TYPES = [message_class for module in (jobs_pb2, admin_pb2, common_pb2, steps_pb2, agent_pb2)
                 for name, message_class in vars(module).items()
                 if isinstance(message_class, type) and hasattr(message_class, "DESCRIPTOR")
                 and getattr(message_class.DESCRIPTOR, "fields", None) is not None]


def _scalar(field: FieldDescriptor, rng):
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if kind == FieldDescriptor.TYPE_STRING:
        return rng.choice(["", "a", "ünï", "x" * 40, "tab\there"])
    if kind == FieldDescriptor.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
    if kind == FieldDescriptor.TYPE_ENUM:
        values = [v.number for v in field.enum_type.values]
        return rng.choice(values + [max(values) + 7])   # (and one the enum does not name: proto3 enums are open)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice([0.0, 1.5, -2.25, 1e300 if kind == FieldDescriptor.TYPE_DOUBLE else 3.0e38,
                           math.inf, -math.inf, math.nan, 0.1])
    bits = 64 if field.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64) else 32
    unsigned = field.cpp_type in (FieldDescriptor.CPPTYPE_UINT64, FieldDescriptor.CPPTYPE_UINT32)
    low, high = (0, 2 ** bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return rng.choice([0, 1, low, high, rng.randint(low, high)])


def _fill(message, rng, depth: int = 0) -> None:
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.3:
            continue
        target = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for _ in range(rng.randrange(3)):
                key = _scalar(key_field, rng)
                if value_field.message_type is not None:
                    if depth < 3:
                        _fill(target[key], rng, depth + 1)
                else:
                    target[key] = _scalar(value_field, rng)
        elif field.message_type is not None:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                stamps = [target.add() for _ in range(rng.randrange(3))] if field.is_repeated else [target]
                for stamp in stamps:
                    stamp.FromSeconds(rng.randrange(0, 2 ** 33))
                    stamp.nanos = rng.choice([0, 500000000, 123456789])
            elif depth < 3:
                for _ in range(rng.randrange(3) if field.is_repeated else 1):
                    _fill(target.add() if field.is_repeated else target, rng, depth + 1)
        elif field.is_repeated:
            target.extend(_scalar(field, rng) for _ in range(rng.randrange(4)))
        else:
            setattr(message, field.name, _scalar(field, rng))


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(MESSAGE_TYPES))
def test_as_json_format_prints_it(rng, message_class):
    message = message_class()
    _fill(message, rng)
    expected = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    assert message_to_dict(message) == expected


def test_every_type_is_covered():
    assert len(MESSAGE_TYPES) > 100
    for message_class in MESSAGE_TYPES:   # (empty messages too: every field's default)
        empty = message_class()
        assert message_to_dict(empty) == json_format.MessageToDict(empty, preserving_proto_field_name=True,
                                                                   always_print_fields_with_no_presence=True)
