"""A `jem up` cluster for the Slurm-compatible commands' end-to-end tests, and a runner for those commands.

Each test module makes its own module-scoped fixture from `start_cluster`, so
a module's tests share one cluster and `jem down` runs when the module ends.
"""

import os
import subprocess
import sys
import time

JEM = [sys.executable, "-m", "jem.cli.main"]


def start_cluster(root: str, *, n_nodes: int = 4) -> dict:
    """Start `jem up` under `root`; returns {"env", "state_dir", "path"} with PATH led by `jem slurm-path`."""
    state_dir = os.path.join(root, "state")
    subprocess.run([*JEM, "up", "--nodes", str(n_nodes), "--cpus-per-node", "4", "--mem-per-node", "2048",
                    "--state-dir", state_dir], check=True, capture_output=True, timeout=120)
    env = dict(os.environ)
    for var in [v for v in env if v.startswith(("SBATCH_", "SLURM_", "SQUEUE_", "SACCT_"))]:
        del env[var]
    # The commands' resident server lives in the test's own directory; stop_cluster stops it.
    env["JEM_RUNTIME_DIR"] = os.path.join(root, "run")
    with open(os.path.join(state_dir, "env")) as f:
        for line in f:
            key, value = line.removeprefix("export ").strip().split("=", 1)
            env[key] = value
    path = subprocess.run([*JEM, "slurm-path", "--state-dir", state_dir], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()
    env["PATH"] = f"{path}:{env['PATH']}"
    return {"env": env, "state_dir": state_dir, "path": path, "root": root}


def stop_cluster(cluster: dict) -> None:
    subprocess.run([*JEM, "slurm-path", "--stop-server"], capture_output=True, env=cluster["env"], timeout=60)
    subprocess.run([*JEM, "down", "--state-dir", cluster["state_dir"]], capture_output=True, timeout=120)


def slurm(cluster: dict, *argv: str, stdin: str = "", env: dict | None = None, cwd: str | None = None):
    """Run one of the commands (found on the cluster's PATH) and return the CompletedProcess."""
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, env=env or cluster["env"],
                          cwd=cwd or cluster["root"], timeout=60)


def wait_for(predicate, timeout_s: float = 20.0, what: str = "condition"):
    """Poll `predicate` until it returns something true, and return that; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_state(cluster: dict, job_id: str, states: set[str], timeout_s: float = 30.0) -> str:
    """Poll `squeue -t all` until the job is in one of `states`; returns the state."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = slurm(cluster, "squeue", "-t", "all", "-h", "-j", job_id, "-o", "%T").stdout.strip()
        if state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {state!r}, not one of {sorted(states)}")
