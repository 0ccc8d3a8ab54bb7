"""`jem ping`: whether the controller answers, and who it is: its cluster's name, host and JEM
version, its clock and the round trip (or --json).

Exit 0 when it answers, 1 when it cannot be reached or is not ready yet (then it is named by
the address asked), as `scontrol ping`. Any other error (a refused credential) is the usual
`jem ping: error: ...`: the controller is up, but this caller cannot use it.
"""

import argparse
import json
import time

from jem.cli.connection import connect
from jem.cli.views import iso
from jem.model.errors import ControllerNotReady, ControllerUnreachable


def add_parsers(sub) -> None:
    p = sub.add_parser("ping", help="whether the controller answers: its cluster, host and version")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_ping)


def run_ping(args: argparse.Namespace) -> int:
    with connect() as client:
        t_sent = time.monotonic()
        try:
            info = client.ping()
        except (ControllerUnreachable, ControllerNotReady) as exc:
            return _report_down(client.address, exc, is_json=args.json)
        round_trip_ms = (time.monotonic() - t_sent) * 1000
    if args.json:
        print(json.dumps({"up": True, "address": client.address, "cluster_name": info.cluster_name,
                          "host": info.host, "version": info.version, "server_time": info.server_time,
                          "round_trip_ms": round(round_trip_ms, 3)}, indent=2))
    else:
        print(f"Controller {client.address} of cluster {info.cluster_name} is UP: host {info.host}, "
              f"JEM {info.version}, its clock {iso(info.server_time)}, round trip {round_trip_ms:.1f} ms")
    return 0


def _report_down(address: str, exc: Exception, *, is_json: bool) -> int:
    if is_json:
        print(json.dumps({"up": False, "address": address, "error": str(exc)}, indent=2))
    else:
        print(f"Controller {address} is DOWN: {exc}")
    return 1
