"""A bounded HTTP(S) server (the standard library's threading one) for the ports JEM serves over HTTP:
the controller's metrics and the REST gateway.

As every port JEM opens may be reached by a hostile caller: at most `max_connections` served at
once (one more is closed at once: a scraper or portal tries again), each dropped after
IO_TIMEOUT_S without progress (a slow or silent client holds nothing), and TLS, when given, is
negotiated in the connection's own thread, never in the one that accepts.
"""

import http.server
import logging
import socket
import ssl
import threading

log = logging.getLogger(__name__)

IO_TIMEOUT_S = 10.0


class BoundedHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, listen: str, handler, *, tls: ssl.SSLContext | None, max_connections: int):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, int(port)), handler)
        self.tls = tls
        self.slots = threading.BoundedSemaphore(max_connections)
        self._thread = threading.Thread(target=self.serve_forever, name=f"http-{self.address}", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)   # (over the bound: closed at once)
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
            log.debug("http connection dropped peer=%s error=%s", client_address, exc)
            self.shutdown_request(request)
        finally:
            self.slots.release()


class HTTPService:
    """What serves on a BoundedHTTPServer (`self.http`): its address, start and stop."""

    http: BoundedHTTPServer

    @property
    def address(self) -> str:
        return self.http.address

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()


class Handler(http.server.BaseHTTPRequestHandler):
    """A request handler whose `send` writes a whole answer, logging at DEBUG rather than stderr."""

    timeout = IO_TIMEOUT_S
    protocol_version = "HTTP/1.1"   # (keep-alive: a portal's calls reuse one connection and handshake)

    def send(self, code: int, body: bytes, content_type: str, extra=()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, fmt, *args):
        log.debug("http %s " + fmt, self.client_address[0], *args)


def get_only_handler(answer, server_version: str) -> type:
    """A Handler that answers GET with `answer(handler)` and every other method with 405."""

    class GetOnlyHandler(Handler):
        def do_GET(self):
            answer(self)

        def _refuse_method(self):
            self.send(405, b"only GET\n", "text/plain", extra=(("Allow", "GET"),))

        do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse_method

    GetOnlyHandler.server_version = server_version
    return GetOnlyHandler


def server_tls(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS 1.2 or later with this certificate and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
