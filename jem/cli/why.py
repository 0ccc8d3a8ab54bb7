"""`jem why JOBID`: why a job waits, in words (or --json): its planned start and what it rests on,
the limit that holds it and the jobs holding it, the jobs ahead, its priority's factors, its
user's fair share, and what its owner could change to start it sooner (the controller's ExplainJob)."""

import argparse
import dataclasses
import json
import math
import time

from jem.cli.connection import connect
from jem.cli.views import iso
from jem.model.errors import InvalidArgument
from jem.model.explanation import Explanation, RunningEnd, WhatIf
from jem.model.node import node_list

FACTOR_LABELS = (("age", "age"), ("fairshare", "fair-share"), ("job_size", "job size"), ("partition", "partition"),
                 ("qos", "QOS"))
CHANGE_LABELS = {"TimeLimit": "A shorter time limit", "NumNodes": "Fewer nodes", "Partition": "Another partition"}


def add_parsers(sub) -> None:
    p = sub.add_parser("why", help="why a job waits: its planned start, what holds it, what is ahead")
    p.add_argument("job_id", help="a job id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_why)


def run_why(args: argparse.Namespace) -> int:
    if not args.job_id.isdigit():
        raise InvalidArgument(f"{args.job_id!r} is not a job id")
    with connect() as client:
        explanation = client.explain_job(int(args.job_id))
    if args.json:
        print(json.dumps(as_dict(explanation), indent=2))
    else:
        print("\n".join(describe(explanation)))
    return 0


def as_dict(e: Explanation) -> dict:
    data = dataclasses.asdict(e)
    data["planned_start_time"] = data.pop("planned_start")
    data["planned_start_kind"] = None if e.planned_start is None else (
        "forecast" if e.planned_start_is_forecast else "estimate" if e.planned_start_is_estimate else "reservation")
    del data["planned_start_is_estimate"], data["planned_start_is_forecast"]

    def finite(value):
        return value if not isinstance(value, float) or math.isfinite(value) else None

    for end in [*data["after"], *(data["limit"]["holders"] if data["limit"] else ())]:
        end["end_time"] = finite(end["end_time"])
    for what_if in data["what_ifs"]:   # (as the planned start: a kind, not a flag)
        is_estimate = what_if.pop("is_estimate")
        what_if["start_kind"] = None if what_if["start_time"] is None else (
            "estimate" if is_estimate else "reservation")
    return data


def _what_if(w: WhatIf, now: float) -> str:
    """A shorter time limit (TimeLimit=00:30:00) would start it at 2026-12-07T14:05:00 (a reservation)."""
    label = CHANGE_LABELS.get(w.change.partition("=")[0], "The change")
    if w.start_time is None:
        return f"  {label} ({w.change}) could not start it."
    if w.start_time <= now:
        return f"  {label} ({w.change}) would start it now."
    kind = "an estimate" if w.is_estimate else "a reservation"
    return f"  {label} ({w.change}) would start it at {iso(w.start_time)} ({kind})."


def _ends(ends: tuple[RunningEnd, ...]) -> str:
    return ", ".join(f"job {e.job_id} on {node_list(e.nodes)} at {iso(e.end_time) if math.isfinite(e.end_time) else 'never (no time limit)'}"
                     for e in ends)


def describe(e: Explanation) -> list[str]:
    """The explanation in sentences, one per line."""
    reason = f"{e.reason} ({e.reason_detail})" if e.reason_detail else e.reason
    lines = [f"Job {e.job_id} of {e.user} in partition {e.partition} is {e.state}"
             + (f": {reason}" if e.reason != "None" else "")]
    if e.state != "PENDING":
        return lines
    if e.limit is not None:
        lines.append(f"  Held by the limit {e.limit.setting} of {e.limit.holder}: its running jobs hold "
                     f"{e.limit.in_use}, this job would add {e.limit.asked}.")
        if e.limit.holders:
            lines.append(f"  Holding it: {_ends(e.limit.holders[:5])}" + (" ..." if len(e.limit.holders) > 5 else ""))
    if e.planned_start is not None:
        kind = "a forecast" if e.planned_start_is_forecast else \
            "an estimate" if e.planned_start_is_estimate else "a reservation the scheduler holds for it"
        line = f"  Planned start: {iso(e.planned_start)} ({kind})"
        if e.after:
            line += f", when {_ends(e.after)} ends by its time limit"
        lines.append(line + ".")
    else:
        lines.append("  No start is planned: it cannot start by waiting alone (see its reason).")
    lines.append(f"  Ahead of it: {e.jobs_ahead} pending job(s) of partition {e.partition} come first in the queue.")
    if e.priority is not None:
        parts = " + ".join(f"{label} {math.floor(e.priority.weighted[name])}" for name, label in FACTOR_LABELS)
        lines.append(f"  Priority {e.priority.priority} = {parts} - nice {e.priority.nice}")
    if e.fairshare is not None:
        line = f"  Fair share: factor {e.fairshare:.6f}"
        if e.account_shares is not None and e.account_usage is not None:
            line += f"; its account has {e.account_shares:.6f} of the shares and {e.account_usage:.6f} of the usage"
        lines.append(line + ".")
    now = time.time()
    lines.extend(_what_if(w, now) for w in e.what_ifs)
    lines.extend(f"  Note: {note}" for note in e.notes)
    return lines
