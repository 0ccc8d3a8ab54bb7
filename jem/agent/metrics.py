"""An agent's own metrics (prometheus-client), served on `jem agent --metrics-listen`: what the
node's running jobs use, as their cgroups count it, and how long launches take here.

- jem_agent_jobs_running: jobs running on the node;
- jem_agent_jobs_cpu_seconds: the CPU time (user and system) the running jobs have used so far;
- jem_agent_jobs_memory_peak_bytes: the sum of their cgroups' memory peaks (where the kernel keeps one);
- jem_agent_cpus, jem_agent_memory_bytes, jem_agent_gpus: what the node offers;
- jem_agent_launch_duration_seconds (histogram): from a launch order's arrival to its job's start.

A scrape carries a `jem token` JWT (`Authorization: Bearer`), checked against the controller's
public keys the agent already trusts (controller-keys/), unless `--metrics-anonymous`; the figures
are the node's totals and name no job or user. The port is bounded as every HTTP port of JEM's
(jem.httpserve); TLS with the node's certificate when it has one, and none off loopback without.
"""

import ssl
from typing import Callable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from jem.httpserve import BoundedHTTPServer, HTTPService, get_only_handler
from jem.model.errors import JemError
from jem.model.resources import Resources

MAX_CONNECTIONS = 8
_LAUNCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class AgentMetrics:
    def __init__(self, capacity: Resources, usages: Callable[[], list]):
        self.launch_seconds = Histogram("jem_agent_launch_duration_seconds",
                                        "From a launch order's arrival to its job's start on this node",
                                        buckets=_LAUNCH_BUCKETS, registry=None)
        self._capacity, self._usages = capacity, usages
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.launch_seconds)
        self.registry.register(self)

    def collect(self):
        usages = self._usages()
        cpu_s = sum(u.cpu_user_us + u.cpu_system_us for u in usages) / 1e6
        peaks = sum(u.peak_bytes or 0 for u in usages)
        for name, doc, value in (
                ("jem_agent_jobs_running", "Jobs running on this node", len(usages)),
                ("jem_agent_jobs_cpu_seconds", "CPU time the running jobs have used so far", cpu_s),
                ("jem_agent_jobs_memory_peak_bytes", "Sum of the running jobs' cgroup memory peaks", peaks),
                ("jem_agent_cpus", "CPUs this node offers", self._capacity.cpus),
                ("jem_agent_memory_bytes", "Memory this node offers", self._capacity.mem_mib * 1024 * 1024),
                ("jem_agent_gpus", "GPUs this node offers", self._capacity.gpus)):
            yield GaugeMetricFamily(name, doc, value=value)


class AgentMetricsEndpoint(HTTPService):
    def __init__(self, listen: str, metrics: AgentMetrics, *, verify: Callable[[str], object], anonymous: bool,
                 tls: ssl.SSLContext | None):
        self._metrics, self._verify, self._anonymous = metrics, verify, anonymous
        self.http = BoundedHTTPServer(listen, get_only_handler(self.answer, "jem-agent-metrics"), tls=tls,
                                      max_connections=MAX_CONNECTIONS)

    def answer(self, request) -> None:
        if request.path.partition("?")[0].rstrip("/") != "/metrics":
            request.send(404, b"try /metrics\n", "text/plain")
            return
        authorization = request.headers.get("Authorization")
        if authorization is not None or not self._anonymous:
            token = (authorization or "").removeprefix("Bearer ").strip()
            try:
                if not token:
                    raise ValueError("a bearer token is required (`jem token`)")
                self._verify(token)
            except (JemError, ValueError) as exc:
                request.send(401, f"{exc}\n".encode(), "text/plain", extra=(("WWW-Authenticate", 'Bearer realm="jem"'),))
                return
        encoder, content_type = choose_encoder(request.headers.get("Accept"))
        request.send(200, encoder(self._metrics.registry), content_type)
