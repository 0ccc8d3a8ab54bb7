"""The Slurm commands JEM does not offer (sattach, sbcast, strigger): each says so, in Slurm's
manner (`<command>: error: ...`, exit 1), and what to use instead; `-V`/`--version` and
`--help`/`--usage` answer as Slurm's do, so that a tool probing for the command learns it is
there but refuses. Their command lines are read with the command's own option table first, so
an option Slurm's command does not know gets getopt's words (`unrecognized option '--x'`, then
`Try "<command> --help" ...`) as with Slurm. Their modules are one line each:
`main = unoffered.command("sattach")`."""

import sys

from jem_slurm.command import SLURM_VERSION, run
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable

# Why each is not offered, and what to use instead.
WHY = {
    "sattach": "a job step's input and output go to its srun (srun --pty for a terminal); "
               "JEM does not attach to a running step",
    "sbcast": "JEM does not copy files to a job's nodes: use a shared file system, or srun cp",
    "strigger": "JEM has no event triggers: watch jobs with `jem watch` (the WatchJobs stream) or sacct",
}

_O = Option
# Each command's options as its Slurm 22.05 man page lists them (the help and version options
# are the ones this module answers).
OPTIONS = {
    "sattach": OptionTable([
        _O("error-filter", "", REQUIRED), _O("input-filter", "", REQUIRED), _O("output-filter", "", REQUIRED),
        _O("label", "l", NONE), _O("layout", "", NONE), _O("pty", "", NONE), _O("quiet", "Q", NONE),
        _O("verbose", "v", NONE), _O("help", "h", NONE), _O("usage", "u", NONE), _O("version", "V", NONE),
    ]),
    "sbcast": OptionTable([
        _O("compress", "C", OPTIONAL), _O("exclude", "", REQUIRED), _O("fanout", "F", REQUIRED),
        _O("force", "f", NONE), _O("jobid", "j", REQUIRED), _O("preserve", "p", NONE),
        _O("send-libs", "", OPTIONAL), _O("size", "s", REQUIRED), _O("timeout", "t", REQUIRED),
        _O("verbose", "v", NONE), _O("help", "", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    ]),
    # strigger's -h is --primary_database_failure, not help.
    "strigger": OptionTable([
        _O("backup_slurmctld_assumed_control", "C", NONE), _O("backup_slurmctld_failure", "B", NONE),
        _O("backup_slurmctld_resumed_operation", "c", NONE), _O("burst_buffer", "", NONE),
        _O("clear", "", NONE), _O("clusters", "M", REQUIRED), _O("down", "d", NONE), _O("drained", "D", NONE),
        _O("fail", "F", NONE), _O("fini", "f", NONE), _O("flags", "", REQUIRED), _O("front_end", "", NONE),
        _O("get", "", NONE), _O("id", "i", REQUIRED), _O("idle", "I", NONE), _O("jobid", "j", REQUIRED),
        _O("node", "n", OPTIONAL), _O("noheader", "N", NONE), _O("offset", "o", REQUIRED),
        _O("primary_database_failure", "h", NONE), _O("primary_database_resumed_operation", "H", NONE),
        _O("primary_slurmdbd_failure", "g", NONE), _O("primary_slurmdbd_resumed_operation", "G", NONE),
        _O("primary_slurmctld_acct_buffer_full", "e", NONE), _O("primary_slurmctld_failure", "a", NONE),
        _O("primary_slurmctld_resumed_control", "b", NONE), _O("primary_slurmctld_resumed_operation", "A", NONE),
        _O("program", "p", REQUIRED), _O("quiet", "Q", NONE), _O("reconfig", "r", NONE), _O("set", "", NONE),
        _O("time", "t", NONE), _O("up", "u", NONE), _O("user", "", REQUIRED), _O("verbose", "v", NONE),
        _O("help", "", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    ]),
}


def command(name: str):
    """The `main(argv=None) -> int` of the command `name`."""
    def body(argv: list[str]) -> int:
        found, _ = OPTIONS[name].parse(argv, stop_at_operand=False)
        names = {option.name for option, _ in found}
        if "version" in names:
            print(SLURM_VERSION)
            return 0
        if names & {"help", "usage"}:
            print(f"Usage: {name} [OPTIONS]\n  (not offered by JEM: {WHY[name]})")
            return 0
        print(f"{name}: error: {name} is not offered by JEM: {WHY[name]}", file=sys.stderr)
        return 1

    def main(argv: list[str] | None = None) -> int:
        return run(name, body, argv)
    return main
