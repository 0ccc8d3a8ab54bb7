"""The controller's OpenMetrics endpoint over HTTP(S): `GET /metrics` (the sections the caller may see
but the per-user one) and Slurm 25.11's `GET /metrics/<section>` (jobs, nodes, partitions, scheduler,
jobs-users-accts),
in the Prometheus text format or OpenMetrics as the Accept header asks (prometheus-client's encoders).

Who scrapes: a `jem token` JWT (or a site's external JWT) as `Authorization: Bearer <token>`,
checked by the controller's own authenticator; with `[metrics] anonymous = true`, a caller with
no token too (seeing what an ordinary user sees). 401 without a valid token, 403 for a section
the privacy settings keep from the caller, 404 for any other path, 405 for any method but GET.

As every port JEM opens: TLS with the controller's certificate when it has one, and no listen
address off loopback without it; at most MAX_CONNECTIONS at once, each dropped after a while
without progress (jem.httpserve).
"""

import logging
import ssl

from prometheus_client.exposition import choose_encoder

from jem.controller.metrics import DEFAULT_SECTIONS, SECTIONS, ControllerMetrics, visible_sections
from jem.httpserve import BoundedHTTPServer, HTTPService, get_only_handler
from jem.model.errors import JemError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16


class MetricsEndpoint(HTTPService):
    """Serves `metrics` on `listen` (HOST:PORT; port 0 picks one: see `address`)."""

    def __init__(self, listen: str, metrics: ControllerMetrics, *, identify, anonymous: bool,
                 tls: ssl.SSLContext | None):
        self._metrics, self._identify, self._anonymous = metrics, identify, anonymous
        self.http = BoundedHTTPServer(listen, get_only_handler(self.answer, "jem-metrics"), tls=tls,
                                      max_connections=MAX_CONNECTIONS)

    def answer(self, request) -> None:
        path = request.path.partition("?")[0].rstrip("/")
        if path == "/metrics":
            wanted = None
        elif path.startswith("/metrics/") and path[len("/metrics/"):] in SECTIONS:
            wanted = path[len("/metrics/"):]
        else:
            request.send(404, b"no such metrics: try /metrics or /metrics/{" + ",".join(SECTIONS).encode() + b"}\n",
                         "text/plain")
            return
        authorization = request.headers.get("Authorization")
        identity = None
        if authorization is not None or not self._anonymous:
            try:
                identity = self._identify({"authorization": authorization or ""})
            except JemError as exc:
                request.send(401, f"{exc.reason}: {exc}\n".encode(), "text/plain",
                             extra=(("WWW-Authenticate", 'Bearer realm="jem"'),))
                return
        visible = visible_sections(identity, self._metrics.private_data)
        if wanted is not None and wanted not in visible:
            request.send(403, f"the {wanted} metrics are for operators here (the cluster's private_data)\n".encode(),
                         "text/plain")
            return
        encoder, content_type = choose_encoder(request.headers.get("Accept"))
        sections = [s for s in DEFAULT_SECTIONS if s in visible] if wanted is None else [wanted]
        body = encoder(self._metrics.registry(sections))
        request.send(200, body, content_type)
