"""srun: run a command as a job step, inside the caller's job (found from
$SLURM_JOB_ID alone) or in a job made for it, with its tasks' output on srun's
own stdout and stderr and their highest exit code as srun's.

Outside a job, srun submits one (sbatch's resource options; its batch script only
holds the allocation), says `srun: job N queued and waiting for resources` and
`srun: job N has been allocated resources` only when it had to wait, runs the
command as the job's step 0 and the job ends with the step. A signal to srun
(SIGINT, SIGTERM, SIGHUP) kills the step (Slurm's first Ctrl-C only reports status).
"""

import dataclasses
import os
import signal
import sys

from jem_slurm import sbatch_options
from jem_slurm.command import SLURM_VERSION, Failure, Interrupted, connect, is_digits, raise_interrupted, run
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable
from jem_slurm.srun_io import PtyInput, relay_step

PROG = "srun"
WAIT_QUIET_S = 0.5        # an allocation granted within this needs no "queued" message
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
])
# Accepted and without effect here (MPI plugins, binding, and the like).
_IGNORED = {"mpi", "overlap", "exclusive", "cpu_bind", "kill_on_bad_exit", "wait", "verbose", "quiet",
            "distribution", "propagate", "input"}
USAGE = """Usage: srun [OPTIONS(0)...] executable(0) [args(0)...]

JEM's srun takes: -n -N -c --ntasks-per-node -o -e -u -l -J --export -D --jobid --pty
and, outside a job, sbatch's resource options (-p -t --mem --mem-per-cpu -A -G --gres).
Accepted without effect: --mpi --overlap --exclusive --cpu-bind -K -W -m -v -Q -i.
"""


def _settings(found) -> dict:
    settings: dict = {}
    for option, value in found:
        if option.name in _IGNORED:
            continue
        if option.name in ("unbuffered", "label", "jobid", "export", "output", "error", "job_name", "chdir",
                           "partition", "account", "qos", "pty"):
            settings[option.name] = True if option.arg == NONE else value
        else:
            settings[option.name] = sbatch_options.check_value(sbatch_options.OPTIONS.by_long(option.long), value)
    return settings


def _step_spec(settings: dict, argv: list[str], *, inside: bool, ends_job: bool):
    from jem.model.step import StepSpec

    n_tasks = settings.get("ntasks", 0)
    if inside and not n_tasks and "nodes" not in settings and is_digits(os.environ.get("SLURM_NTASKS", "")):
        n_tasks = int(os.environ["SLURM_NTASKS"])   # srun's input variable, set by sbatch -n
    job_nodes = os.environ.get("SLURM_JOB_NUM_NODES", "")
    if inside and n_tasks and "nodes" not in settings and is_digits(job_nodes) and n_tasks < int(job_nodes):
        print(f"{PROG}: Warning: can't run {n_tasks} processes on {job_nodes} nodes, setting nnodes to {n_tasks}",
              file=sys.stderr)
    return StepSpec(
        argv=tuple(argv), n_tasks=n_tasks, n_nodes=settings.get("nodes", 0),
        cpus_per_task=settings.get("cpus_per_task", 0), n_tasks_per_node=settings.get("ntasks_per_node", 0),
        name=settings.get("job_name", ""), stdout_pattern=settings.get("output", ""),
        stderr_pattern=settings.get("error", ""),
        environment=sbatch_options.export_environment(settings.get("export", "ALL"), dict(os.environ)),
        working_dir=os.path.abspath(settings.get("chdir") or os.getcwd()), ends_job=ends_job,
    )


def _has_terminal() -> bool:
    """Whether srun's stdin is a terminal, as --pty needs (else Slurm's words, and no pty)."""
    if os.isatty(0):
        return True
    print(f"{PROG}: error: ioctl(TIOCGWINSZ): Inappropriate ioctl for device\n"
          f"{PROG}: error: Not using a pseudo-terminal, disregarding --pty option", file=sys.stderr)
    return False


def _allocate(client, settings: dict, argv: list[str]) -> int:
    """Submit the job that holds the step's allocation and wait until it runs."""
    from jem.model.errors import JemError
    from jem.model.states import JobState
    from jem.model.step import ALLOCATION_SCRIPT
    from jem_slurm.sbatch import build_spec

    spec = build_spec(settings | {"output": "/dev/null", "error": "/dev/null"}, ALLOCATION_SCRIPT,
                      os.path.basename(argv[0]), [], dict(os.environ))
    try:
        job_id = client.submit(spec)
    except JemError as exc:
        raise Failure(f"Unable to allocate resources: {exc.message if exc.reason != 'InvalidJobSpec' else exc}")
    said: list[str] = []

    def on_waiting() -> None:
        print(f"{PROG}: job {job_id} queued and waiting for resources", file=sys.stderr, flush=True)
        said.append("queued")

    try:
        job = client.wait_until_running(job_id, on_waiting=on_waiting, quiet_s=WAIT_QUIET_S)
    except Interrupted:
        client.cancel(job_id)
        raise Failure(f"Job allocation {job_id} has been revoked.", prefix="") from None
    if job.state is not JobState.RUNNING:
        raise Failure(f"Job allocation {job_id} has been revoked.", prefix="")
    if said:
        print(f"{PROG}: job {job_id} has been allocated resources", file=sys.stderr, flush=True)
    return job_id


def _srun(argv: list[str]) -> int:
    from jem.model.errors import JemError

    found, operands = OPTIONS.parse(argv, stop_at_operand=True)
    names = {option.name for option, _ in found}
    if "help" in names or "usage" in names:
        print(USAGE, end="")
        return 0
    if "version" in names:
        print(SLURM_VERSION)
        return 0
    settings = _settings(found)
    if not operands:
        raise Failure("No command given to execute.", prefix="fatal: ")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_interrupted)
    job_text = settings.get("jobid") or os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOBID", "")
    inside = bool(job_text)
    with connect() as client:
        job_id = int(job_text.split(".")[0]) if inside else _allocate(client, settings, operands)
        spec = _step_spec(settings, operands, inside=inside, ends_job=not inside)
        pty = PtyInput() if "pty" in settings and _has_terminal() else None
        if pty is not None:   # task 0 on a terminal of its own; its output as it comes, unlabelled
            spec = dataclasses.replace(spec, environment=spec.environment | pty.environment())
            settings = settings | {"unbuffered": True}
            settings.pop("label", None)
        events, seen = client.run_step(job_id, spec), {}
        try:
            if pty is not None:
                pty.start()
            step, code = relay_step(events, label="label" in settings, unbuffered="unbuffered" in settings, seen=seen)
        except JemError as exc:
            if exc.reason in ("StepTooLarge", "JobNotFound", "AlreadyDone", "JobStateConflict", "NotJobOwner"):
                raise Failure(f"Unable to create step for job {job_id}: {exc.message}") from None
            raise
        except Interrupted as interrupt:
            events.close()
            step_id = seen["step"].step_id if "step" in seen else "?"
            print(f"{PROG}: Force Terminated StepId={job_id}.{step_id}", file=sys.stderr)
            return 128 + interrupt.signum
        finally:
            if pty is not None:
                pty.restore()
    return code


def main(argv: list[str] | None = None) -> int:
    # An option getopt rejects exits 255, as Slurm 22.05's srun does (a value it rejects exits 1).
    return run(PROG, _srun, argv, usage_code=255)


if __name__ == "__main__":
    sys.exit(main())

