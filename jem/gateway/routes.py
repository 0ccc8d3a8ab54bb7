"""The REST routes: each gRPC method's `google.api.http` rule (verb, path template, body) from the
service descriptors, matched against a request's verb and path.

A template is literal segments and `{field}` (or `{field.sub}`) variables, with an optional custom
verb (`/v1/jobs/{job_id}:cancel`, as Google's API design guide writes custom methods). A variable
matches one segment without `/` or `:`, so `/v1/jobs/7` and `/v1/jobs/7:cancel` never meet.
"""

import re
from dataclasses import dataclass

from google.api import annotations_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

VERBS = ("get", "put", "post", "delete", "patch")
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


@dataclass(frozen=True)
class Route:
    verb: str                      # GET, POST, ...
    template: str                  # /v1/jobs/{job_id}:cancel
    pattern: re.Pattern
    path_fields: tuple[str, ...]   # the template's variables, in order (dotted field paths)
    method: MethodDescriptor
    body: str                      # "*": the request's JSON body is the message; "": no body

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


class NoRoute(Exception):
    """No route has this path (404)."""


class WrongVerb(Exception):
    """Routes have this path, none with this verb (405); `allowed` names theirs."""

    def __init__(self, allowed: list[str]):
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def _pattern(template: str) -> tuple[re.Pattern, tuple[str, ...]]:
    fields = tuple(_VARIABLE.findall(template))
    parts, last = [], 0
    for i, match in enumerate(_VARIABLE.finditer(template)):
        parts.append(re.escape(template[last:match.start()]))
        parts.append(f"(?P<v{i}>[^/:]+)")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$"), fields


def routes_of(services: list[ServiceDescriptor]) -> list[Route]:
    """Every method of `services` with an http rule (streaming methods have none), in declaration order."""
    routes = []
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            if verb not in VERBS:
                raise ValueError(f"{method.full_name}: http rule {verb!r} is not one of {VERBS}")
            template = getattr(rule, verb)
            pattern, fields = _pattern(template)
            routes.append(Route(verb.upper(), template, pattern, fields, method, rule.body))
    return routes


def match(routes: list[Route], verb: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for `verb` and `path`, and its path variables (field path -> text). NoRoute or WrongVerb."""
    allowed = []
    for route in routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.verb != verb:
            allowed.append(route.verb)
            continue
        return route, {field: found.group(f"v{i}") for i, field in enumerate(route.path_fields)}
    if allowed:
        raise WrongVerb(sorted(set(allowed)))
    raise NoRoute(path)
