"""`jem sim TRACE`: replay a Standard Workload Format trace through the scheduler on a virtual clock.

The only CLI module that imports jem.scheduler: the simulator is the
scheduler itself, run in this process (see docs/architecture.md).
"""

import argparse
import dataclasses
import json
import os
import sys

from jem.cli.table import render_table
from jem.model.accounting import new_table
from jem.model.associations import AccountingTable
from jem.model.config import Config, parse_config, read_toml
from jem.model.errors import ConfigError
from jem.model.seeding import configured_table
from jem.scheduler.policy import POLICY_DEPTHS, Policy
from jem.scheduler.sim import SimResult, SitePolicy, simulate
from jem.scheduler.sim_config import SimSettings, job_qos, split_sim_table
from jem.scheduler.swf import Trace, read_swf


def add_parsers(sub) -> None:
    p = sub.add_parser("sim", help="replay an SWF trace (.swf or .swf.gz) through the scheduler")
    p.add_argument("trace", help="Standard Workload Format file, plain or gzipped")
    p.add_argument("--policy", choices=sorted(POLICY_DEPTHS), default=None,
                   help="backfill policy (default: the config's [scheduler] policy, else easy)")
    p.add_argument("--config", help="jem.toml whose [priority], [fairshare], [[accounts]] (limits too), [[qos]] "
                                    "(preemption too), [scheduler] and [sim] (reservations, QOS of trace jobs) apply")
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
    return dataclasses.replace(policy, reservation_depth=depth)


def load_sim_config(path: str) -> tuple[Config, SimSettings]:
    """The configuration as the controller loads it, and its [sim] table (which the controller's
    loader does not know: it is taken out first). ConfigError naming the file and the key."""
    raw = read_toml(path)
    try:
        rest, settings = split_sim_table(raw)
        return parse_config(rest), settings
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None


def site_policy(path: str, trace: Trace, config: Config, settings: SimSettings, table: AccountingTable) -> SitePolicy:
    """The reservations and preemption a replay takes from the configuration."""
    for where, mapping in (("qos_by_queue", settings.qos_by_queue), ("qos_by_partition", settings.qos_by_partition)):
        for number, name in mapping.items():
            if name not in table.qos:
                raise ConfigError(f"sim.{where}.{number}: no QOS named {name!r} ([[qos]])")
    return SitePolicy(reservations=settings.reservations, qos=job_qos(path, trace, settings), table=table,
                      requeue_allowed=config.cluster.requeue_on_node_failure)


def run_sim(args: argparse.Namespace) -> int:
    config, settings = load_sim_config(args.config) if args.config else (Config(), SimSettings())
    policy = sim_policy(config, args.policy)
    if args.procs is not None and args.procs < 1:
        return _fail("--procs must be at least 1")
    table = configured_table(new_table(), config)
    try:
        trace = read_swf(args.trace, procs=args.procs)
        site = site_policy(args.trace, trace, config, settings, table)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    accounting = table if config.accounting.enforces("limits") else None
    result = simulate(trace, policy, progress=_progress_bar() if sys.stderr.isatty() else None,
                      accounting=accounting, site=site)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(_text(args.trace, policy, site, result, summary))
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


def _text(path: str, policy: Policy, site: SitePolicy, result: SimResult, summary: dict) -> str:
    trace = result.trace
    extras = [" + multifactor priority"] if policy.priority.is_multifactor else []
    if site.reservations:
        extras.append(f" + {len(site.reservations)} reservation(s)")
    if policy.preemption.preempt_type != "none":
        extras.append(f" + preemption ({policy.preemption.preempt_type})")
    lines = [
        f"trace        {os.path.basename(path)} ({trace.procs} processors)",
        f"policy       {policy.name}{''.join(extras)}",
        f"jobs         {summary['jobs']} (skipped {trace.n_skipped})",
        f"makespan     {summary['makespan_s']} s",
        f"avg wait     {_figure(summary['avg_wait_s'], '.1f')} s",
        f"avg bsld     {_figure(summary['avg_bsld'], '.3f')}",
        f"utilization  {summary['utilization']:.4f}",
        f"sim time     {summary['sim_seconds']:.3f} s",
    ]
    if summary["preempted"] or summary["requeues"] or summary["suspensions"]:
        lines.append(f"preemption   {summary['preempted']} cancelled, {summary['requeues']} requeued, "
                     f"{summary['lost_cpu_s']} CPU-s lost, {summary['suspensions']} suspended "
                     f"({summary['suspended_cpu_s']} CPU-s)")
    if summary["reservation_cuts"]:
        lines.append(f"reservations {summary['reservation_cuts']} job(s) cut at their reservation's end")
    lines += [f"NOT SIMULATED {what}" for what in summary["not_simulated"]]
    lines += ["", ""]
    rows = [[name, str(a["cpu_seconds"]), f"{a['usage_fraction']:.4f}"] for name, a in summary["accounts"].items()]
    return "\n".join(lines) + render_table(["ACCOUNT", "CPU_SECONDS", "USAGE"], rows)


def _figure(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)   # (None: no job started)


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
