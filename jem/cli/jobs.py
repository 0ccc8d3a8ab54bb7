"""`jem jobs`, `jem show`, `jem cancel`, `jem hold`, `jem release`, `jem watch`."""

import argparse
import json
import sys

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.cli.views import JOB_HEADERS, job_as_dict, job_row, show_job_text
from jem.model.arrays import format_job_label, parse_job_label
from jem.model.errors import InvalidArgument, JemError
from jem.model.execution import SignalScope
from jem.model.jobfilter import JobFilter
from jem.model.states import JobState


def _job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid job id {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid job id {text!r}")
    return value


def _job_label(text: str) -> tuple[int, tuple[int, ...]]:
    """A job id, an array task `12_3` or tasks `12_[1-3]`."""
    try:
        return parse_job_label(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid job id {text!r}") from None


def _state(text: str) -> JobState:
    try:
        return JobState(text.upper())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid state {text!r} (one of {', '.join(s.value for s in JobState)})") from None


def add_parsers(sub) -> None:
    p = sub.add_parser("jobs", help="list jobs (queued, running and recently ended)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-u", "--user", action="append", default=[], help="only this user's jobs (repeatable)")
    p.add_argument("-t", "--state", action="append", type=_state, default=[], help="only jobs in this state")
    p.add_argument("-p", "--partition", action="append", default=[], help="only this partition")
    p.add_argument("-j", "--job", action="append", type=_job_id, default=[], help="only this job id")
    p.add_argument("--all", action="store_true", help="include jobs that ended long ago (from the store)")
    p.set_defaults(run=run_jobs)

    p = sub.add_parser("show", help="show one job in detail")
    p.add_argument("job_id", type=_job_id)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_show)

    p = sub.add_parser("cancel", help="cancel jobs (or signal them); an array's id cancels all its tasks")
    p.add_argument("job_ids", type=_job_label, nargs="+", metavar="JOBID", help="12, an array task 12_3, tasks 12_[1-3]")
    p.add_argument("-s", "--signal", default="", help="send this signal (name or number) instead of cancelling, "
                   "to every process of the job but the batch shell, on all its nodes (as scancel)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-b", "--batch", dest="scope", action="store_const", const=SignalScope.BATCH,
                       default=SignalScope.STEPS, help="signal the batch shell alone")
    scope.add_argument("-f", "--full", dest="scope", action="store_const", const=SignalScope.FULL,
                       help="signal the batch shell, its children and every step")
    p.set_defaults(run=run_cancel)

    for name, verb, run in (("hold", "hold pending jobs", run_hold), ("release", "release held jobs", run_release),
                            ("requeue", "return running or ended jobs to the queue", run_requeue)):
        p = sub.add_parser(name, help=verb)
        p.add_argument("job_ids", type=_job_id, nargs="+", metavar="JOBID")
        p.set_defaults(run=run)

    p = sub.add_parser("watch", help="print job events as they happen (Ctrl-C to stop)")
    p.add_argument("job_ids", type=_job_id, nargs="*", metavar="JOBID")
    p.add_argument("--json", action="store_true", help="print one JSON object per event")
    p.set_defaults(run=run_watch)


def run_jobs(args: argparse.Namespace) -> int:
    with connect() as client:
        job_filter = JobFilter(users=frozenset(args.user), states=frozenset(args.state),
                               partitions=frozenset(args.partition), job_ids=frozenset(args.job))
        jobs = client.list_jobs(job_filter, include_old=args.all)
    jobs.sort(key=lambda j: j.list_order)
    if args.json:
        print(json.dumps({"jobs": [job_as_dict(j) for j in jobs]}, indent=2))
    else:
        print(render_table(JOB_HEADERS, [job_row(j) for j in jobs]))
    return 0


def run_show(args: argparse.Namespace) -> int:
    with connect() as client:
        job = client.get_job(args.job_id)
    print(json.dumps(job_as_dict(job), indent=2) if args.json else show_job_text(job))
    return 0


def _signal_number(text: str) -> int:
    import signal as signals

    if not text:
        return 0
    if text.isascii() and text.isdigit():
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise InvalidArgument(f"unknown signal {text!r}") from None


def _each(job_ids: list, action, verb: str) -> int:
    """Apply `action` to every job; report each failure, exit 1 if any failed."""
    status = 0
    with connect() as client:
        for job_id in job_ids:
            try:
                action(client, job_id)
            except JemError as exc:
                if exc.reason == "ControllerUnreachable":
                    raise
                label = job_id if isinstance(job_id, int) else format_job_label(*job_id)
                print(f"jem: error: {verb} job {label}: {exc}", file=sys.stderr)
                status = 1
    return status


def run_cancel(args: argparse.Namespace) -> int:
    signum = _signal_number(args.signal)
    return _each(args.job_ids, lambda c, j: c.cancel(j[0], signal=signum, array_task_ids=j[1], scope=args.scope),
                 "cancel")


def run_requeue(args: argparse.Namespace) -> int:
    return _each(args.job_ids, lambda c, j: c.requeue(j), "requeue")


def run_hold(args: argparse.Namespace) -> int:
    return _each(args.job_ids, lambda c, j: c.hold(j), "hold")


def run_release(args: argparse.Namespace) -> int:
    return _each(args.job_ids, lambda c, j: c.release(j), "release")


def run_watch(args: argparse.Namespace) -> int:
    with connect() as client:
        for notice in client.watch(job_ids=args.job_ids):
            job = notice.job
            if args.json:
                print(json.dumps({"seq": notice.seq, "time": notice.time, "event": notice.event,
                                  "job": job_as_dict(job)}), flush=True)
            else:
                print(f"{notice.seq} job {job.job_id} {notice.event} -> {job.state.value}", flush=True)
    return 0
