"""`jem sim` against a straightforward pure-Python simulator, on whole traces; one JSON line per trace.

    python benchmarks/sim_compare.py                       # every trace in ../shared/traces, EASY
    python benchmarks/sim_compare.py --policy fcfs HPC2N-2002-2.2-cln.swf.gz

For each trace it runs, as whole commands in fresh processes (start-up, reading
the gzipped trace and writing the CSV included):
- `jem sim TRACE --policy P --csv FILE --json`, and
- tests/oracle/easy_ref.py, the independent textbook FCFS/EASY simulator,
then checks that every job's start time is identical, and prints
{"trace", "policy", "jobs", "identical", "mismatches", "jem_s", "reference_s", "speedup"}.
"""

import argparse
import csv
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces"
REFERENCE = """
import json, sys
sys.path.insert(0, {root!r})
from tests.oracle import easy_ref
result = easy_ref.simulate({trace!r}, {policy!r})
json.dump({{str(k): v[1] for k, v in result.items()}}, open({out!r}, "w"))
"""


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def compare(trace: pathlib.Path, policy: str, workdir: pathlib.Path) -> dict:
    jem_csv, ref_json = workdir / "jem.csv", workdir / "ref.json"
    jem_s = timed([sys.executable, "-m", "jem.cli.main", "sim", str(trace), "--policy", policy, "--csv", str(jem_csv),
                   "--json"])
    script = REFERENCE.format(root=str(ROOT), trace=str(trace), policy=policy, out=str(ref_json))
    reference_s = timed([sys.executable, "-c", script])
    with open(jem_csv) as f:
        jem = {row["job_id"]: int(row["start"]) for row in csv.DictReader(f)}
    reference = json.loads(ref_json.read_text())
    mismatches = sum(1 for job, start in reference.items() if jem.get(job) != start) + len(set(jem) - set(reference))
    return {"trace": trace.name, "policy": policy, "jobs": len(reference), "identical": mismatches == 0,
            "mismatches": mismatches, "jem_s": round(jem_s, 3), "reference_s": round(reference_s, 3),
            "speedup": round(reference_s / jem_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="*", help="trace file names in ../shared/traces (default: all)")
    parser.add_argument("--policy", choices=("easy", "fcfs"), default="easy")
    args = parser.parse_args()
    traces = [TRACES / name for name in args.traces] or sorted(TRACES.glob("*.swf.gz"))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for trace in traces:
            result = compare(trace, args.policy, pathlib.Path(tmp))
            ok &= result["identical"]
            print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
