"""`jem nodes`, `jem drain`, `jem down-node`, `jem resume`."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.cli.views import NODE_HEADERS, node_as_dict, node_row

if TYPE_CHECKING:
    from jem.client import NodeInfo


def add_parsers(sub) -> None:
    p = sub.add_parser("nodes", help="list nodes")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_nodes)
    p = sub.add_parser("drain", help="drain a node: running jobs finish, nothing new starts (root)")
    p.add_argument("node")
    p.add_argument("--reason", required=True, help="why (shown with the node)")
    p.set_defaults(run=run_drain)
    p = sub.add_parser("down-node", help="take a node DOWN now (scontrol update state=down): its jobs are "
                                         "killed, then requeued or ended NODE_FAIL; nothing starts there until "
                                         "`jem resume` (root)")
    p.add_argument("node")
    p.add_argument("--reason", required=True, help="why (shown with the node)")
    p.set_defaults(run=run_down)
    p = sub.add_parser("resume", help="undo a drain or a down (root)")
    p.add_argument("node")
    p.set_defaults(run=run_resume)


def run_nodes(args: argparse.Namespace) -> int:
    with connect() as client:
        nodes = client.list_nodes()
    if args.json:
        print(json.dumps({"nodes": [node_as_dict(n) for n in nodes]}, indent=2))
    else:
        print(render_table(NODE_HEADERS, [node_row(n) for n in nodes]))
    return 0


def run_drain(args: argparse.Namespace) -> int:
    with connect() as client:
        return _print_state(client.drain_node(args.node, args.reason))


def run_down(args: argparse.Namespace) -> int:
    with connect() as client:
        return _print_state(client.down_node(args.node, args.reason))


def run_resume(args: argparse.Namespace) -> int:
    with connect() as client:
        return _print_state(client.resume_node(args.node))


def _print_state(info: NodeInfo) -> int:
    print(f"{info.node.name} {info.state.value}")
    return 0
