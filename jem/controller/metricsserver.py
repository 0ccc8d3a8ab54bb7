"""The controller's OpenMetrics endpoint over HTTP(S): `GET /metrics` (the sections the caller may see
but the per-user one) and Slurm 25.11's `GET /metrics/<section>` (jobs, nodes, partitions, scheduler,
jobs-users-accts),
in the Prometheus text format or OpenMetrics as the Accept header asks (prometheus-client's encoders).

Who scrapes: a `jem token` JWT (or a site's external JWT) as `Authorization: Bearer <token>`,
checked by the controller's own authenticator; with `[metrics] anonymous = true`, a caller with
no token too (seeing what an ordinary user sees). 401 without a valid token, 403 for a section
the privacy settings keep from the caller, 404 for any other path, 405 for any method but GET.

As every port JEM opens: TLS with the controller's certificate when it has one, and no listen
address off loopback without it; at most MAX_CONNECTIONS served at once (one more is closed at
once), each dropped after IO_TIMEOUT_S without progress (a slow or silent client holds nothing).
"""

import http.server
import logging
import socket
import ssl
import threading

from prometheus_client.exposition import choose_encoder

from jem.controller.metrics import DEFAULT_SECTIONS, SECTIONS, ControllerMetrics, visible_sections
from jem.model.errors import JemError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
IO_TIMEOUT_S = 10.0


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, *, tls: ssl.SSLContext | None):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, handler)
        self.tls = tls
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)   # (over the bound: closed at once, the scraper tries again)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            request.settimeout(IO_TIMEOUT_S)
            if self.tls is not None:   # (the handshake here, in the request's thread, not the accepting one)
                request = self.tls.wrap_socket(request, server_side=True)
            super().process_request_thread(request, client_address)
        except (OSError, ssl.SSLError) as exc:
            log.debug("metrics connection dropped peer=%s error=%s", client_address, exc)
            self.shutdown_request(request)
        finally:
            self.slots.release()


class MetricsEndpoint:
    """Serves `metrics` on `listen` (HOST:PORT; port 0 picks one: see `address`)."""

    def __init__(self, listen: str, metrics: ControllerMetrics, *, identify, anonymous: bool,
                 tls: ssl.SSLContext | None):
        host, _, port = listen.rpartition(":")
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "jem-metrics"
            timeout = IO_TIMEOUT_S

            def do_GET(self):
                endpoint.answer(self)

            def _refuse_method(self):
                self._send(405, b"only GET\n", "text/plain", extra=(("Allow", "GET"),))

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse_method

            def _send(self, code: int, body: bytes, content_type: str, extra=()):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                log.debug("metrics %s " + fmt, self.client_address[0], *args)

        self._metrics, self._identify, self._anonymous = metrics, identify, anonymous
        self._server = _Server((host.strip("[]"), int(port)), Handler, tls=tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, request) -> None:
        path, _, query = request.path.partition("?")
        path = path.rstrip("/")
        if path == "/metrics":
            wanted = None
        elif path.startswith("/metrics/") and path[len("/metrics/"):] in SECTIONS:
            wanted = path[len("/metrics/"):]
        else:
            request._send(404, b"no such metrics: try /metrics or /metrics/{" + ",".join(SECTIONS).encode() + b"}\n",
                          "text/plain")
            return
        authorization = request.headers.get("Authorization")
        identity = None
        if authorization is not None or not self._anonymous:
            try:
                identity = self._identify({"authorization": authorization or ""})
            except JemError as exc:
                request._send(401, f"{exc.reason}: {exc}\n".encode(), "text/plain",
                              extra=(("WWW-Authenticate", 'Bearer realm="jem"'),))
                return
        visible = visible_sections(identity, self._metrics.private_data)
        if wanted is not None and wanted not in visible:
            request._send(403, f"the {wanted} metrics are for operators here (the cluster's private_data)\n".encode(),
                          "text/plain")
            return
        encoder, content_type = choose_encoder(request.headers.get("Accept"))
        sections = [s for s in DEFAULT_SECTIONS if s in visible] if wanted is None else [wanted]
        body = encoder(self._metrics.registry(sections))
        request._send(200, body, content_type)


def server_tls(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS for the endpoint with the controller's certificate (as its gRPC port serves it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
