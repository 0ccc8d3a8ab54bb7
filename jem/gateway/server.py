"""`jem gateway`: the REST gateway's HTTP(S) server. Each request is matched to its route, made into
the method's request message and sent to the controller with the caller's `Authorization: Bearer`
token as the call's own credential (the gateway holds none of its own: the controller authenticates
and authorizes every call, as for any gRPC client, and audits it as the token's user). The answer,
or the error mapped to its HTTP status, goes back as JSON.

GET /v1/openapi.json is the one call without a token. The gateway's port is as bounded as every
port JEM opens (jem.httpserve); off loopback it serves TLS only (`--cert`, `--key`).
"""

import json
import logging
import re
import ssl

import grpc
from google.protobuf import message_factory

from jem.gateway import openapi, transcode
from jem.gateway.routes import NoRoute, WrongVerb, match, routes_of
from jem.httpserve import BoundedHTTPServer, Handler, HTTPService
from jem.v1 import admin_pb2, jobs_pb2

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
MAX_BODY_BYTES = 16 << 20   # (a job's script and environment, within the controller's own bounds)
CALL_TIMEOUT_S = 30.0
OPENAPI_PATH = "/v1/openapi.json"
_JWT_TEXT = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]*){1,4}")
SERVICES = (jobs_pb2.DESCRIPTOR.services_by_name["JobService"], admin_pb2.DESCRIPTOR.services_by_name["AdminService"])


def api_routes():
    return routes_of(list(SERVICES))


class Gateway(HTTPService):
    def __init__(self, listen: str, channel: grpc.Channel, *, tls: ssl.SSLContext | None):
        self.routes = api_routes()
        self._openapi = json.dumps(openapi.document(self.routes), indent=2).encode()
        self._channel = channel
        # The answers stay serialized: transcode prints a listing's records straight from the bytes.
        self._calls = {route.grpc_path: channel.unary_unary(
            route.grpc_path, request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=_as_is) for route in self.routes}
        gateway = self

        class GatewayHandler(Handler):
            server_version = "jem-gateway"

            def _any(self):
                gateway.answer(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.http = BoundedHTTPServer(listen, GatewayHandler, tls=tls, max_connections=MAX_CONNECTIONS)

    def stop(self) -> None:
        super().stop()
        self._channel.close()

    def answer(self, request) -> None:
        path, _, query = request.path.partition("?")
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            request.send(400, *_error(grpc.StatusCode.INVALID_ARGUMENT, "Content-Length is not a length"))
            request.close_connection = True
            return
        if length > MAX_BODY_BYTES:
            request.send(413, *_error(grpc.StatusCode.INVALID_ARGUMENT, f"the body is over {MAX_BODY_BYTES} bytes"))
            request.close_connection = True
            return
        body = request.rfile.read(length) if length > 0 else b""
        if request.command == "GET" and path == OPENAPI_PATH:
            request.send(200, self._openapi, "application/json")
            return
        try:
            route, path_values = match(self.routes, request.command, path)
        except NoRoute:
            request.send(404, *_error(grpc.StatusCode.NOT_FOUND, f"no such path: {path} (see {OPENAPI_PATH})"))
            return
        except WrongVerb as exc:
            request.send(405, *_error(grpc.StatusCode.UNIMPLEMENTED, f"{path} takes {', '.join(exc.allowed)}"),
                         extra=(("Allow", ", ".join(exc.allowed)),))
            return
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not _JWT_TEXT.fullmatch(authorization[len("Bearer "):]):
            # (a JWT is base64url and dots: anything else is refused here, before gRPC would refuse
            # to carry it as metadata)
            request.send(401, *_error(grpc.StatusCode.UNAUTHENTICATED, "a bearer token is required "
                                      "(Authorization: Bearer <JWT>: `jem token`)"),
                         extra=(("WWW-Authenticate", 'Bearer realm="jem"'),))
            return
        try:
            message = transcode.request_message(route, path_values, query, body)
        except transcode.BadRequest as exc:
            request.send(400, *_error(grpc.StatusCode.INVALID_ARGUMENT, str(exc)))
            return
        try:
            response = self._calls[route.grpc_path](message, timeout=CALL_TIMEOUT_S,
                                                    metadata=(("authorization", authorization),))
        except grpc.RpcError as exc:
            reason = dict(exc.trailing_metadata() or ()).get("jem-reason", "")
            status, text = transcode.error_json(exc.code(), exc.details() or "", reason)
            request.send(status, text, "application/json")
            return
        answer_class = message_factory.GetMessageClass(route.method.output_type)
        request.send(200, transcode.answer_json(answer_class, response), "application/json")


def _as_is(data: bytes) -> bytes:
    return data


def _error(code: grpc.StatusCode, text: str) -> tuple[bytes, str]:
    return transcode.error_json(code, text)[1], "application/json"


def controller_channel(address: str, ca_file: str) -> grpc.Channel:
    """The gateway's channel to the controller: TLS trusting the cluster's CA, or plaintext to a loopback one."""
    if ca_file:
        with open(ca_file, "rb") as f:
            return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=f.read()))
    return grpc.insecure_channel(address)
