"""Cost of GPU isolation on cgroup v2: creating a job cgroup with and without a
device program (jem/agent/bpf_devices.py); prints one JSON line.

    sudo python benchmarks/device_program.py --runs 200 --devices 8

Median and p90 in milliseconds over `--runs` job cgroups of `CgroupsV2.create`
with no denied devices (plain_ms) and with `--devices` denied stand-in character
devices (with_program_ms: assemble, BPF_PROG_LOAD with the verifier, attach),
each cgroup removed again. Needs root and a v2 hierarchy (pure or hybrid).
"""

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid

from jem.agent.cgroups import CgroupLimits, open_cgroups


def create_ms(cgroups, denied: tuple[str, ...], runs: int) -> dict:
    samples = []
    for job_id in range(1, runs + 1):
        t0 = time.perf_counter()
        cgroup = cgroups.create(job_id, CgroupLimits(cpu_ids=None, mem_bytes=None, denied_devices=denied))
        samples.append((time.perf_counter() - t0) * 1e3)
        cgroup.remove()
    samples.sort()
    return {"median": round(statistics.median(samples), 3), "p90": round(samples[int(0.9 * (len(samples) - 1))], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--devices", type=int, default=8)
    args = parser.parse_args()
    cgroups = open_cgroups("v2", name=f"jem/bench-{uuid.uuid4().hex[:8]}")
    with tempfile.TemporaryDirectory() as tmp:
        denied = []
        for i in range(args.devices):   # stand-ins: /dev/zero's number under other names
            path = os.path.join(tmp, f"gpu{i}")
            os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5))
            denied.append(path)
        try:
            figures = {"gpu_isolation": cgroups.gpu_isolation, "runs": args.runs, "devices": args.devices,
                       "plain_ms": create_ms(cgroups, (), args.runs),
                       "with_program_ms": create_ms(cgroups, tuple(denied), args.runs)}
        finally:
            cgroups.remove_base()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
