"""Plain domain types and rules of JEM: jobs, states, nodes, partitions, units, errors.

Imports the standard library only (plus `hostlist` for Slurm node-list syntax).
"""
