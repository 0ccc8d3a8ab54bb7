"""`jem audit`: the controller's audit trail, every state-changing request with who made it,
from where and its result (operators see all records, other users their own)."""

import argparse
import datetime
import json
import re
import time

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.model.audit import AuditQuery, AuditRecord
from jem.model.errors import InvalidArgument

HEADERS = ["TIME", "USER", "PEER", "METHOD", "JOBID", "RESULT", "REQUEST"]
_AGO_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_parsers(sub) -> None:
    p = sub.add_parser("audit", help="show the audit trail of state-changing requests")
    p.add_argument("--since", type=_moment, help="from this time: YYYY-MM-DD[THH:MM[:SS]], or an age (30m, 2h, 7d)")
    p.add_argument("--until", type=_moment, help="up to this time (same forms)")
    p.add_argument("-u", "--user", default="", help="only this user's requests (node:NAME for an agent)")
    p.add_argument("-j", "--job", type=int, default=0, help="only requests about this job")
    p.add_argument("-n", "--limit", type=int, default=1000, help="at most this many, the newest (default 1000)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_audit)


def _moment(text: str) -> float:
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match:
        return time.time() - int(match.group(1)) * _AGO_UNITS[match.group(2)]
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid time {text!r} (YYYY-MM-DD[THH:MM[:SS]], or 30m, 2h, 7d)") from None


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def record_as_dict(record: AuditRecord) -> dict:
    return {"seq": record.seq, "time": _iso(record.time), "user": record.user, "uid": record.uid,
            "peer": record.peer, "method": record.method, "job_id": record.job_id or None,
            "request": record.request, "result": record.result, "detail": record.detail}


def run_audit(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InvalidArgument("--limit must be at least 1")
    query = AuditQuery(since=args.since, until=args.until, user=args.user, job_id=args.job, limit=args.limit)
    with connect() as client:
        records = client.list_audit(query)
    if args.json:
        print(json.dumps({"records": [record_as_dict(r) for r in records]}, indent=2))
    else:
        rows = [[_iso(r.time), r.user, r.peer, r.method, str(r.job_id or ""),
                 r.result if not r.detail else f"{r.result}: {r.detail}", r.request] for r in records]
        print(render_table(HEADERS, rows))
    return 0
