"""srun: run a command as a job step, inside the caller's job (found from
$SLURM_JOB_ID alone) or in a job made for it, with its tasks' output on srun's
own stdout and stderr (or where -o/-e say) and their highest exit code as srun's.

Outside a job, srun submits one (sbatch's resource options; its batch script only
holds the allocation), says `srun: job N queued and waiting for resources` and
`srun: job N has been allocated resources` only when it had to wait, runs the
command as the job's step 0 and the job ends with the step; `-I[S]` gives up after S
seconds (`Unable to allocate resources: Requested nodes are busy`). A signal to srun
(SIGINT, SIGTERM, SIGHUP) kills the step (Slurm's first Ctrl-C only reports status).

Options come from srun's input variables first (SLURM_NTASKS, SLURM_OVERCOMMIT, ...:
`ENV_OPTIONS`), then the command line. The step itself is built in `srun_step.py`.
"""

import os
import signal
import sys
import time

from jem.model import units
from jem_slurm import sbatch_options
from jem_slurm.command import SLURM_VERSION, Failure, Interrupted, connect, is_digits, raise_interrupted, run
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable

PROG = "srun"
WAIT_QUIET_S = 0.5        # an allocation granted within this needs no "queued" message
POLL_S = 0.1              # how often srun looks at the job it waits for
_O = Option
OPTIONS = OptionTable([
    _O("ntasks", "n", REQUIRED), _O("nodes", "N", REQUIRED), _O("cpus-per-task", "c", REQUIRED),
    _O("ntasks-per-node", "", REQUIRED), _O("output", "o", REQUIRED), _O("error", "e", REQUIRED),
    _O("input", "i", REQUIRED), _O("unbuffered", "u", NONE), _O("label", "l", NONE), _O("job-name", "J", REQUIRED),
    _O("export", "", REQUIRED), _O("mpi", "", REQUIRED), _O("partition", "p", REQUIRED), _O("time", "t", REQUIRED),
    _O("mem", "", REQUIRED), _O("mem-per-cpu", "", REQUIRED), _O("account", "A", REQUIRED), _O("qos", "q", REQUIRED),
    _O("chdir", "D", REQUIRED), _O("gpus", "G", REQUIRED), _O("gres", "", REQUIRED), _O("gpus-per-node", "", REQUIRED),
    _O("jobid", "", REQUIRED), _O("overlap", "", NONE), _O("exclusive", "", OPTIONAL), _O("cpu-bind", "", REQUIRED),
    _O("kill-on-bad-exit", "K", OPTIONAL), _O("wait", "W", REQUIRED), _O("verbose", "v", NONE),
    _O("quiet", "Q", NONE), _O("distribution", "m", REQUIRED), _O("propagate", "", OPTIONAL),
    _O("pty", "", NONE), _O("help", "h", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
    _O("overcommit", "O", NONE), _O("mincpus", "", REQUIRED), _O("tmp", "", REQUIRED),
    _O("immediate", "I", OPTIONAL), _O("multi-prog", "", NONE), _O("task-prolog", "", REQUIRED),
    _O("task-epilog", "", REQUIRED), _O("open-mode", "", REQUIRED),
])
# Accepted and without effect here (MPI plugins, binding, and the like).
_IGNORED = {"mpi", "overlap", "exclusive", "cpu_bind", "distribution"}
# Kept as given (or True for a flag); the rest are checked as sbatch checks them.
_AS_GIVEN = {"unbuffered", "label", "jobid", "export", "output", "error", "input", "job_name", "chdir", "partition",
             "account", "qos", "pty", "propagate", "overcommit", "multi_prog", "task_prolog", "task_epilog",
             "verbose", "quiet"}
# Applies to the allocation only: refused outside a job, ignored (once checked) inside one, as Slurm ignores it.
_ALLOCATION_ONLY = {"mincpus": "JEM's jobs have no per-node CPU minimum beyond their tasks' CPUs",
                    "tmp": "JEM's nodes do not track temporary disk space"}
# srun's input variables (man srun, INPUT ENVIRONMENT VARIABLES) -> the option each stands for,
# read before the command line; SLURM_NTASKS wins over SLURM_NPROCS.
ENV_OPTIONS = {
    "SLURM_NPROCS": "ntasks", "SLURM_NTASKS": "ntasks", "SLURM_NTASKS_PER_NODE": "ntasks-per-node",
    "SRUN_CPUS_PER_TASK": "cpus-per-task", "SLURM_OVERCOMMIT": "overcommit", "SLURM_WAIT": "wait",
    "SLURM_KILL_BAD_EXIT": "kill-on-bad-exit", "SLURM_LABELIO": "label", "SLURM_UNBUFFEREDIO": "unbuffered",
    "SLURM_STDINMODE": "input", "SLURM_STDOUTMODE": "output", "SLURM_STDERRMODE": "error",
    "SLURM_TASK_PROLOG": "task-prolog", "SLURM_TASK_EPILOG": "task-epilog", "SLURM_OPEN_MODE": "open-mode",
    "SLURM_IMMEDIATE": "immediate", "SLURM_EXPORT_ENV": "export", "SLURM_WORKING_DIR": "chdir",
}
# Read outside a job only (inside one they are the job's, not the step's).
OUTSIDE_ENV_OPTIONS = {"SLURM_JOB_NAME": "job-name", "SLURM_PARTITION": "partition", "SLURM_ACCOUNT": "account",
                       "SLURM_QOS": "qos", "SLURM_TIMELIMIT": "time"}
USAGE = """Usage: srun [OPTIONS(0)...] executable(0) [args(0)...]

JEM's srun takes: -n -N -c --ntasks-per-node -o -e -i -u -l -J --export -D --jobid --pty
-O --multi-prog --task-prolog --task-epilog -W -K --open-mode --propagate -I -v -Q
and, outside a job, sbatch's resource options (-p -t --mem --mem-per-cpu -A -G --gres).
Accepted without effect: --mpi --overlap --exclusive --cpu-bind -m; inside a job --mincpus --tmp.
"""


def _number(text: str | None, what: str, *, minimum: int) -> int:
    """A whole number for `what`, or Failure with Slurm's words (exit 1)."""
    if text is not None and is_digits(text.strip()) and int(text) >= minimum:
        return int(text)
    raise Failure(f'Invalid numeric value "{text}" for {what}.')


def _value(option: Option, value: str | None):
    """The checked value of one of srun's own settings (the rest: sbatch's checks)."""
    name = option.name
    if name == "wait":
        return _number(value, "--wait", minimum=0)
    if name == "kill_on_bad_exit":
        return value is None or not is_digits(value.strip()) or int(value) != 0
    if name == "immediate":
        return max(_number(value, "immediate", minimum=0), 1) if value is not None else 1
    if name == "mincpus":
        return _number(value, "--mincpus", minimum=1)
    if name == "tmp":
        try:
            return units.parse_mem_mib(value)
        except ValueError:
            raise Failure("Invalid --tmp specification", code=sbatch_options.PARSE_ERROR) from None
    if name in _AS_GIVEN:
        return True if option.arg == NONE else value
    return sbatch_options.check_value(sbatch_options.OPTIONS.by_long(option.long), value)


def _env_found(*, inside: bool) -> list[tuple[Option, str | None]]:
    """The settings srun's input variables make (see ENV_OPTIONS); a flag's variable set to 0
    or "no" is unset."""
    found = []
    table = ENV_OPTIONS | ({} if inside else OUTSIDE_ENV_OPTIONS)
    for var, long in table.items():
        value = os.environ.get(var)
        if value is None:
            continue
        option = OPTIONS.by_long(long)
        if option.arg == NONE and value.strip().lower() in ("", "0", "no"):
            continue
        found.append((option, None if option.arg == NONE else value))
    return found


def _settings(found) -> dict:
    settings: dict = {}
    for option, value in found:
        if option.name not in _IGNORED:
            settings[option.name] = _value(option, value)
    if settings.get("kill_on_bad_exit") is False:   # (-K0)
        del settings["kill_on_bad_exit"]
    return settings


def _env_n_tasks() -> int:
    """-n from SLURM_NTASKS (else SLURM_NPROCS), 0 for none."""
    for var in ("SLURM_NTASKS", "SLURM_NPROCS"):
        if is_digits(os.environ.get(var, "")):
            return int(os.environ[var])
    return 0


def _allocate(client, settings: dict, argv: list[str]):
    """Submit the job that holds the step's allocation and wait until it runs; returns the job."""
    from jem.model.errors import JemError
    from jem.model.job import ALLOCATION_SCRIPT
    from jem_slurm.sbatch import build_spec

    # (-o, -e and -i are the step's: the allocation's script reads and writes nothing)
    spec = build_spec(settings | {"output": "/dev/null", "error": "/dev/null", "input": ""}, ALLOCATION_SCRIPT,
                      os.path.basename(argv[0]), [], dict(os.environ))
    try:
        job_id = client.submit(spec)
    except JemError as exc:
        raise Failure(f"Unable to allocate resources: {exc.message if exc.reason != 'InvalidJobSpec' else exc}")
    try:
        return _wait_for_grant(client, job_id, settings.get("immediate"), is_quiet="quiet" in settings)
    except Interrupted:
        client.cancel(job_id)
        raise Failure(f"Job allocation {job_id} has been revoked.", prefix="") from None


def _wait_for_grant(client, job_id: int, immediate_s: int | None, *, is_quiet: bool):
    """The job once it runs; Slurm's lines when it had to wait (not with -Q), Failure when it
    never will or -I's time ran out (exit $SLURM_EXIT_IMMEDIATE, else 1)."""
    from jem.model.states import JobState

    t_start, has_waited = time.monotonic(), False
    while True:
        job = client.get_job(job_id)
        if job.state is JobState.RUNNING:
            if has_waited and not is_quiet:
                print(f"{PROG}: job {job_id} has been allocated resources", file=sys.stderr, flush=True)
            return job
        if job.state is not JobState.PENDING:
            raise Failure(f"Job allocation {job_id} has been revoked.", prefix="")
        waited_s = time.monotonic() - t_start
        if immediate_s is not None and waited_s >= immediate_s:
            client.cancel(job_id)
            code = os.environ.get("SLURM_EXIT_IMMEDIATE", "")
            raise Failure("Unable to allocate resources: Requested nodes are busy",
                          code=int(code) if is_digits(code) else 1)
        if not has_waited and waited_s >= WAIT_QUIET_S and (immediate_s is None or immediate_s > 1):
            if not is_quiet:
                print(f"{PROG}: job {job_id} queued and waiting for resources", file=sys.stderr, flush=True)
            has_waited = True
        time.sleep(POLL_S)


def _give_up(client, job_id: int) -> None:
    """Cancel the allocation srun made when its step failed to run (a step that never ran ends
    nothing; one that did has ended it already, and the cancel changes nothing)."""
    from jem.model.errors import JemError

    try:
        client.cancel(job_id)
    except JemError:
        pass


def _srun(argv: list[str]) -> int:
    from jem_slurm.srun_step import program, run_step

    found, operands = OPTIONS.parse(argv, stop_at_operand=True)
    names = {option.name for option, _ in found}
    if "help" in names or "usage" in names:
        print(USAGE, end="")
        return 0
    if "version" in names:
        print(SLURM_VERSION)
        return 0
    job_text = next((v for o, v in found if o.name == "jobid"), None) or os.environ.get("SLURM_JOB_ID") or \
        os.environ.get("SLURM_JOBID", "")
    inside = bool(job_text)
    settings = _settings(_env_found(inside=inside) + found)
    if not operands:
        raise Failure("No command given to execute.", prefix="fatal: ")
    for name, why in _ALLOCATION_ONLY.items():
        if name in settings and not inside:
            raise Failure(f"--{name} is not supported by JEM: {why}")
    prog = program(settings, operands, inside=inside, n_tasks_from_env=_env_n_tasks())
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_interrupted)
    with connect() as client:
        if inside:
            return run_step(client, int(job_text.split(".")[0]), settings, prog, job=None)
        job = _allocate(client, settings, operands)
        try:
            return run_step(client, job.job_id, settings, prog, job=job)
        except BaseException:
            _give_up(client, job.job_id)
            raise


def main(argv: list[str] | None = None) -> int:
    # An option getopt rejects exits 255, as Slurm 22.05's srun does (a value it rejects exits 1).
    return run(PROG, _srun, argv, usage_code=255)


if __name__ == "__main__":
    sys.exit(main())
