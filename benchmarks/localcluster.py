"""What the benchmarks share to run a `jem up` cluster (a helper module, not a benchmark).

Imported by the benchmark scripts beside it: `python benchmarks/x.py` puts this folder first on
sys.path, from any working directory and from a non-editable install of jem alike.
"""

import os
import subprocess
import sys


def jem(*args: str, state_dir: str) -> None:
    """Run `jem ARGS --state-dir STATE_DIR` (jem up, jem down) with this Python, quietly."""
    subprocess.run([sys.executable, "-m", "jem.cli.main", *args, "--state-dir", state_dir], check=True,
                   stdout=subprocess.DEVNULL)


def use_cluster_env(state_dir: str) -> None:
    """Point this process's clients at the cluster: the variables of the state dir's `env` file."""
    with open(os.path.join(state_dir, "env")) as f:
        for line in f:
            key, value = line.removeprefix("export ").strip().split("=", 1)
            os.environ[key] = value
