"""The two server interceptors every controller RPC passes through.

- `ErrorInterceptor` (outermost) maps a `JemError` to its gRPC status, message
  and trailing metadata `jem-reason`; any other exception becomes INTERNAL
  with a reference id, its traceback logged once at ERROR.
- `IdentityInterceptor` asks the authenticator (`authn.py`) who is calling and makes the
  identity available to the servicer through `current_identity()`.
- Both let gRPC health checking and reflection (`jem.grpcprobes`) through untouched: those
  answer without credentials.
- `NodeCertificateInterceptor`, on the agents' mutual-TLS port instead of the
  identity interceptor: the caller is the node its verified client certificate
  names (`current_node()`); any other certificate is refused.
"""

import contextvars
import dataclasses
import logging
import uuid
from typing import Callable, Mapping

import grpc

from jem.controller.authn import Authenticator
from jem.grpcprobes import is_probe
from jem.model.errors import CrontabEntryRefused, JemError, LimitExceeded, PermissionDenied, RateLimited
from jem.model.identity import AdminLevel, Identity
from jem.security import tls
from jem.security.revocation import RevocationList

log = logging.getLogger(__name__)

_identity: contextvars.ContextVar[Identity] = contextvars.ContextVar("jem_identity")
_node: contextvars.ContextVar[str | None] = contextvars.ContextVar("jem_node", default=None)


def current_identity() -> Identity:
    """The caller of the RPC being served (set by IdentityInterceptor)."""
    return _identity.get()


def current_node() -> str | None:
    """The node whose certificate made the RPC being served (set by NodeCertificateInterceptor);
    None on a port without client certificates."""
    return _node.get()


def wrapped_handler(handler: grpc.RpcMethodHandler, wrap: Callable) -> grpc.RpcMethodHandler:
    """A copy of `handler` whose behaviour is wrap(original behaviour)."""
    for kind, factory in (("unary_unary", grpc.unary_unary_rpc_method_handler),
                          ("unary_stream", grpc.unary_stream_rpc_method_handler),
                          ("stream_unary", grpc.stream_unary_rpc_method_handler),
                          ("stream_stream", grpc.stream_stream_rpc_method_handler)):
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            streams_out = kind.endswith("_stream")
            return factory(wrap(behaviour, streams_out),
                           request_deserializer=handler.request_deserializer,
                           response_serializer=handler.response_serializer)
    return handler


class IdentityInterceptor(grpc.ServerInterceptor):
    """Who calls: the authenticated user, with the admin level the cluster gives them."""

    def __init__(self, authenticator: Authenticator, admin_levels: Mapping[str, AdminLevel]):
        self._authenticator = authenticator
        self._admin_levels = dict(admin_levels)

    def identity_of(self, metadata: dict[str, str]) -> Identity:
        """Who `metadata`'s credential names, with their admin level (Unauthenticated and kin if none)."""
        identity = self._authenticator.authenticate(metadata)
        level = self._admin_levels.get(identity.user)
        return identity if level is None else dataclasses.replace(identity, admin_level=level)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or is_probe(handler_call_details.method):
            return handler   # health and reflection answer without credentials (jem.grpcprobes)
        metadata = dict(handler_call_details.invocation_metadata or ())

        def wrap(behaviour, streams_out):
            if streams_out:
                def stream(request, context):
                    token = _identity.set(self.identity_of(metadata))
                    try:
                        yield from behaviour(request, context)
                    finally:
                        _identity.reset(token)
                return stream

            def unary(request, context):
                token = _identity.set(self.identity_of(metadata))
                try:
                    return behaviour(request, context)
                finally:
                    _identity.reset(token)
            return unary

        return wrapped_handler(handler, wrap)


class NodeCertificateInterceptor(grpc.ServerInterceptor):
    """The agents' port: TLS verified the client certificate against the cluster CA; the
    caller is the node its SAN names (`urn:jem:node:<N>`), unless the CA revoked it (`ca.crl`)."""

    def __init__(self, revocations: RevocationList):
        self._revocations = revocations

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None

        def wrap(behaviour, streams_out):
            def unary(request, context):
                role = tls.peer_role(context)
                if role is None or not role.is_node:
                    raise PermissionDenied("only a node's certificate may make node calls")
                if self._revocations.is_revoked(tls.peer_certificate(context)):
                    raise PermissionDenied(f"node {role.name}'s certificate is revoked")
                token = _node.set(role.name)
                try:
                    return behaviour(request, context)
                finally:
                    _node.reset(token)
            if streams_out:
                raise TypeError("node calls are unary")
            return unary

        return wrapped_handler(handler, wrap)


# An error's message at most, in UTF-8 bytes. gRPC sends it percent-encoded in a trailer (up to
# 3 bytes a byte), and a client refuses trailers over 8 KiB at random and over 16 KiB always: a
# longer one (a request's long name echoed) would reach the caller as RESOURCE_EXHAUSTED, untyped.
MAX_MESSAGE_BYTES = 2048


def _bounded(message: str) -> str:
    """`message`, cut (at a character) to MAX_MESSAGE_BYTES, "..." marking the cut."""
    data = message.encode("utf-8", "replace")
    if len(data) <= MAX_MESSAGE_BYTES:
        return message
    return data[:MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."


def _abort(context: grpc.ServicerContext, method: str, exc: Exception):
    if isinstance(exc, JemError):
        metadata = (("jem-reason", exc.reason),)
        if isinstance(exc, RateLimited):
            metadata += (("jem-retry-after-s", f"{exc.retry_after_s:.3f}"),)
        if isinstance(exc, LimitExceeded) and exc.limit_reason:
            metadata += (("jem-limit-reason", exc.limit_reason),)
        if isinstance(exc, CrontabEntryRefused):   # (which entry, and the refusal's own type)
            metadata += (("jem-crontab-lines", exc.lines), ("jem-cause-reason", exc.cause.reason))
        context.set_trailing_metadata(metadata)
        context.abort(getattr(grpc.StatusCode, exc.grpc_code), _bounded(str(exc)))
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error method=%s ref=%s", method, ref, exc_info=exc)
    context.set_trailing_metadata((("jem-reason", "InternalError"),))
    context.abort(grpc.StatusCode.INTERNAL, f"Unexpected controller error (ref {ref})")


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or is_probe(handler_call_details.method):
            return handler   # (the standard services' own handlers: see jem.grpcprobes)
        method = handler_call_details.method

        def wrap(behaviour, streams_out):
            if streams_out:
                def stream(request, context):
                    try:
                        yield from behaviour(request, context)
                    except Exception as exc:  # the one place that catches broadly
                        _abort(context, method, exc)
                return stream

            def unary(request, context):
                try:
                    return behaviour(request, context)
                except Exception as exc:  # the one place that catches broadly
                    _abort(context, method, exc)
            return unary

        return wrapped_handler(handler, wrap)
