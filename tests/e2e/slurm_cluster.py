"""A `jem up` cluster for the Slurm-compatible commands' end-to-end tests, and a runner for those commands.

Each test module makes its own module-scoped fixture from `start_cluster`, so
a module's tests share one cluster and `jem down` runs when the module ends.
"""

import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid

import psutil
import pytest

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


def command_server_pids(runtime_dir: str) -> list[int]:
    """Pids of the live command servers (`jem_slurm.forkserver`) whose lock files are in `runtime_dir`."""
    pids = []
    for name in os.listdir(runtime_dir) if os.path.isdir(runtime_dir) else ():
        if not name.endswith(".lock"):
            continue
        with open(os.path.join(runtime_dir, name)) as f:
            pid = f.read().strip()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if pid and b"jem_slurm.forkserver" in f.read():
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


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


# ---------------------------------------------------------------- a second Unix user

@pytest.fixture
def other_user():
    """A Unix user made with useradd -m for this test, removed after with its home (import it
    into a test module to use it)."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root, useradd and runuser")
    name = f"jeu{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    uid = pwd.getpwnam(name).pw_uid
    try:
        yield pwd.getpwnam(name)
    finally:
        wait_for(lambda: not [p for p in psutil.process_iter(["uids"])
                              if p.info["uids"] and p.info["uids"].real == uid], what=f"{name}'s processes to end")
        subprocess.run(["userdel", "-r", name], capture_output=True)


def python_for_others() -> str | None:
    """An interpreter of this Python's version that other users may run (this one may live under
    a 0700 home)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for path in (sys.executable, f"/usr/bin/python{version}", "/usr/bin/python3"):
        if path and os.path.exists(path) and all(os.stat(d).st_mode & 0o005 == 0o005 for d in _dirs_of(path)):
            return path
    return None


def _dirs_of(path: str) -> list[str]:
    found, path = [], os.path.dirname(os.path.realpath(path))
    while path not in ("/", ""):
        found.append(path)
        path = os.path.dirname(path)
    return found


def as_user(cluster, user, command: str, *argv: str, python: str) -> subprocess.CompletedProcess:
    """The Slurm-compatible `command` run in-process by `user` from this checkout, with the
    cluster's client config."""
    import grpc

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [os.path.join(repo, "slurm-compat"), repo, os.path.dirname(os.path.dirname(grpc.__file__))]
    env = {"PATH": "/usr/bin:/bin", "HOME": user.pw_dir, "PYTHONPATH": ":".join(paths), "JEM_NO_SERVER": "1",
           "JEM_CONFIG": cluster["env"]["JEM_CONFIG"], "JEM_CONTROLLER": cluster["env"]["JEM_CONTROLLER"]}
    return subprocess.run([shutil.which("runuser"), "-u", user.pw_name, "--", python, "-s", "-m",
                           f"jem_slurm.{command}", *argv], capture_output=True, text=True, env=env, cwd=user.pw_dir,
                          timeout=60)
