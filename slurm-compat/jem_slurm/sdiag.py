"""sdiag: the controller's scheduling and RPC statistics, in Slurm 22.05's layout (-a, -r, -i, -t, -T).

The figures are JEM's own (AdminService.GetDiagnostics): the RPCs by JEM's method names
(numbered as jem.controller.stats numbers them) and by user, the jobs submitted, started and
ended since midnight UTC or the last reset, and the scheduling cycles. JEM plans the whole
queue, backfill included, in one pass per cycle: the main and the backfill sections read the
same cycles. The agent queue and the DBD agent queue are always empty (orders to agents are
sent at once, asynchronously; the store is written before a change is acknowledged): their
lines say 0, the agent count says the orders in flight.
"""

import sys
import time

from jem_slurm.command import SLURM_VERSION, Failure, connect, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable

PROG = "sdiag"
OPTIONS = OptionTable([
    Option("all", "a", NONE), Option("reset", "r", NONE), Option("cluster", "M", REQUIRED),
    Option("sort-by-id", "i", NONE), Option("sort-by-time", "t", NONE), Option("sort-by-time2", "T", NONE),
    Option("version", "V", NONE), Option("help", "", NONE), Option("usage", "", NONE),
])
HELP = """Usage: sdiag [OPTIONS]
  -a, --all           all statistics
  -r, --reset         reset statistics
  -M, --cluster       direct the request to a specific cluster
  -i, --sort-by-id    sort RPCs by id
  -t, --sort-by-time  sort RPCs by total run time
  -T, --sort-by-time2 sort RPCs by average run time
  -V, --version       display current version number

Help options:
  --help          show this help message
  --usage         display brief usage message"""
USAGE = "Usage: sdiag [-M cluster] [-aritT]"
RULE = "*" * 55


def stamp(t: float) -> str:
    """Slurm's `ctime` form with the epoch seconds: `Mon Dec 07 15:49:40 2026 (1796658580)`."""
    return f"{time.strftime('%a %b %d %H:%M:%S %Y', time.localtime(int(t)))} ({int(t)})"


def _sorted(counts, sort: str) -> list:
    """sdiag's orders: by count (the default), id, total time or average time; the highest first
    but for ids."""
    key = {"id": lambda r: (r.id, r.name), "time": lambda r: (-r.total_us, r.id),
           "time2": lambda r: (-r.average_us, r.id)}.get(sort, lambda r: (-r.count, r.id))
    return sorted(counts, key=key)


def report(d, *, sort: str = "count") -> list[str]:
    """sdiag's lines for a jem.model.diagnostics.Diagnostics."""
    c = d.cycles
    lines = [RULE, f"sdiag output at {stamp(d.time)}", f"Data since      {stamp(d.since)}", RULE,
             f"Server thread count:  {d.rpcs_in_flight}", "Agent queue size:     0",
             f"Agent count:          {d.agent_calls_in_flight}",
             f"Agent thread count:   {d.agent_calls_in_flight}", "DBD Agent queue size: 0", "",
             f"Jobs submitted: {d.jobs_submitted}", f"Jobs started:   {d.jobs_started}",
             f"Jobs completed: {d.jobs_completed}", f"Jobs canceled:  {d.jobs_canceled}",
             f"Jobs failed:    {d.jobs_failed}", "",
             f"Job states ts:  {stamp(d.time)}", f"Jobs pending:   {d.jobs_pending}",
             f"Jobs running:   {d.jobs_running}", "",
             "Main schedule statistics (microseconds):",
             f"\tLast cycle:   {c.last_us}", f"\tMax cycle:    {c.max_us}", f"\tTotal cycles: {c.count}"]
    if c.count:
        lines += [f"\tMean cycle:   {c.sum_us // c.count}", f"\tMean depth cycle:  {c.depth_sum // c.count}"]
    if d.time - d.since > 60:
        lines.append(f"\tCycles per minute: {int(c.count // ((int(d.time) - int(d.since)) // 60))}")
    lines += [f"\tLast queue length: {c.last_queue_len}", "",
              "Backfilling stats",
              f"\tTotal backfilled jobs (since last slurm start): {d.backfilled_since_start}",
              f"\tTotal backfilled jobs (since last stats cycle start): {d.backfilled_since_reset}",
              "\tTotal backfilled heterogeneous job components: 0",
              f"\tTotal cycles: {c.count}",
              f"\tLast cycle when: {stamp(c.last_time) if c.last_time else 'N/A'}",
              f"\tLast cycle: {c.last_us}", f"\tMax cycle:  {c.max_us}"]
    if c.count:
        lines.append(f"\tMean cycle: {c.sum_us // c.count}")
    lines += [f"\tLast depth cycle: {c.last_depth}", f"\tLast depth cycle (try sched): {c.last_depth}"]
    if c.count:
        lines += [f"\tDepth Mean: {c.depth_sum // c.count}", f"\tDepth Mean (try depth): {c.depth_sum // c.count}"]
    lines.append(f"\tLast queue length: {c.last_queue_len}")
    if c.count:
        lines.append(f"\tQueue length mean: {c.queue_len_sum // c.count}")
    lines.append(f"\tLast table size: {c.last_nodes}")
    if c.count:
        lines.append(f"\tMean table size: {c.nodes_sum // c.count}")
    lines += ["", f"Latency for 1000 calls to gettimeofday(): {d.clock_latency_us} microseconds", "",
              "Remote Procedure Call statistics by message type"]
    lines += [f"\t{r.name:<40}({r.id:5}) count:{r.count:<6} ave_time:{r.average_us:<6} total_time:{r.total_us}"
              for r in _sorted(d.by_method, sort)]
    lines += ["", "Remote Procedure Call statistics by user"]
    lines += [f"\t{r.name:<16}({r.id:8}) count:{r.count:<6} ave_time:{r.average_us:<6} total_time:{r.total_us}"
              for r in _sorted(d.by_user, sort)]
    lines += ["", "Pending RPC statistics", "\tNo pending RPCs"]
    return lines


def _sdiag(argv: list[str]) -> int:
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    given = {option.name: value for option, value in found}
    if "help" in given:
        print(HELP)
        return 0
    if "usage" in given:
        print(USAGE)
        return 0
    if "version" in given:
        print(SLURM_VERSION)
        return 0
    if "cluster" in given:
        raise Failure("-M, --cluster: JEM runs one cluster (no Slurm database of several)")
    sort = next((name.removeprefix("sort_by_") for name in reversed(list(given))
                 if name.startswith("sort_by_")), "count")
    from jem.model.errors import PermissionDenied

    with connect() as client:
        if "reset" in given:
            try:
                client.reset_diagnostics()
            except PermissionDenied:
                raise Failure("slurm_reset_statistics: Access/permission denied", code=255, prefix=None) from None
            print("Reset scheduling statistics")
            return 0
        try:
            diagnostics = client.diagnostics()
        except PermissionDenied:
            raise Failure("slurm_get_statistics: Access/permission denied", code=255, prefix=None) from None
    print("\n".join(report(diagnostics, sort=sort)))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sdiag, argv)


if __name__ == "__main__":
    sys.exit(main())
