"""The Slurm commands JEM does not offer (sattach, sbcast, strigger): each says so, in Slurm's
manner (`<command>: error: ...`, exit 1), and what to use instead; `-V`/`--version` and
`--help`/`--usage` answer as Slurm's do, so that a tool probing for the command learns it is
there but refuses. Their modules are one line each: `main = unoffered.command("sattach")`."""

import sys

from jem_slurm.command import SLURM_VERSION

# Why each is not offered, and what to use instead.
WHY = {
    "sattach": "a job step's input and output go to its srun (srun --pty for a terminal); "
               "JEM does not attach to a running step",
    "sbcast": "JEM does not copy files to a job's nodes: use a shared file system, or srun cp",
    "strigger": "JEM has no event triggers: watch jobs with `jem watch` (the WatchJobs stream) or sacct",
}


def command(name: str):
    """The `main(argv=None) -> int` of the command `name`."""
    def main(argv: list[str] | None = None) -> int:
        argv = sys.argv[1:] if argv is None else argv
        if any(arg in ("-V", "--version") for arg in argv):
            print(SLURM_VERSION)
            return 0
        if any(arg in ("-h", "--help", "--usage") for arg in argv):
            print(f"Usage: {name} [OPTIONS]\n  (not offered by JEM: {WHY[name]})")
            return 0
        print(f"{name}: error: {name} is not offered by JEM: {WHY[name]}", file=sys.stderr)
        return 1
    return main
