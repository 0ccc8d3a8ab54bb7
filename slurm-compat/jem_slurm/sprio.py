"""sprio: the factors of pending jobs' multifactor priorities, as Slurm 22.05's sprio prints them.

Columns follow src/sprio: the default format is `%.15i %9r`, ` %.8u` with -u,
` %.10Y %.10S`, then one column per factor whose PriorityWeight is not 0; -l shows
them all, -n the normalized factors (`%.7f`, and the priority over 2^32 - 1), -w one
"Weights" row instead of the jobs. Weighted values print rounded to the nearest whole
number (`%.0f`); PRIORITY is the factors' sum less nice, rounded down and at least 1,
which is how JEM's cycle computes the job's priority (with every weight 0, JEM's
basic priority, 1,000,000 less nice, which there are no factors to explain).
JEM has no site, association or TRES factor: SITE (in every default format, as in
Slurm) and ASSOC (with -l) are 0, and TRES is empty, as Slurm's are without those
weights. Held jobs (priority 0) are left out, as Slurm's controller leaves them out.
"""

import math
import os
import sys

from jem_slurm import layout
from jem_slurm.command import SLURM_VERSION, Failure, connect, is_digits, run, split_list
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable

PROG = "sprio"
VERSION = SLURM_VERSION
LONG_FORMAT = "%.15i %9r %.8u %.10Y %.10S %.10A %.10B %.10F %.10J %.10P %.10Q %.11N %.20T"
NORM_LONG_FORMAT = "%.15i %9r %.8u %10y %10a %10b %10f %10j %10p %10q %20t"
PRIORITY_SCALE = float(0xFFFFFFFF)   # -n prints the priority over Slurm's largest one
SUM_ORDER = ("age", "fairshare", "job_size", "partition", "qos")   # JEM's factors, summed in its cycle's order
# The factor columns that the default format shows when their weight is set, in Slurm's order:
# (factor, weighted letter, normalized letter). ASSOC and TRES have no weight in JEM.
WEIGHTED_COLUMNS = (("age", "A", "a"), ("assoc", "B", "b"), ("fairshare", "F", "f"), ("job_size", "J", "j"),
                    ("partition", "P", "p"), ("qos", "Q", "q"))

_O = Option
OPTIONS = OptionTable([
    _O("noheader", "h", NONE), _O("jobs", "j", OPTIONAL), _O("long", "l", NONE), _O("norm", "n", NONE),
    _O("format", "o", REQUIRED), _O("sort", "S", REQUIRED), _O("partition", "p", REQUIRED),
    _O("user", "u", REQUIRED, "users"), _O("users", "", REQUIRED), _O("verbose", "v", NONE),
    _O("version", "V", NONE), _O("weights", "w", NONE), _O("federation", "", NONE), _O("help", "", NONE),
    _O("local", "", NONE), _O("usage", "", NONE),
])

USAGE = ("Usage: sprio [-j jid[s]] [-u user_name[s]] [-o format] [-p partitions]\n"
         "   [--federation] [--local] [--usage] [-hlnvVw]\n")
HELP = """\
Usage: sprio [OPTIONS]
      --federation                display jobs in federation if a member of one
  -h, --noheader                  no headers on output
  -j, --jobs                      comma separated list of jobs
                                  to view, default is all
      --local                     display jobs on local cluster only
  -l, --long                      long report
  -n, --norm                      display normalized values
  -o, --format=format             format specification
  -p, --partition=partition_name  comma separated list of partitions
  -u, --user=user_name            comma separated list of users to view
  -v, --verbose                   verbosity level
  -V, --version                   output version information and exit
  -w, --weights                   show the weights for each priority factor

Help options:
  --help                          show this help message
  --usage                         display a brief summary of sprio options
"""


class Row:
    """One printed line's data: a pending job (jem.model.jobpriority.JobPriority) and its priority."""

    __slots__ = ("job", "priority")

    def __init__(self, job, weights: dict[str, float]):
        self.job = job
        self.priority = job_priority(job, weights)


def job_priority(job, weights: dict[str, float]) -> int:
    """The job's priority from its factors, as JEM's cycle computes it: the weighted factors' sum
    rounded down, less nice, at least 1 (Slurm's get_priority_from_factors; its site factor is 0 in
    JEM). With every weight 0 JEM ranks by its basic priority, which the job carries.

    >>> from types import SimpleNamespace as J
    >>> job_priority(J(weighted={"fairshare": 2500.0, "job_size": 13.28, "partition": 200.0}, nice=0,
    ...                priority=1), {"fairshare": 10000.0})
    2713
    """
    if not any(weights.values()):
        return job.priority
    total = 0.0
    for name in SUM_ORDER:
        total += job.weighted.get(name, 0.0)
    return max(math.floor(total) - job.nice, 1)


# ---------------------------------------------------------------- cells (src/sprio/print.c)

def _whole(number: float) -> str:
    """print.c's _print_int: `%.0f` (to the nearest, halves to even as glibc does)."""
    return "%.0f" % number


def _null(width: int, is_right: bool) -> str:
    """What glibc prints for a NULL string: "(null)", or nothing under a precision below 6
    (a left-justified field narrower than 6)."""
    return "" if width and not is_right and width < 6 else "(null)"


def _weighted(name: str):
    return lambda row, weights: _whole(row.job.weighted.get(name, 0.0))


def _normalized(name: str):
    def value(row, weights):
        weight = weights.get(name, 0.0)
        return "%.7f" % (row.job.weighted.get(name, 0.0) / weight if weight else 0.0)
    return value


def _weight(name: str):
    return lambda weights, width, is_right: _whole(weights.get(name, 0.0))


def _blank(weights, width, is_right) -> str:
    return ""


# letter -> (header, value of a job row (row, weights), value of the Weights row (weights, width, right))
FIELDS = {
    "a": ("AGE", _normalized("age"), _weight("age")),
    "A": ("AGE", _weighted("age"), _weight("age")),
    "b": ("ASSOC", _normalized("assoc"), _weight("assoc")),
    "B": ("ASSOC", _weighted("assoc"), _weight("assoc")),
    "c": ("CLUSTER", lambda row, weights: None, _blank),
    "f": ("FAIRSHARE", _normalized("fairshare"), _weight("fairshare")),
    "F": ("FAIRSHARE", _weighted("fairshare"), _weight("fairshare")),
    "i": ("JOBID", lambda row, weights: str(row.job.job_id), lambda w, width, r: "Weights"),
    "j": ("JOBSIZE", _normalized("job_size"), _weight("job_size")),
    "J": ("JOBSIZE", _weighted("job_size"), _weight("job_size")),
    "N": ("NICE", lambda row, weights: _whole(row.job.nice), _blank),
    "p": ("PARTITION", _normalized("partition"), _weight("partition")),
    "P": ("PARTITION", _weighted("partition"), _weight("partition")),
    "q": ("QOS", _normalized("qos"), _weight("qos")),
    "Q": ("QOS", _weighted("qos"), _weight("qos")),
    "r": ("PARTITION", lambda row, weights: row.job.partition, _blank),
    "S": ("SITE", lambda row, weights: "0", lambda w, width, r: "1"),
    "t": ("TRES", lambda row, weights: "", _blank),
    "T": ("TRES", lambda row, weights: "", lambda w, width, r: _null(width, r)),   # (no PriorityWeightTRES: NULL)
    "u": ("USER", lambda row, weights: row.job.user, _blank),
    "y": ("PRIORITY", lambda row, weights: "%16.14f" % (row.priority / PRIORITY_SCALE), _blank),
    "Y": ("PRIORITY", lambda row, weights: str(row.priority), _blank),
}


class Column:
    """One `%[.][width]X` of a format and the literal text after it (print.c's job_format_t)."""

    __slots__ = ("letter", "width", "is_right", "suffix")

    def __init__(self, letter: str, width: int, is_right: bool, suffix: str):
        self.letter, self.width, self.is_right, self.suffix = letter, width, is_right, suffix

    def cell(self, text: str | None) -> str:
        if text is None:
            text = _null(self.width, self.is_right)
        return layout.cell(text, self.width, is_right=self.is_right) + self.suffix


def parse_format(text: str) -> list[Column | str]:
    """sprio's parse_format: the text before the first `%` (printed as it is), then each
    `%`-separated token as `[.][width]letter` and the literal text that follows it. A token with
    an unknown letter is reported on stderr and left out, with its text; `%%` separates nothing.

    >>> [c if isinstance(c, str) else (c.letter, c.width, c.is_right, c.suffix)
    ...  for c in parse_format("id=%.15i|%u")]
    ['id=', ('i', 15, True, '|'), ('u', 0, False, '')]
    """
    prefix, percent, rest = text.partition("%")
    parts: list[Column | str] = [prefix] if prefix or not percent else []
    for token in (t for t in rest.split("%") if t):
        is_right = token.startswith(".")
        pos = int(is_right)
        start = pos
        while pos < len(token) and token[pos] in "0123456789":
            pos += 1
        width = layout.field_width(token[start:pos])
        letter = token[pos:pos + 1]
        if letter not in FIELDS:
            print(f"{PROG}: error: Invalid job format specification: {letter}", file=sys.stderr)
            continue
        parts.append(Column(letter, width, is_right, token[pos + 1:]))
    return parts


def default_format(weights: dict[str, float], *, is_long: bool, is_norm: bool, with_user: bool) -> str:
    """sprio.c's format when -o is not given: every factor with -l, else those weighted."""
    if is_long:
        return NORM_LONG_FORMAT if is_norm else LONG_FORMAT
    text = "%.15i %9r" + (" %.8u" if with_user else "") + (" %10y" if is_norm else " %.10Y %.10S")
    for name, weighted, normalized in WEIGHTED_COLUMNS:
        if weights.get(name):
            text += f" %10{normalized}" if is_norm else f" %.10{weighted}"
    # (" %.20T" / " %20t" would follow for PriorityWeightTRES, which JEM does not have)
    return text


def _header(parts: list[Column | str]) -> str:
    return "".join(p if isinstance(p, str) else p.cell(FIELDS[p.letter][0]) for p in parts)


def _weights_line(parts: list[Column | str], weights: dict[str, float]) -> str:
    return "".join(p if isinstance(p, str) else p.cell(FIELDS[p.letter][2](weights, p.width, p.is_right))
                   for p in parts)


def _job_lines(parts: list[Column | str], rows: list[Row], weights: dict[str, float]) -> list[str]:
    return ["".join(p if isinstance(p, str) else p.cell(FIELDS[p.letter][1](row, weights)) for p in parts)
            for row in rows]


# ---------------------------------------------------------------- sorting (src/sprio/sort.c)

def _factor_key(name: str):
    return lambda row: row.job.weighted.get(name, 0.0)


# -S letters (weighted and normalized sort alike, by the weighted value)
_SORT_KEYS = {"c": lambda row: 0, "i": lambda row: row.job.job_id, "N": lambda row: row.job.nice,
              "r": lambda row: row.job.partition, "u": lambda row: row.job.user, "T": lambda row: 0.0,
              "Y": lambda row: row.priority, **{letter: _factor_key(name) for name, letter, _ in WEIGHTED_COLUMNS}}
_SORT_KEYS.update({letter.lower(): _SORT_KEYS[letter] for letter in "ABFJPQTY"})


def sort_rows(rows: list[Row], spec: str) -> list[Row]:
    """sort.c's sort_job_list: letters applied from the last to the first (each sort stable),
    `-` before a letter for descending; Failure on a letter it does not know."""
    for i in range(len(spec) - 1, -1, -1):
        letter = spec[i]
        if letter in ",-+":
            continue
        key = _SORT_KEYS.get(letter)
        if key is None:
            raise Failure(f"Invalid sort specification: {letter}")
        rows = sorted(rows, key=key, reverse=i > 0 and spec[i - 1] == "-")
    return rows


# ---------------------------------------------------------------- the command

def _options(argv: list[str]) -> dict:
    """The options as parse_command_line reads them: --help, --usage and -V act where they stand
    (raising _Exit with their output), then -o with -l is fatal, $SPRIO_FORMAT applies, and one
    operand is taken as -j's job list."""
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    args: dict = {"verbose": 0}
    for option, value in found:
        if option.name in ("help", "usage", "version"):
            raise _Exit({"help": HELP, "usage": USAGE, "version": VERSION + "\n"}[option.name])
        if option.name == "verbose":
            args["verbose"] += 1
        elif option.name == "jobs":
            args["job_flag"] = True
            if value is not None:
                args["jobs"] = value
                _job_ids(value)
        else:
            args[option.name] = value
    if "long" in args and "format" in args:
        raise Failure("Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.",
                      prefix="fatal: ")
    if "long" not in args and "format" not in args and os.environ.get("SPRIO_FORMAT") is not None:
        args["format"] = os.environ["SPRIO_FORMAT"]
    if operands and args.get("job_flag"):
        args["jobs"] = operands.pop(0)
        _job_ids(args["jobs"])
    if operands:
        print(f"{PROG}: error: Unrecognized option: {operands[0]}", file=sys.stderr)
        raise _Exit(USAGE, code=1)
    return args


class _Exit(Exception):
    """An option that ends the command with this text on stdout (--help, --usage, -V, a stray operand)."""

    def __init__(self, text: str, code: int = 0):
        super().__init__(text)
        self.text, self.code = text, code


def _job_ids(text: str) -> list[int]:
    ids = []
    for item in text.split(","):
        if not item:
            continue
        if not is_digits(item) or int(item) == 0 or int(item) >= 1 << 32:
            raise Failure(f"Invalid job id: {item}")
        ids.append(int(item))
    return ids


def _user_names(text: str) -> list[str]:
    """The names of -u's users (names or uids); an unknown one is reported, as Slurm's
    `error("Invalid user: %s\\n")` does (with its extra blank line), and left out."""
    import pwd

    names = []
    for item in split_list([text]):
        try:
            names.append(pwd.getpwnam(item).pw_name)
            continue
        except (KeyError, ValueError):
            pass
        try:
            names.append(pwd.getpwuid(int(item)).pw_name)
            continue
        except (KeyError, ValueError, OverflowError):
            pass
        print(f"{PROG}: error: Invalid user: {item}\n", file=sys.stderr)
    return names


def _options_text(args: dict) -> str:
    """What -v prints before the listing (opts.c's _print_options)."""
    def text(key: str) -> str:
        return "(null)" if args.get(key) is None else args[key]

    return (f"-----------------------------\nformat     = {text('format')}\n"
            f"job_flag   = {int(bool(args.get('job_flag')))}\njobs       = {text('jobs')}\n"
            f"partition  = {text('partition')}\nusers      = {text('users')}\nverbose    = {args['verbose']}\n"
            "-----------------------------\n\n\n")


def _sprio(argv: list[str]) -> int:
    try:
        args = _options(argv)
    except _Exit as done:
        _write(done.text)
        return done.code
    job_ids = _job_ids(args["jobs"]) if "jobs" in args else []
    users = _user_names(args["users"]) if "users" in args else []
    if args["verbose"]:
        _write(_options_text(args))
    with connect() as client:
        weights, jobs = client.list_priorities(job_ids=job_ids, users=users,
                                               partitions=split_list([args.get("partition", "")]))
    if "users" in args and not users:
        jobs = []   # (only unknown users: Slurm asks for none of them, so for no job)
    rows = [Row(j, weights) for j in jobs if j.priority != 0]   # (0: held, never listed)
    text = args.get("format")
    if text is None:
        text = default_format(weights, is_long="long" in args, is_norm="norm" in args, with_user="users" in args)
    parts = parse_format(text)
    if "jobs" in args and not rows:
        _write("Unable to find jobs matching user/id(s) specified\n")
        return 0
    out = [] if "noheader" in args else [_header(parts)]
    if "weights" in args:
        out.append(_weights_line(parts, weights))
    elif rows:
        try:
            rows = sort_rows(rows, args.get("sort", "i"))
        except Failure:
            _write("".join(line + "\n" for line in out))
            raise
        out.extend(_job_lines(parts, rows, weights))
    _write("".join(line + "\n" for line in out))
    return 0


def _write(text: str) -> None:
    """Write to stdout as the C command would: text from argv (-o's literals) that is not UTF-8
    goes out as the bytes it came in as."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        return
    sys.stdout.flush()
    buffer.write(text.encode("utf-8", "surrogateescape"))
    buffer.flush()


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sprio, argv)


if __name__ == "__main__":
    sys.exit(main())
