"""`jem shares`: the fair-share tree, like sshare (raw and normalized shares, usage, factor)."""

import argparse
import json
import math

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.model.shares import ShareRow

HEADERS = ["ACCOUNT", "USER", "RAWSHARES", "NORMSHARES", "RAWUSAGE", "EFFECTVUSAGE", "LEVELFS", "FAIRSHARE"]


def add_parsers(sub) -> None:
    p = sub.add_parser("shares", help="show the fair-share tree (like sshare)")
    p.add_argument("-A", "--accounts", default="", help="only these accounts (comma-separated)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_shares)


def _number(value: float, digits: int = 6) -> str:
    if math.isnan(value):
        return ""
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def share_row(row: ShareRow) -> list[str]:
    """One table row; accounts indented by depth, as sshare does."""
    return [" " * row.depth + row.account, row.user,
            str(row.raw_shares), _number(row.norm_shares), str(int(row.raw_usage)),
            _number(row.effective_usage), _number(row.level_fs), _number(row.factor)]


def share_as_dict(row: ShareRow) -> dict:
    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None
    return {"account": row.account, "user": row.user, "depth": row.depth, "raw_shares": row.raw_shares,
            "norm_shares": row.norm_shares, "raw_usage": row.raw_usage, "effective_usage": row.effective_usage,
            "level_fs": finite(row.level_fs), "fairshare": finite(row.factor)}


def run_shares(args: argparse.Namespace) -> int:
    accounts = [a for a in args.accounts.split(",") if a]
    with connect() as client:
        algorithm, rows = client.list_shares(accounts)
    if args.json:
        print(json.dumps({"algorithm": algorithm, "associations": [share_as_dict(r) for r in rows]}, indent=2))
    else:
        print(render_table(HEADERS, [share_row(r) for r in rows]))
    return 0
