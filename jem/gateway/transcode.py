"""A REST request into the method's request message, and a response or an error out as JSON: the
proto3 JSON mapping, with the protos' own field names (snake_case, as in the .proto; lowerCamelCase
is read too) and every field printed, zero or not. Requests are read by protobuf's json_format;
answers printed by jem.gateway.jsonprint, which prints what json_format would, faster.

Where a field's value comes from, as gRPC transcoding has it: a rule with `body: "*"` takes the
whole message from the JSON body; a rule without a body takes fields from the query string
(`?users=alice&states=PENDING&states=RUNNING`: a repeated field's key repeated; a nested field by
its dotted path); the path's variables set theirs over either. A value in the query or path is
text, read as its field's type says. Anything that does not fit is a BadRequest (400).
"""

import json
from urllib.parse import parse_qsl, unquote

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from jem.gateway import rowsjson
from jem.gateway.jsonprint import message_to_dict
from jem.gateway.routes import Route


class BadRequest(Exception):
    pass


# gRPC status -> HTTP status, as gRPC transcoding (google.rpc.Code's documentation) maps them.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.DEADLINE_EXCEEDED: 504, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DATA_LOSS: 500, grpc.StatusCode.UNAUTHENTICATED: 401,
}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def request_message(route: Route, path_values: dict[str, str], query: str, body: bytes):
    """The request message of `route`'s method for this request (BadRequest if it does not fit)."""
    message_class = message_factory.GetMessageClass(route.method.input_type)
    document: dict = {}
    if route.body == "*":
        if body.strip():
            try:
                document = json.loads(body)
            except ValueError as exc:
                raise BadRequest(f"the body is not JSON: {exc}") from None
            if not isinstance(document, dict):
                raise BadRequest("the body must be a JSON object (the request message)")
        if query:
            raise BadRequest(f"{route.verb} {route.template} takes its request in the body, not the query string")
    else:
        if body.strip():
            raise BadRequest(f"{route.verb} {route.template} takes no body (its fields go in the query string)")
        for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
            _set(document, message_class.DESCRIPTOR, key, value)
    for field_path, text in path_values.items():
        _set(document, message_class.DESCRIPTOR, field_path, unquote(text), replace=True)
    message = message_class()
    try:
        json_format.ParseDict(document, message)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise BadRequest(str(exc)) from None
    return message


def _set(document: dict, descriptor: Descriptor, field_path: str, text: str, *, replace: bool = False) -> None:
    """Put `text` at `field_path` of the JSON `document` of a `descriptor` message, as its field's type reads it."""
    names = field_path.split(".")
    for depth, name in enumerate(names):
        field = descriptor.fields_by_name.get(name) or _by_json_name(descriptor, name)
        if field is None:
            raise BadRequest(f"{descriptor.name} has no field {'.'.join(names[:depth + 1])!r}")
        if depth < len(names) - 1:
            if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
                raise BadRequest(f"{field_path!r}: {name} is not a message field")
            document = document.setdefault(field.name, {})
            descriptor = field.message_type
            continue
        value = _value(field, text, field_path)
        if field.is_repeated and not replace:
            document.setdefault(field.name, []).append(value)
        else:
            document[field.name] = [value] if field.is_repeated else value


def _by_json_name(descriptor: Descriptor, name: str):
    return next((f for f in descriptor.fields if f.json_name == name), None)


def _value(field: FieldDescriptor, text: str, field_path: str):
    if field.type == FieldDescriptor.TYPE_BOOL:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise BadRequest(f"{field_path}: expected true or false, got {text!r}")
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name != "google.protobuf.Timestamp":
        raise BadRequest(f"{field_path}: a message field cannot come from the query string or path")
    return text   # (numbers, enum names and RFC 3339 times as text: json_format reads them by the field's type)


def response_json(message) -> bytes:
    return json.dumps(message_to_dict(message), separators=(",", ":")).encode()   # (compact: a listing is MBs)


def answer_json(answer_class, data: bytes) -> bytes:
    """The serialized answer `data` as response_json prints it: a listing's records a column at a
    time (jem.gateway.rowsjson), other answers, and records it leaves, through jsonprint."""
    try:
        return bytes(rowsjson.answer_json(answer_class, data))
    except rowsjson.Unsupported:
        return response_json(answer_class.FromString(data))


def error_json(code: grpc.StatusCode, message: str, reason: str = "") -> tuple[int, bytes]:
    """(HTTP status, body) of a failed call: google.rpc.Status's JSON shape, with JEM's reason."""
    body = {"code": code.value[0], "status": code.name, "message": message}
    if reason:
        body["reason"] = reason
    return HTTP_STATUS.get(code, 500), json.dumps(body).encode()
