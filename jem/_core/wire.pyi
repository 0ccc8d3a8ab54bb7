"""Typed Python surface of jem._core.wire (see its module text for the kinds)."""

def decode_records(
    chunks: list[bytes],                  # serialized messages, each holding records in `list_field`
    list_field: int,                      # the repeated message field of the records (0 < n < 128)
    paths: tuple[tuple[int, ...], ...],   # per column: field numbers from the record down
    kinds: bytes,                         # per column: b"i" int, b"h" present, b"s" str, b"S" repeated str,
                                          # b"I" repeated int, b"m" map<string, int64>, b"M" map<string, string>
) -> list[list]: ...                      # per column: a value per record, in order

def top_varint(
    data: bytes,                          # one serialized message
    field: int,                           # a varint field at its top level
) -> int: ...                             # its last value there, 0 where absent
