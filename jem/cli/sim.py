"""`jem sim TRACE`: replay a Standard Workload Format trace through the scheduler on a virtual clock.

The only CLI module that imports jem.scheduler: the simulator is the
scheduler itself, run in this process (see docs/architecture.md).
"""

import argparse
import json
import os
import sys

from jem.cli.table import render_table
from jem.model.accounting import new_table
from jem.model.config import Config, load_config
from jem.model.seeding import configured_table
from jem.scheduler.policy import POLICY_DEPTHS, Policy
from jem.scheduler.sim import SimResult, simulate
from jem.scheduler.swf import read_swf


def add_parsers(sub) -> None:
    p = sub.add_parser("sim", help="replay an SWF trace (.swf or .swf.gz) through the scheduler")
    p.add_argument("trace", help="Standard Workload Format file, plain or gzipped")
    p.add_argument("--policy", choices=sorted(POLICY_DEPTHS), default=None,
                   help="backfill policy (default: the config's [scheduler] policy, else easy)")
    p.add_argument("--config", help="jem.toml whose [priority], [fairshare], [[accounts]] (limits too), [[qos]] and [scheduler] apply")
    p.add_argument("--procs", type=int, help="processors of the machine (default: the header's MaxProcs/MaxNodes)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--csv", metavar="FILE", help="write job_id,submit,start,end,procs per job")
    p.add_argument("--plot", metavar="FILE.png", help="draw utilization and queue length over time (matplotlib)")
    p.set_defaults(run=run_sim)


def sim_policy(config: Config, name: str | None) -> Policy:
    """The config's policy, with --policy's reservation depth when given."""
    policy = Policy.from_config(config)
    if name is None:
        return policy
    depth = config.scheduler.reservation_depth if name == "easy" else POLICY_DEPTHS[name]
    return Policy(reservation_depth=depth, priority=policy.priority, fairshare=policy.fairshare,
                  accounts=policy.accounts)


def run_sim(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else Config()
    policy = sim_policy(config, args.policy)
    if args.procs is not None and args.procs < 1:
        return _fail("--procs must be at least 1")
    try:
        trace = read_swf(args.trace, procs=args.procs)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    accounting = configured_table(new_table(), config) if config.accounting.enforces("limits") else None
    result = simulate(trace, policy, progress=_progress_bar() if sys.stderr.isatty() else None,
                      accounting=accounting)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(_text(args.trace, policy, result, summary))
    if args.csv:
        _write_csv(args.csv, result)
    if args.plot:
        return _plot(args.plot, result)
    return 0


def _fail(message: str) -> int:
    print(f"jem sim: error: {message}", file=sys.stderr)
    return 1


def _progress_bar():
    def show(done: int, total: int) -> None:
        width = 40
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} jobs", end=end, file=sys.stderr, flush=True)
    return show


def _text(path: str, policy: Policy, result: SimResult, summary: dict) -> str:
    trace = result.trace
    lines = [
        f"trace        {os.path.basename(path)} ({trace.procs} processors)",
        f"policy       {policy.name}{' + multifactor priority' if policy.priority.is_multifactor else ''}",
        f"jobs         {summary['jobs']} (skipped {trace.n_skipped})",
        f"makespan     {summary['makespan_s']} s",
        f"avg wait     {summary['avg_wait_s']:.1f} s",
        f"avg bsld     {summary['avg_bsld']:.3f}",
        f"utilization  {summary['utilization']:.4f}",
        f"sim time     {summary['sim_seconds']:.3f} s",
        "", "",
    ]
    rows = [[name, str(a["cpu_seconds"]), f"{a['usage_fraction']:.4f}"] for name, a in summary["accounts"].items()]
    return "\n".join(lines) + render_table(["ACCOUNT", "CPU_SECONDS", "USAGE"], rows)


def _write_csv(path: str, result: SimResult) -> None:
    """job_id,submit,start,end,procs per job, in submit order (all integers: one format string)."""
    with open(path, "wb") as f:
        f.write(result.csv_bytes())


def _plot(path: str, result: SimResult) -> int:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _fail("--plot needs matplotlib: pip install 'jem[plot]' (no plot written)")
    t, busy, queued = result.series()
    days = (t - t[0]) / 86400 if len(t) else t
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    top.step(days, busy / result.trace.procs, where="post")
    top.set_ylabel("utilization")
    bottom.step(days, queued, where="post")
    bottom.set_ylabel("queued jobs")
    bottom.set_xlabel("days")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return 0
