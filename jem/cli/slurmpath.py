"""`jem slurm-path`: make (or refresh) a directory of Slurm-named commands and print it.

The directory (DIR/slurm-bin under the state dir) holds one small executable per
command (sbatch, squeue, scancel, sinfo, scontrol, sacct, srun), each running this
interpreter's `jem_slurm.<command>`. Nothing is put on PATH: the user asks for
it with `export PATH="$(jem slurm-path):$PATH"`, so a real Slurm is never shadowed
by accident.
"""

import argparse
import os
import sys

from jem.model import defaults

COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol", "sacct", "srun")
MAX_SHEBANG = 120  # older kernels cut #! lines at 127 bytes


def wrapper_text(command: str, python: str) -> str:
    """An executable that runs `jem_slurm.<command>.main` under `python`, with no `-m` and no shell when it can."""
    body = f"import sys\nfrom jem_slurm.{command} import main\nsys.exit(main())\n"
    if len(python) + 2 <= MAX_SHEBANG and " " not in python:
        return f"#!{python}\n{body}"
    return f"#!/bin/sh\nexec '{python}' -c '{body.replace(chr(10), '; ')}' \"$@\"\n"


def ensure_commands(directory: str, python: str) -> None:
    """Write every wrapper whose text differs from what is there (a new interpreter, a first run)."""
    os.makedirs(directory, exist_ok=True)
    for command in COMMANDS:
        path = os.path.join(directory, command)
        text = wrapper_text(command, python)
        try:
            with open(path) as f:
                if f.read() == text and os.access(path, os.X_OK):
                    continue
        except OSError:
            pass
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)


def add_parsers(sub) -> None:
    p = sub.add_parser("slurm-path", help="print a directory of Slurm-compatible commands (sbatch, squeue, ...) "
                       "to put on PATH")
    p.add_argument("--state-dir", default=None, help="where the directory is made (default $JEM_STATE_DIR or ~/.jem)")
    p.set_defaults(run=run_slurm_path)


def run_slurm_path(args: argparse.Namespace) -> int:
    directory = os.path.join(os.path.abspath(args.state_dir or defaults.state_dir()), "slurm-bin")
    ensure_commands(directory, sys.executable)
    print(directory)
    return 0
