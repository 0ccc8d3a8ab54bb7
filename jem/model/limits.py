"""How large, how odd and how many requests may be: every string and repeated field a
user sends has a bound, checked before the controller takes any shared lock; and each
user's share of the controller (jobs queued and running, submissions per second, open
streams) has one too, enforced by jem.controller.fairuse.

A request over a bound is refused with Slurm's ESLURM_PATHNAME_TOO_LONG wording
("Pathname of a file, directory or other parameter too long"), naming the field
and the limit; a value no program could be given (a NUL byte, an environment
name with "=") is an InvalidJobSpec. Times are clamped to what the platform
holds rather than refused: a time limit past `MAX_TIME_LIMIT_S` is the same as
that, and a begin time past `MAX_EPOCH_S` never comes.

The figures are the cluster's `[limits]` section (jem.model.config); their
defaults follow Slurm (max_script_size: 4 MB) or Linux (MAX_ARG_STRLEN: one
argument or environment string, PATH_MAX: a path).
"""

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Mapping

from jem.model.errors import InvalidJobSpec, ParameterTooLong

MAX_TIME_LIMIT_S = 100 * 365 * 86400      # a time limit is at most a century (Slurm's largest is ~8,000 years)
MAX_EPOCH_S = 253402300799                 # 9999-12-31T23:59:59Z: the last second datetime and formatters hold


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The `[limits]` section: bytes are UTF-8 bytes, counts are entries."""

    max_script_size: int = 4 * 1024 * 1024      # a batch script (Slurm's max_script_size)
    max_env_size: int = 1024 * 1024             # a job's or step's environment, all NAME=value strings together
    max_env_vars: int = 4096                    # entries of one environment
    max_arg_size: int = 128 * 1024              # one argument or NAME=value (Linux's MAX_ARG_STRLEN)
    max_args: int = 4096                        # arguments of a script or a step's program
    max_path_len: int = 4096                    # a working directory or I/O path (PATH_MAX)
    max_name_len: int = 1024                    # a job or step name, account, partition, QOS, constraint, ...
    max_dependency_jobs: int = 1000             # jobs one --dependency names
    max_array_text: int = 8192                  # the --array text (the task count is max_array_size)
    max_crontab_size: int = 256 * 1024          # a user's crontab text (scrontab), in bytes
    max_crontab_entries: int = 200              # cron lines of one crontab (each is a queued job)
    # Fair use of the controller (root and operators are exempt; 0 means no limit):
    max_submit_jobs_per_user: int = 20000       # queued or running jobs (array tasks each count), Slurm's MaxSubmitJobs
    max_submit_jobs_per_account: int = 0
    max_running_jobs_per_user: int = 0          # more wait with reason AssocMaxJobsLimit (Slurm's MaxJobs)
    max_running_jobs_per_account: int = 0
    submit_rate_burst: int = 100                # submissions a user may send at once (Slurm's rl_bucket_size)
    submit_rate_per_s: int = 20                 # and then per second (rl_refill_rate); 0: no rate limit
    max_streams_per_user: int = 16              # open WatchJobs and step streams of one user

    def check(self) -> None:
        """Raise ValueError naming a field that is not a positive number (or, for those
        where 0 means "no limit", a non-negative one)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            least = 0 if f.name in _ZERO_IS_UNLIMITED else 1
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{f.name}: expected a {'non-negative' if least == 0 else 'positive'} number, "
                                 f"got {value!r}")


_ZERO_IS_UNLIMITED = {"max_submit_jobs_per_user", "max_submit_jobs_per_account", "max_running_jobs_per_user",
                      "max_running_jobs_per_account", "submit_rate_per_s"}
DEFAULT_LIMITS = InputLimits()


def check_text(field: str, value: str, max_len: int, *, unit: str = "characters") -> None:
    """`value` holds no NUL byte and is at most `max_len` long (bytes when `unit` is "bytes")."""
    size = len(value.encode("utf-8", "surrogateescape")) if unit == "bytes" else len(value)
    if size > max_len:
        raise ParameterTooLong(f"{field}: {size} {unit}, more than the cluster's limit of {max_len}")
    if "\0" in value:
        raise InvalidJobSpec(f"{field}: contains a NUL byte")


def check_args(field: str, args: Iterable[str], limits: InputLimits) -> None:
    args = tuple(args)
    if len(args) > limits.max_args:
        raise ParameterTooLong(f"{field}: {len(args)} arguments, more than the cluster's limit of {limits.max_args}")
    for arg in args:
        check_text(field, arg, limits.max_arg_size, unit="bytes")


def check_environment(field: str, environment: Mapping[str, str], limits: InputLimits) -> None:
    """Each NAME=value could be given to a program (no "=" or NUL in NAME, no NUL anywhere),
    and there are not more, or more bytes in all, than the limits allow."""
    if len(environment) > limits.max_env_vars:
        raise ParameterTooLong(f"{field}: {len(environment)} variables, more than the cluster's limit of "
                               f"{limits.max_env_vars}")
    total = 0
    for name, value in environment.items():
        if not name or "=" in name:
            raise InvalidJobSpec(f"{field}: {_shown(name)!r} is not a variable name")
        check_text(f"{field} {_shown(name)!r}", f"{name}={value}", limits.max_arg_size, unit="bytes")
        total += len(name) + len(value) + 2
    if total > limits.max_env_size:
        raise ParameterTooLong(f"{field}: {total} bytes, more than the cluster's limit of {limits.max_env_size}")


def clamp_epoch(value: float | None) -> float | None:
    """A point in time as the platform holds it: never before 1970, never after `MAX_EPOCH_S`."""
    return None if value is None else min(max(value, 0.0), float(MAX_EPOCH_S))


def clamp_time_limit(value: int | None) -> int | None:
    return None if value is None else min(value, MAX_TIME_LIMIT_S)


def _shown(text: str, width: int = 40) -> str:
    """The start of a user's text, for a message (never the whole of a huge one)."""
    return text if len(text) <= width else text[:width] + "..."


def check_filter_size(job_filter, limits: InputLimits) -> None:
    """A listing's filter (jem.model.jobfilter.JobFilter) within the same bounds as a job's fields."""
    for name in ("users", "partitions", "names", "accounts", "qos", "nodes", "job_ids", "array_tasks", "states"):
        values = getattr(job_filter, name)
        if len(values) > limits.max_args:
            raise ParameterTooLong(f"{name}: {len(values)} values, more than the cluster's limit of {limits.max_args}")
        if name not in ("job_ids", "array_tasks", "states"):
            for value in values:
                check_text(name, value, limits.max_name_len)
