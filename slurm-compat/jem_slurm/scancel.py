"""scancel: cancel or signal JEM jobs chosen by id or by filters (-u -t -n -p -A -w --me), as Slurm 22.05 does.

Like Slurm, cancelling a job that is unknown or already ended is not an error
(it is reported only with -v); any other failure, and every failure of a signal
(-s), is reported as `scancel: error: Kill job error on job id N: <why>` and
makes the exit status 1.
"""

import signal
import sys

from jem_slurm import jobview
from jem_slurm.command import SLURM_VERSION, Failure, connect, current_user, is_digits, node_names, run, split_list
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable

PROG = "scancel"
_O = Option
OPTIONS = OptionTable([
    _O("account", "A", REQUIRED), _O("batch", "b", NONE), _O("full", "f", NONE), _O("hurry", "H", NONE),
    _O("interactive", "i", NONE), _O("name", "n", REQUIRED, "name"), _O("jobname", "", REQUIRED, "name"),
    _O("partition", "p", REQUIRED), _O("quiet", "Q", NONE), _O("qos", "q", REQUIRED),
    _O("signal", "s", REQUIRED), _O("state", "t", REQUIRED), _O("user", "u", REQUIRED), _O("me", "", NONE),
    _O("nodelist", "w", REQUIRED), _O("verbose", "v", NONE), _O("help", "", NONE), _O("usage", "", NONE),
    _O("version", "V", NONE), _O("wckey", "", REQUIRED), _O("reservation", "R", REQUIRED),
])
_QUIET_WHEN_CANCELLING = {"JobNotFound", "AlreadyDone"}


def signal_number(text: str) -> int:
    """A signal from its number or name (KILL, SIGKILL, usr1)."""
    if is_digits(text) and 0 < int(text) < 65:
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise Failure(f"Unknown job signal: {text}", prefix=None) from None


def _job_ids(operands: list[str]) -> list[tuple[int, tuple[int, ...]]]:
    """(job id, array task ids) per operand: `12`, `12_3`, `12_[1-3]`."""
    from jem.model.arrays import parse_job_label

    ids = []
    for text in operands:
        try:
            ids.append(parse_job_label(text))
        except ValueError:
            raise Failure(f"Invalid job id {text}") from None
    return ids


def _states(values: list[str]):
    from jem.model.states import JobState

    allowed = {"PENDING": JobState.PENDING, "PD": JobState.PENDING, "RUNNING": JobState.RUNNING,
               "R": JobState.RUNNING, "SUSPENDED": JobState.SUSPENDED, "S": JobState.SUSPENDED}
    states = []
    for name in split_list(values):
        if name.upper() not in allowed:
            raise Failure(f"Invalid job state specified: {name}",
                          "Valid job states are PENDING, RUNNING, and SUSPENDED", prefix=None)
        states.append(allowed[name.upper()])
    return states


def _users(values: list[str]) -> list[str]:
    import pwd

    users = []
    for name in split_list(values):
        try:
            users.append(pwd.getpwuid(int(name)).pw_name if is_digits(name) else pwd.getpwnam(name).pw_name)
        except KeyError:
            raise Failure(f"Invalid user name: {name}") from None
    return users


def _scancel(argv: list[str]) -> int:
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    args: dict = {}
    for option, value in found:
        if option.arg == REQUIRED and option.name != "signal":
            args.setdefault(option.name, []).append(value)
        else:
            args[option.name] = value
    if "help" in args or "usage" in args:
        print("Usage: scancel [-A account] [--batch] [--interactive] [-n job_name] [-p partition] [-Q] [-q qos]\n"
              "               [-s signal | integer] [-t PENDING | RUNNING | SUSPENDED] [--me] [-u user_name]\n"
              "               [-w hosts...] [job_id[.step_id]]")
        return 0
    if "version" in args:
        print(SLURM_VERSION)
        return 0
    job_ids = _job_ids(operands)
    signum = signal_number(args["signal"]) if "signal" in args else 0
    if signum == signal.SIGKILL:
        signum = 0  # -s KILL is a cancel
    states = _states(args.get("state", []))
    users = _users(args.get("user", [])) + ([current_user()] if "me" in args else [])
    filters = [k for k in ("account", "name", "partition", "state", "user", "me", "nodelist", "qos", "wckey")
               if k in args]
    if not job_ids and not filters:
        raise Failure("No job identification provided")
    is_verbose, is_quiet = "verbose" in args, "quiet" in args
    from jem.model.execution import SignalScope

    # A signal reaches the job's steps (every process but the batch shell); -b the batch shell
    # alone, -f everything (scancel(1)).
    scope = SignalScope.BATCH if "batch" in args else SignalScope.FULL if "full" in args else SignalScope.STEPS
    status = 0
    with connect() as client:
        if filters:
            from jem.model.states import JobState

            nodes = node_names(args["nodelist"]) if "nodelist" in args else ()
            job_filter = jobview.job_filter(
                users=users, job_ids=[i for i, _ in job_ids], partitions=split_list(args.get("partition", [])),
                states=states or [JobState.PENDING, JobState.RUNNING, JobState.SUSPENDED],
                accounts=split_list(args.get("account", [])), names=split_list(args.get("name", [])),
                qos=split_list(args.get("qos", [])), nodes=nodes)
            job_ids = [(j.job_id, ()) for j in client.list_jobs(job_filter)]
        from jem.model.arrays import format_job_label
        from jem.model.errors import JemError

        for job_id, task_ids in job_ids:
            label = format_job_label(job_id, task_ids)
            if is_verbose:
                print(f"{PROG}: {'Terminating' if not signum else 'Signal ' + str(signum) + ' to'} job {label}",
                      file=sys.stderr)
            try:
                if "interactive" in args and not _confirmed(client, job_id):
                    continue
                client.cancel(job_id, signal=signum, array_task_ids=task_ids, scope=scope)
            except JemError as exc:
                if exc.reason == "ControllerUnreachable":
                    raise
                is_ignored = not signum and exc.reason in _QUIET_WHEN_CANCELLING
                if (is_verbose or not is_ignored) and not is_quiet:
                    print(f"{PROG}: error: Kill job error on job id {label}: {exc.message}", file=sys.stderr)
                if not is_ignored:
                    status = 1
    return status


def _confirmed(client, job_id: int) -> bool:
    """scancel -i: ask on stdout, read the answer from stdin (y or yes)."""
    job = client.get_job(job_id)
    print(f"Cancel job_id={job.label} name={job.spec.name} partition={job.spec.partition} [y/n]? ", end="",
          flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _scancel, argv)


if __name__ == "__main__":
    sys.exit(main())
