"""How long other threads wait for the interpreter lock while the scheduler plans a big
queue; prints one JSON line.

    python benchmarks/gil_wait.py --pending 100000 --nodes 100 --json

A probe thread sleeps 0.2 ms at a time, as a request thread blocks on a socket or the
store, and records how late it wakes while another thread runs the controller's
`plan_cycle` (the workload of backfill_pass.py). A C-level call that holds the lock, or a
loop that gives it up and takes it straight back, shows as a late wake-up. With CPython's
switch interval at the controller's 0.5 ms, a wait of about that is the floor.
"""

import argparse
import gc
import json
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import backfill_pass  # noqa: E402

from jem.controller.server import GIL_SWITCH_INTERVAL_S  # noqa: E402
from jem.scheduler.cycle import plan_cycle  # noqa: E402
from jem.scheduler.policy import POLICY_DEPTHS, Policy  # noqa: E402

PROBE_SLEEP_S = 0.0002


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[int(q * (len(ordered) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--running", type=int, default=200)
    parser.add_argument("--policy", choices=sorted(POLICY_DEPTHS), default="easy")
    parser.add_argument("--cycles", type=_positive, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()

    inputs, _ = backfill_pass.workload(args.nodes, args.pending, args.running, args.seed)
    snapshot = backfill_pass.snapshot_of(inputs, backfill_pass.cluster(args.nodes))
    policy = Policy(reservation_depth=POLICY_DEPTHS[args.policy])
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.disable()   # as in the controller (jem.controller.collector.take_over)

    waits_ms: list[float] = []
    cycle_s: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            time.sleep(PROBE_SLEEP_S)
            waits_ms.append((time.perf_counter() - t0 - PROBE_SLEEP_S) * 1000)

    def plan() -> None:
        for _ in range(args.cycles):
            t0 = time.perf_counter()
            plan_cycle(snapshot, float(backfill_pass.NOW), policy=policy)
            cycle_s.append(time.perf_counter() - t0)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    time.sleep(0.05)
    waits_ms.clear()
    planner = threading.Thread(target=plan)
    t_start = time.perf_counter()
    planner.start()
    planner.join()
    elapsed = time.perf_counter() - t_start
    done.set()
    prober.join()
    waits = sorted(waits_ms)
    result = {
        "pending": args.pending, "nodes": args.nodes, "policy": args.policy, "cycles": args.cycles,
        "cycle_s_min": round(min(cycle_s), 4),
        "probe_wakeups_per_s": round(len(waits) / elapsed, 1),
        "wait_p50_ms": round(_percentile(waits, 0.5), 3),
        "wait_p99_ms": round(_percentile(waits, 0.99), 3),
        "wait_max_ms": round(waits[-1], 3),
        "waits_over_2ms": sum(1 for w in waits if w > 2.0),
    }
    if not args.json:
        print(f"plan_cycle over {args.pending} jobs: other threads' waits for the interpreter lock", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
