"""Slurm-compatible commands over jem.client: sbatch, squeue, scancel, sacct, sinfo, scontrol.

Each command module has `main(argv=None) -> int`; they parse argv the way
Slurm's getopt_long does, call `jem.client`, and format output, messages and
exit codes as Slurm 22.05 does. `jem slurm-path` puts them on PATH.
"""
