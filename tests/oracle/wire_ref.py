"""Reference for jem._core.wire: the protobuf wire format walked field by field in plain Python,
written for obviousness (a message is a list of (field, wire type, value) read from the front)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value & (2**64 - 1), pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int, object]]:
    """[(field number, wire type, value)]: an int for types 0, 1 and 5, the bytes for type 2."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated length")
            value, pos = data[pos:pos + length], pos + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            if pos + size > len(data):
                raise ValueError("truncated fixed field")
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        else:
            raise ValueError(f"wire type {wire_type}")
        out.append((number, wire_type, value))
    return out


def _signed(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value


def _occurrences(message: bytes, path: tuple) -> list[tuple[int, object]]:
    """Every (wire type, value) of the field at `path`, submessages of the same number merged as
    protobuf merges them: the occurrences of the path in each, in order."""
    found = [(t, v) for n, t, v in fields(message) if n == path[0]]
    if len(path) == 1:
        return found
    return [item for t, v in found if t == 2 for item in _occurrences(v, path[1:])]


def _map_entry(entry: bytes, text_values: bool) -> tuple:
    key, value = "", ("" if text_values else 0)
    for n, t, v in fields(entry):
        if n == 1 and t == 2:
            key = v.decode()
        elif n == 2 and t == 2 and text_values:
            value = v.decode()
        elif n == 2 and t == 0 and not text_values:
            value = _signed(v)
    return key, value


def value(message: bytes, path: tuple, kind: str):
    """The column value of one record, as jem._core.wire's kinds define it."""
    found = _occurrences(message, path)
    if kind == "h":
        return int(bool(found))
    if kind == "i":
        ints = [v for t, v in found if t == 0]
        return _signed(ints[-1]) if ints else 0
    if kind == "s":
        texts = [v for t, v in found if t == 2]
        return texts[-1].decode() if texts else ""
    if kind == "S":
        return tuple(v.decode() for t, v in found if t == 2)
    if kind == "I":
        items = []
        for t, v in found:
            if t == 0:
                items.append(_signed(v))
            elif t == 2:
                pos = 0
                while pos < len(v):
                    item, pos = _varint(v, pos)
                    items.append(_signed(item))
        return tuple(items)
    if kind in "mM":
        return tuple(_map_entry(v, kind == "M") for t, v in found if t == 2)
    raise ValueError(kind)


def decode_records(chunks: list[bytes], list_field: int, paths: tuple, kinds: bytes) -> list[list]:
    records = [v for chunk in chunks for n, t, v in fields(chunk) if n == list_field and t == 2]
    return [[value(record, tuple(path), chr(kind)) for record in records] for path, kind in zip(paths, kinds)]
