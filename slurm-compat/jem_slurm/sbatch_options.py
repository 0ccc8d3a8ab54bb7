"""sbatch's options: the table, `#SBATCH` directives, `SBATCH_*` input variables, and each value's check.

Settings are applied in Slurm's order of precedence, each overriding the one
before: directives in the script, then `SBATCH_*` variables, then the command
line. A bad value fails with Slurm's own words and exit code (255 for the
values sbatch's option parser rejects, 1 for the rest).
"""

import re
import shlex
import sys
import time

from jem.model import gres, mail, retry, units
from jem_slurm.command import Failure
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable

PARSE_ERROR = 255  # what Slurm 22.05's sbatch exits with on an option value it cannot parse

_O = Option
OPTIONS = OptionTable([
    _O("job-name", "J", REQUIRED), _O("partition", "p", REQUIRED), _O("account", "A", REQUIRED),
    _O("qos", "q", REQUIRED), _O("nodes", "N", REQUIRED), _O("ntasks", "n", REQUIRED),
    _O("cpus-per-task", "c", REQUIRED), _O("ntasks-per-node", "", REQUIRED), _O("mem", "", REQUIRED),
    _O("mem-per-cpu", "", REQUIRED), _O("gres", "", REQUIRED), _O("gpus", "G", REQUIRED),
    _O("gpus-per-node", "", REQUIRED), _O("time", "t", REQUIRED), _O("time-min", "", REQUIRED),
    _O("output", "o", REQUIRED), _O("error", "e", REQUIRED), _O("input", "i", REQUIRED),
    _O("chdir", "D", REQUIRED), _O("hold", "H", NONE), _O("begin", "b", REQUIRED),
    _O("export", "", REQUIRED), _O("requeue", "", NONE), _O("no-requeue", "", NONE),
    _O("exclusive", "", OPTIONAL), _O("constraint", "C", REQUIRED), _O("nice", "", OPTIONAL),
    _O("parsable", "", NONE), _O("test-only", "", NONE), _O("signal", "", REQUIRED),
    _O("open-mode", "", REQUIRED), _O("wckey", "", REQUIRED), _O("comment", "", REQUIRED),
    _O("mail-type", "", REQUIRED), _O("mail-user", "", REQUIRED), _O("wrap", "", REQUIRED),
    _O("verbose", "v", NONE), _O("quiet", "Q", NONE), _O("get-user-env", "", OPTIONAL),
    _O("propagate", "", OPTIONAL), _O("no-kill", "k", OPTIONAL), _O("kill-on-invalid-dep", "", REQUIRED),
    _O("help", "h", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    _O("array", "a", REQUIRED), _O("dependency", "d", REQUIRED), _O("wait", "W", NONE),
    _O("reservation", "", REQUIRED), _O("overcommit", "O", NONE),
    # JEM's own, Slurm has none: a retry policy (jem.model.retry).
    _O("retries", "", REQUIRED), _O("retry-delay", "", REQUIRED), _O("retry-on", "", REQUIRED),
    # Known to Slurm, not yet to JEM's controller: refused by name, never silently dropped.
    _O("nodelist", "w", REQUIRED), _O("exclude", "x", REQUIRED),
    _O("mem-per-gpu", "", REQUIRED), _O("gpus-per-task", "", REQUIRED), _O("ntasks-per-gpu", "", REQUIRED),
])

UNSUPPORTED = {"nodelist", "exclude", "mem_per_gpu", "gpus_per_task", "ntasks_per_gpu"}

# SBATCH_<NAME> input variable -> the long option it stands for (sbatch(1), INPUT ENVIRONMENT VARIABLES).
ENV_OPTIONS = {
    "SBATCH_ACCOUNT": "account", "SBATCH_ARRAY_INX": "array", "SBATCH_CONSTRAINT": "constraint",
    "SBATCH_ERROR": "error", "SBATCH_EXCLUSIVE": "exclusive", "SBATCH_EXPORT": "export",
    "SBATCH_GPUS": "gpus", "SBATCH_GPUS_PER_NODE": "gpus-per-node", "SBATCH_GRES": "gres",
    "SBATCH_INPUT": "input", "SBATCH_JOB_NAME": "job-name", "SBATCH_MEM_PER_CPU": "mem-per-cpu",
    "SBATCH_MEM_PER_NODE": "mem", "SBATCH_NO_REQUEUE": "no-requeue", "SBATCH_OPEN_MODE": "open-mode",
    "SBATCH_OUTPUT": "output", "SBATCH_OVERCOMMIT": "overcommit", "SBATCH_PARTITION": "partition", "SBATCH_QOS": "qos",
    "SBATCH_REQUEUE": "requeue", "SBATCH_RESERVATION": "reservation", "SBATCH_RETRIES": "retries",
    "SBATCH_RETRY_DELAY": "retry-delay", "SBATCH_RETRY_ON": "retry-on", "SBATCH_SIGNAL": "signal",
    "SBATCH_TIMELIMIT": "time", "SBATCH_WAIT": "wait", "SBATCH_WCKEY": "wckey",
}


def directive_args(script: str) -> list[str]:
    """The arguments of the script's `#SBATCH` lines, read until its first command.

    Blank lines and comments may come between directives; values may be quoted;
    anything after an unquoted `#` is a comment.

    >>> directive_args('#!/bin/sh\\n#SBATCH -J "my job"  # a name\\n\\n#SBATCH --time=5\\nhostname\\n#SBATCH -p x\\n')
    ['-J', 'my job', '--time=5']
    """
    args: list[str] = []
    for line in script.splitlines()[1:]:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if line.startswith("#SBATCH"):
            rest = line[len("#SBATCH"):]
            if rest and not rest[0].isspace():
                continue  # #SBATCHX is a plain comment
            try:
                args.extend(shlex.split(rest, comments=True))
            except ValueError:
                args.extend(rest.split("#", 1)[0].split())
    return args


def env_settings(env: dict[str, str]) -> list[tuple[Option, str | None]]:
    """The options set by `SBATCH_*` variables, in a fixed order."""
    found = []
    for var, long in ENV_OPTIONS.items():
        if var in env:
            option = OPTIONS.by_long(long)
            found.append((option, None if option.arg == NONE else env[var]))
    return found


def _positive_int(text: str, long: str, *, minimum: int = 1) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise Failure(f'Invalid numeric value "{text}" for --{long}.')
    return value


def _node_count(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", text)
    if not match or int(match.group(1)) < 1:
        raise Failure(f'"{text}" is not a valid node count', code=PARSE_ERROR)
    return int(match.group(1))


def _signal_spec(text: str) -> str:
    try:
        units.parse_signal_warning(text)
    except ValueError:
        raise Failure("Invalid --signal specification", code=PARSE_ERROR) from None
    return text


def _retry_number(text: str, long: str, maximum: int) -> int:
    """--retries and --retry-delay (seconds): a whole number 0..`maximum`."""
    value = _positive_int(text, long, minimum=0)
    if value > maximum:
        raise Failure(f"Invalid --{long} value {value}: at most {maximum}")
    return value


def warn_signal_fields(text: str) -> dict:
    """JobSpec fields of a checked --signal value."""
    if not text:
        return {}
    number, seconds, is_batch_only = units.parse_signal_warning(text)
    return {"warn_signal": number, "warn_time_s": seconds, "warn_batch_only": is_batch_only}


def check_value(option: Option, value: str | None):
    """The parsed value of one setting; raises Failure with Slurm's message."""
    name = option.name
    if name in UNSUPPORTED:
        raise Failure(f"--{option.long} is not supported yet by JEM")
    if name == "time":
        try:
            return units.parse_time_limit(value)
        except ValueError:
            raise Failure("Invalid --time specification", code=PARSE_ERROR) from None
    if name in ("mem", "mem_per_cpu"):
        try:
            return units.parse_mem_mib(value)
        except ValueError:
            raise Failure(f"Invalid --{option.long} specification", code=PARSE_ERROR) from None
    if name == "nodes":
        return _node_count(value)
    if name in ("ntasks", "cpus_per_task", "ntasks_per_node"):
        return _positive_int(value, option.long)
    if name in ("gres", "gpus", "gpus_per_node"):   # a gres.GresRequest; --gpus: [type:]N[,...]
        try:
            return gres.parse_gres(value) if name == "gres" else gres.parse_gpus(value)
        except ValueError:
            raise Failure("Invalid generic resource (gres) specification") from None
    if name == "nice":
        try:
            return int(value) if value is not None else 100
        except ValueError:
            return 0  # Slurm 22.05 reads it with atoi
    if name == "signal":
        return _signal_spec(value)
    if name in ("retries", "retry_delay"):
        return _retry_number(value, option.long, retry.MAX_RETRIES if name == "retries" else retry.MAX_RETRY_DELAY_S)
    if name == "retry_on":
        try:
            return retry.parse_states(value)
        except ValueError:
            raise Failure("Invalid --retry-on specification", code=PARSE_ERROR) from None
    if name == "mail_type":   # a set of jem.model.mail.MailType; the sources' sets are joined (apply_settings)
        try:
            return mail.parse_mail_type(value)
        except ValueError:
            raise Failure("Invalid --mail-type specification", code=PARSE_ERROR) from None
    if name == "open_mode":
        if not value or value[0].lower() not in "at":
            raise Failure("Invalid --open-mode specification", code=PARSE_ERROR)
        return value
    if name == "begin":
        try:
            return units.parse_begin_time(value, now=time.time())
        except ValueError:
            print(f"Invalid time specification (pos=0): {value}", file=sys.stderr)
            raise Failure("Invalid --begin specification", code=PARSE_ERROR) from None
    return value if option.arg != NONE else True


_EXCLUSIVE_PAIRS = (("requeue", "no_requeue"), ("mem", "mem_per_cpu"), ("gres", "gpus"), ("gres", "gpus_per_node"),
                    ("gpus", "gpus_per_node"))


def apply_settings(settings: dict, found: list[tuple[Option, str | None]]) -> None:
    """Check each (option, value) of one source and store it in `settings`, overriding earlier sources.

    Of two options that exclude each other, one source overrides the other
    source's choice; both in the same source is Slurm's fatal error for memory.
    """
    names = {option.name for option, _ in found}
    if {"mem", "mem_per_cpu"} <= names:
        raise Failure("--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.", prefix="fatal: ")
    for option, value in found:
        value = check_value(option, value)
        # --mail-type adds to the types given before it, in any source (Slurm ORs them).
        settings[option.name] = value | settings.get("mail_type", frozenset()) if option.name == "mail_type" else value
        for a, b in _EXCLUSIVE_PAIRS:
            if option.name in (a, b):
                settings.pop(b if option.name == a else a, None)


def export_environment(value: str, env: dict[str, str]) -> dict[str, str]:
    """The job's environment for --export=ALL | NONE | [ALL,]VAR[=value],...

    SLURM_* variables always pass; without ALL only the named ones join them.

    >>> export_environment("NONE", {"A": "1", "SLURM_X": "2"})
    {'SLURM_X': '2'}
    >>> sorted(export_environment("B=3,A", {"A": "1", "C": "5"}).items())
    [('A', '1'), ('B', '3')]
    """
    items = [item for item in value.split(",") if item]
    first = items[0].upper() if items else "ALL"
    if first == "ALL":
        result, items = dict(env), items[1:]
    else:
        result = {k: v for k, v in env.items() if k.startswith("SLURM_")}
        if first == "NONE":
            items = items[1:]
    for item in items:
        key, has_value, val = item.partition("=")
        if has_value:
            result[key] = val
        elif key in env:
            result[key] = env[key]
    return result
