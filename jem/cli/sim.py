"""`jem sim TRACE`: replay a Standard Workload Format trace through the scheduler on a virtual clock.

The only CLI module that imports jem.scheduler: the simulator is the
scheduler itself, run in this process (see docs/architecture.md). It does so
when the command runs, not at import: `jem --help` builds every command's
parser, and only `jem sim` needs numpy and the scheduler.

A file `jem sim` cannot use ends it with one line, `jem sim: error: ...`, and
exit status 1: an unreadable or malformed trace or config before the replay,
and an output (--csv, --plot) that cannot be written, or --plot without
matplotlib, before it too, so that a long replay is not run for nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import zlib
from typing import TYPE_CHECKING

from jem.cli.table import render_table
from jem.model.config import Config, parse_config, read_toml
from jem.model.errors import ConfigError, JemError

if TYPE_CHECKING:
    from jem.model.associations import AccountingTable
    from jem.scheduler.policy import Policy
    from jem.scheduler.sim import SimResult, SitePolicy
    from jem.scheduler.sim_config import SimSettings
    from jem.scheduler.swf import Trace

POLICIES = ("conservative", "easy", "fcfs")   # jem.scheduler.policy.POLICY_DEPTHS' keys (a test holds them equal)
UTILIZATION_BINS_S = (300, 900, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 28 * 86400)
MAX_BINS = 400


class SimError(JemError):
    """A file `jem sim` cannot read or write; printed as the error's text alone."""

    reason = "SimError"

    def __str__(self) -> str:
        return self.detail


def add_parsers(sub) -> None:
    p = sub.add_parser("sim", help="replay an SWF trace (.swf or .swf.gz) through the scheduler")
    p.add_argument("trace", help="Standard Workload Format file, plain or gzipped")
    p.add_argument("--policy", choices=POLICIES, default=None,
                   help="backfill policy (default: the config's [scheduler] policy, else easy)")
    p.add_argument("--config", help="jem.toml whose [priority], [fairshare], [[accounts]] (limits too), [[qos]] "
                                    "(preemption too), [scheduler] and [sim] (reservations, QOS of trace jobs) apply")
    p.add_argument("--procs", type=int, help="processors of the machine (default: the header's MaxProcs/MaxNodes)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--csv", metavar="FILE", help="write job_id,submit,start,end,procs per job")
    p.add_argument("--plot", metavar="FILE.png", help="draw utilization and queue length over time (matplotlib; "
                                                      "the format is the name's suffix: png, pdf, svg, ...)")
    p.set_defaults(run=run_sim)


def sim_policy(config: Config, name: str | None) -> Policy:
    """The config's policy, with --policy's reservation depth when given."""
    from jem.scheduler.policy import POLICY_DEPTHS, Policy

    policy = Policy.from_config(config)
    if name is None:
        return policy
    depth = config.scheduler.reservation_depth if name == "easy" else POLICY_DEPTHS[name]
    return dataclasses.replace(policy, reservation_depth=depth)


def load_sim_config(path: str) -> tuple[Config, SimSettings]:
    """The configuration as the controller loads it, and its [sim] table (which the controller's
    loader does not know: it is taken out first). ConfigError naming the file and the key."""
    from jem.scheduler.sim_config import split_sim_table

    try:
        raw = read_toml(path)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    try:
        rest, settings = split_sim_table(raw)
        return parse_config(rest), settings
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None


def site_policy(path: str, trace: Trace, config: Config, settings: SimSettings, table: AccountingTable) -> SitePolicy:
    """The reservations and preemption a replay takes from the configuration."""
    from jem.scheduler.sim import SitePolicy
    from jem.scheduler.sim_config import job_qos

    for where, mapping in (("qos_by_queue", settings.qos_by_queue), ("qos_by_partition", settings.qos_by_partition)):
        for number, name in mapping.items():
            if name not in table.qos:
                raise ConfigError(f"sim.{where}.{number}: no QOS named {name!r} ([[qos]])")
    return SitePolicy(reservations=settings.reservations, qos=job_qos(path, trace, settings), table=table,
                      requeue_allowed=config.cluster.requeue_on_node_failure)


def run_sim(args: argparse.Namespace) -> int:
    if args.procs is not None and args.procs < 1:
        raise SimError("--procs must be at least 1")
    for option, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path:
            check_writable(option, path)
    pyplot = _pyplot(args.plot) if args.plot else None
    from jem.model.accounting import new_table
    from jem.model.seeding import configured_table
    from jem.scheduler.sim import simulate
    from jem.scheduler.sim_config import SimSettings

    config, settings = load_sim_config(args.config) if args.config else (Config(), SimSettings())
    policy = sim_policy(config, args.policy)
    table = configured_table(new_table(), config)
    trace = read_trace(args.trace, procs=args.procs)
    try:
        site = site_policy(args.trace, trace, config, settings, table)
    except (OSError, ValueError) as exc:   # (job_qos reads the trace's queue and partition fields)
        raise SimError(_file_error(args.trace, exc)) from None
    accounting = table if config.accounting.enforces("limits") else None
    result = simulate(trace, policy, progress=_progress_bar() if sys.stderr.isatty() else None,
                      accounting=accounting, site=site)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(_text(args.trace, policy, site, result, summary))
    if args.csv:
        _write_output("--csv", args.csv, result.csv_bytes())
    if pyplot is not None:
        _plot(pyplot, args.plot, result, title=_plot_title(args.trace, policy, site, result),
              mean=summary["utilization"])
    return 0


def read_trace(path: str, *, procs: int | None) -> Trace:
    """The trace at `path`; SimError naming it when it cannot be read, unzipped or parsed."""
    from jem.scheduler.swf import read_swf

    try:
        return read_swf(path, procs=procs)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise SimError(_file_error(path, exc)) from None


def _file_error(path: str, exc: BaseException) -> str:
    """`path: what went wrong`, once: an OSError's strerror, else the message (which may name the path)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{path}: {exc.strerror}"
    text = str(exc) or type(exc).__name__
    return text if text.startswith(f"{path}:") else f"{path}: {text}"


def check_writable(option: str, path: str) -> None:
    """SimError now, before the replay, when `path` cannot be written (a missing directory, a
    directory, no permission). The file is opened to append, so an existing one is left as it
    is, and one made for the check is removed again."""
    existed = os.path.lexists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise SimError(f"{option} {path}: {exc.strerror or exc}") from None
    if not existed:
        os.unlink(path)


def _write_output(option: str, path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise SimError(f"{option} {path}: {exc.strerror or exc}") from None


def _progress_bar():
    def show(done: int, total: int) -> None:
        width = 40
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} jobs", end=end, file=sys.stderr, flush=True)
    return show


def _policy_text(policy: Policy, site: SitePolicy) -> str:
    """easy + multifactor priority + 1 reservation(s) + preemption (qos)."""
    extras = [" + multifactor priority"] if policy.priority.is_multifactor else []
    if site.reservations:
        extras.append(f" + {len(site.reservations)} reservation(s)")
    if policy.preemption.preempt_type != "none":
        extras.append(f" + preemption ({policy.preemption.preempt_type})")
    return policy.name + "".join(extras)


def _text(path: str, policy: Policy, site: SitePolicy, result: SimResult, summary: dict) -> str:
    trace = result.trace
    lines = [
        f"trace        {os.path.basename(path)} ({trace.procs} processors)",
        f"policy       {_policy_text(policy, site)}",
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


def _pyplot(path: str):
    """matplotlib.pyplot (Agg), checked before the replay: SimError when matplotlib is missing or
    cannot write the format `path`'s suffix names."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        # Not `pip install 'jem[plot]'`: the name jem on PyPI is another project.
        raise SimError(f"--plot needs matplotlib, which is not installed: {sys.executable} -m pip install "
                       f"'matplotlib>=3.5' (or, in a JEM checkout, pip install '.[plot]'); no plot written") from None
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if suffix not in formats:
        raise SimError(f"--plot {path}: give the file a suffix matplotlib writes ({', '.join(sorted(formats))})")
    return plt


def _plot_title(path: str, policy: Policy, site: SitePolicy, result: SimResult) -> str:
    name = os.path.basename(path)
    for ending in (".gz", ".swf"):
        name = name.removesuffix(ending)
    n_jobs = len(result.trace)
    return (f"{name}: {_policy_text(policy, site)}, {n_jobs} job{'s' if n_jobs != 1 else ''} on "
            f"{result.trace.procs} processors")


def bin_width_s(span_s: int) -> int:
    """The narrowest of UTILIZATION_BINS_S that cuts `span_s` into at most MAX_BINS bins."""
    return next((w for w in UTILIZATION_BINS_S if span_s <= w * MAX_BINS), UTILIZATION_BINS_S[-1])


def _duration_text(seconds: int) -> str:
    for unit, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % unit == 0:
            n = seconds // unit
            return f"{n} {name}{'s' if n != 1 else ''}"
    return f"{seconds} s"


def _plot(plt, path: str, result: SimResult, *, title: str, mean: float) -> None:
    """Utilization and queue length over time, each a time-weighted mean per bin (a bin is
    5 minutes to 4 weeks, whatever gives at most MAX_BINS): the raw series changes at every
    start and end, thousands of times a day, and drawn as it is it fills the panel."""
    t, _, _ = result.series()
    width = bin_width_s(int(t[-1] - t[0]) if len(t) else 0)
    starts, busy, queued = result.binned(width)
    if len(starts):   # (steps drawn "post": each mean holds until the next bin; one more point ends the last)
        days = (starts - starts[0]) / 86400
        days = list(days) + [(t[-1] - starts[0]) / 86400]
        utilization = list(busy / result.trace.procs) + [busy[-1] / result.trace.procs]
        queued = list(queued) + [queued[-1]]
    else:
        days, utilization, queued = [], [], []
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6.5), constrained_layout=True)
    fig.suptitle(title)
    top.step(days, utilization, where="post", linewidth=1.0, color="tab:blue")
    top.axhline(mean, linestyle="--", linewidth=0.8, color="tab:gray")
    top.set_ylim(0, 1.05)
    top.set_ylabel("utilization")
    top.set_title(f"mean per {_duration_text(width)}; dashed: {mean:.2f}, over the whole replay", loc="left",
                  fontsize="small")
    top.grid(alpha=0.3)
    bottom.step(days, queued, where="post", linewidth=1.0, color="tab:orange")
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("queued jobs (mean)")
    bottom.set_xlabel("days since the first event")
    bottom.grid(alpha=0.3)
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise SimError(f"--plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
