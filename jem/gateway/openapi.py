"""The OpenAPI 3.0 document of the REST routes, made from the same descriptors as the routes
(jem.gateway.routes): each route's path, its parameters (the path's variables; the query's fields
where the rule takes no body), its request body, its answer and errors, and a schema per message
as the proto3 JSON mapping prints it (64-bit integers as strings, enums by name, Timestamps as
RFC 3339 text, maps as objects). `tools/gen_openapi.py` writes it to docs/openapi.json (CI checks
the file is current); the gateway serves it at /v1/openapi.json.
"""

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from jem.gateway.routes import Route

API_VERSION = "1"
_PREFIX = "jem.v1."
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64,
          FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_SINT64}
_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32,
          FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SINT32}
ERROR_SCHEMA = {
    "type": "object", "description": "A failed call: google.rpc.Status's JSON shape, with JEM's reason",
    "properties": {"code": {"type": "integer", "description": "the gRPC status code"},
                   "status": {"type": "string", "description": "its name (NOT_FOUND, ...)"},
                   "message": {"type": "string"},
                   "reason": {"type": "string", "description": "JEM's error type (JobNotFound, ...)"}},
    "required": ["code", "status", "message"],
}


def _name(descriptor: Descriptor) -> str:
    full = descriptor.full_name
    return full[len(_PREFIX):] if full.startswith(_PREFIX) else full


def _scalar_schema(field: FieldDescriptor, schemas: dict) -> dict:
    kind = field.type
    if kind in _INT64:
        return {"type": "string", "format": "int64"}
    if kind in _INT32:
        return {"type": "integer", "format": "int32"}
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    if kind == FieldDescriptor.TYPE_ENUM:
        return {"type": "string", "enum": [value.name for value in field.enum_type.values]}
    if kind == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        if message.full_name == "google.protobuf.Timestamp":
            return {"type": "string", "format": "date-time"}
        _add_schema(message, schemas)
        return {"$ref": f"#/components/schemas/{_name(message)}"}
    return {"type": "string"}


def _field_schema(field: FieldDescriptor, schemas: dict) -> dict:
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _scalar_schema(field.message_type.fields_by_name["value"],
                                                                         schemas)}
    schema = _scalar_schema(field, schemas)
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def _add_schema(message: Descriptor, schemas: dict) -> str:
    name = _name(message)
    if name not in schemas:
        schemas[name] = {}   # (placed first: a message that holds itself refers to it)
        schemas[name] = {"type": "object",
                         "properties": {field.name: _field_schema(field, schemas) for field in message.fields}}
    return name


def _parameters(route: Route, schemas: dict) -> list[dict]:
    parameters = [{"name": field, "in": "path", "required": True, "schema": {"type": "string"}}
                  for field in route.path_fields]
    if route.body != "*":
        taken = {field.split(".")[0] for field in route.path_fields}
        for field in route.method.input_type.fields:
            if field.name in taken:
                continue
            if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name != "google.protobuf.Timestamp":
                continue   # (a message field cannot come from the query string)
            schema = _field_schema(field, schemas)
            parameter = {"name": field.name, "in": "query", "required": False, "schema": schema}
            if schema.get("type") == "array":
                parameter.update(style="form", explode=True)
            parameters.append(parameter)
    return parameters


def document(routes: list[Route]) -> dict:
    schemas: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for route in routes:
        json_content = lambda message: {"application/json": {"schema": {
            "$ref": f"#/components/schemas/{_add_schema(message, schemas)}"}}}
        operation = {
            "operationId": route.method.name,
            "tags": [route.method.containing_service.name],
            "summary": f"{route.method.containing_service.full_name}.{route.method.name}",
            "parameters": _parameters(route, schemas),
            "responses": {
                "200": {"description": "the method's response message", "content": json_content(route.method.output_type)},
                "default": {"description": "an error (the gRPC status mapped to HTTP)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if route.body == "*":
            operation["requestBody"] = {"required": True, "content": json_content(route.method.input_type)}
        paths.setdefault(route.template, {})[route.verb.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "JEM REST API", "version": API_VERSION,
                 "description": "JSON over HTTP for portals, transcoded one-to-one onto the jem.v1 gRPC API "
                                "(docs/rest.md). Every call but this document's carries a bearer JWT."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
    }
