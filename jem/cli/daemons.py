"""`jem controller` and `jem agent`: the entry points of the two daemons.

The CLI reaches the controller and agent packages only here, as process entry
points (imported when the command runs), never as libraries.
"""

import argparse
import logging
import sys

from jem.model.errors import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format=LOG_FORMAT, stream=sys.stderr)


def add_parsers(sub) -> None:
    p = sub.add_parser("controller", help="run the controller (foreground)")
    p.add_argument("--config", required=True, help="path of jem.toml")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run_controller)

    p = sub.add_parser("agent", help="run a node agent (foreground)")
    p.add_argument("--controller", required=True, help="the controller's node port host:port (cluster.node_listen; with TLS, not the users' port)")
    p.add_argument("--name", required=True, help="this node's name")
    p.add_argument("--cpus", type=int, help="CPUs to offer (default: this machine's)")
    p.add_argument("--memory-mib", type=int, help="memory to offer in MiB (default: this machine's)")
    p.add_argument("--gpus", type=int, help="GPUs to offer (default: what nvidia-smi lists)")
    p.add_argument("--listen", default="127.0.0.1:0", help="address to serve on (default 127.0.0.1:0, a free port)")
    p.add_argument("--spool-dir", default="",
                   help="where job scripts are kept while they run (default /var/spool/jem/NODE, root's)")
    p.add_argument("--cgroup-mode", default="auto", choices=["auto", "v2", "v1", "none"],
                   help="job cgroups: auto (v2 on a pure v2 machine, else v1), v2, v1 or none")
    p.add_argument("--cgroup-root", default="/sys/fs/cgroup", help="where the cgroup hierarchies are mounted")
    p.add_argument("--cgroup-name", default="jem", help="top cgroup directory (jobs: NAME/NODE/job_ID)")
    p.add_argument("--health-check", default="", metavar="PROGRAM",
                   help="run PROGRAM every --health-interval seconds; a failure drains the node")
    p.add_argument("--health-interval", type=float, default=60.0, metavar="S")
    p.add_argument("--gpu-devices", default=None, metavar="FILES",
                   help="comma-separated device file of each GPU (default: /dev/nvidia0, /dev/nvidia1, ...); "
                        "a job cannot open the others' where the devices cgroup exists")
    p.add_argument("--security-dir", default="/etc/jem",
                   help="holds controller-keys/ and authd-keys/, the controller's and the credential "
                        "services' public keys, and nodes/NODE.crt (default /etc/jem)")
    p.add_argument("--unsigned-jobs", default="refuse", choices=["refuse", "allow"],
                   help="jobs and steps their user did not sign (submitted with a `jem token` JWT): refuse "
                        "(default: a compromised controller cannot run code as a user) or allow")
    p.add_argument("--metrics-listen", default="", metavar="HOST:PORT",
                   help="serve the node's metrics (OpenMetrics: its jobs' cgroup usage, launch times) here "
                        "(default: none; the address also goes to SPOOL/metrics.addr)")
    p.add_argument("--metrics-anonymous", action="store_true",
                   help="serve the metrics to callers without a `jem token` JWT too")
    p.add_argument("--authd-socket", default="",
                   help="this host's credential service (default: the client config's, /run/jem/authd.sock)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run_agent)

    p = sub.add_parser("gateway", help="run the REST gateway (foreground): JSON over HTTP onto the gRPC API")
    p.add_argument("--listen", default="127.0.0.1:7874", help="address to serve on (default 127.0.0.1:7874; "
                   "off loopback only with --cert and --key)")
    p.add_argument("--controller", default="", help="the controller's users' port (default: the client config's)")
    p.add_argument("--ca-file", default=None, help="the cluster CA the controller's certificate is checked against "
                   "(default: the client config's)")
    p.add_argument("--cert", default="", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--key", default="", help="... and its key")
    p.add_argument("--address-file", default="", help="write the address served on into this file once serving")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(run=run_gateway)


def run_controller(args: argparse.Namespace) -> int:
    from jem.controller.server import serve
    from jem.model.config import load_config

    _configure_logging(args.log_level)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"jem controller: error: {exc}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:
        print(f"jem controller: error: {args.config}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
              f"offset {exc.start})", file=sys.stderr)
        return 1
    try:
        serve(config)
    except (OSError, ConfigError) as exc:  # cannot listen, state directory in use, unusable jwks_file
        print(f"jem controller: error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_agent(args: argparse.Namespace) -> int:
    from jem.agent.main import AgentOptions, default_options_capacity, serve
    from jem.security.signatures import UnsignedWork

    _configure_logging(args.log_level)
    for name in ("cpus", "memory_mib", "gpus"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "cpus" else 0):
            print(f"jem agent: error: --{name.replace('_', '-')} must be positive, got {value}", file=sys.stderr)
            return 1
    capacity = default_options_capacity(args.cpus, args.memory_mib, args.gpus)
    try:
        serve(AgentOptions(controller=args.controller, name=args.name, capacity=capacity, listen=args.listen,
                           spool_dir=args.spool_dir, cgroup_mode=args.cgroup_mode, cgroup_root=args.cgroup_root,
                           cgroup_name=args.cgroup_name, health_check=args.health_check,
                           health_interval_s=args.health_interval,
                           gpu_devices=tuple(args.gpu_devices.split(",")) if args.gpu_devices else None,
                           security_dir=args.security_dir, authd_socket=args.authd_socket,
                           unsigned_jobs=UnsignedWork(args.unsigned_jobs), metrics_listen=args.metrics_listen,
                           metrics_anonymous=args.metrics_anonymous))
    except OSError as exc:
        print(f"jem agent: error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_gateway(args: argparse.Namespace) -> int:
    import os
    import signal
    import threading

    from jem.gateway.server import Gateway, controller_channel
    from jem.httpserve import server_tls
    from jem.model.clientconfig import load_client_config
    from jem.model.config import is_loopback_listen

    _configure_logging(args.log_level)
    try:
        client = load_client_config()
    except ConfigError as exc:
        print(f"jem gateway: error: {exc}", file=sys.stderr)
        return 1
    controller = args.controller or client.controller
    ca_file = client.ca_file if args.ca_file is None else args.ca_file
    if not controller:
        print("jem gateway: error: no controller (--controller, $JEM_CONTROLLER or the client config)", file=sys.stderr)
        return 1
    if bool(args.cert) != bool(args.key):
        print("jem gateway: error: --cert and --key go together", file=sys.stderr)
        return 1
    if not args.cert and not is_loopback_listen(args.listen):
        print(f"jem gateway: error: --listen {args.listen} is not a loopback address, and off loopback the "
              f"gateway serves HTTPS only (--cert, --key): bearer tokens never cross a network in clear",
              file=sys.stderr)
        return 1
    try:
        tls = server_tls(args.cert, args.key) if args.cert else None
        gateway = Gateway(args.listen, controller_channel(controller, ca_file), tls=tls)
    except (OSError, ValueError) as exc:
        print(f"jem gateway: error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    gateway.start()
    logging.getLogger("jem.gateway").info("gateway serving address=%s controller=%s", gateway.address, controller)
    if args.address_file:
        with open(args.address_file + ".tmp", "w") as f:
            f.write(gateway.address + "\n")
        os.replace(args.address_file + ".tmp", args.address_file)
    stop.wait()
    gateway.stop()
    return 0
