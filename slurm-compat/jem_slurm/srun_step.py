"""srun's step: the StepSpec it sends (tasks, program or --multi-prog configuration, where
output and input go, prolog and epilog, overcommit, environment), the listeners its tasks'
input goes through (`srun_input.py`), and the stream it relays (`srun_io.py`).

The program is looked up as Slurm's srun looks it up (man srun, EXECUTABLE PATH RESOLUTION):
a bare name on $PATH, else in the working directory, and the task's argv[0] becomes that path;
a name found nowhere is sent as it is, and its tasks fail as Slurm's do (`execve(): NAME: No such
file or directory`, exit 2). With --multi-prog the first operand is the configuration file,
checked here against the step's task count (Slurm's lines when it does not fit); the other
operands follow each task's own arguments.
"""

import os
import pwd
import shutil
import stat
import sys
from dataclasses import dataclass

from jem_slurm.command import Failure, Interrupted, is_digits
from jem_slurm.srun_env import allocation_variables, step_environment
from jem_slurm.srun_input import PtyInput, StdinRelay, comm_host
from jem_slurm.srun_io import IoKind, IoTarget, StepWatch, io_target, open_sinks, relay_step

PROG = "srun"
_STEP_REFUSALS = ("StepTooLarge", "JobNotFound", "AlreadyDone", "JobStateConflict", "NotJobOwner", "InvalidArgument")


def resolve_program(name: str, working_dir: str) -> str:
    """`name` as Slurm's srun resolves it (see the module doc)."""
    if "/" in name:
        return name
    found = shutil.which(name, path=os.environ.get("PATH", os.defpath))
    if found:
        return os.path.abspath(found)
    here = os.path.join(working_dir, name)
    return here if os.path.isfile(here) and os.access(here, os.X_OK) else name


def default_n_tasks(settings: dict, *, inside: bool, n_tasks_from_env: int) -> int:
    """The task count srun asks for: -n, else (inside a job without -N) SLURM_NTASKS, else 0 (the
    controller's default: one per node)."""
    if settings.get("ntasks"):
        return settings["ntasks"]
    return n_tasks_from_env if inside and "nodes" not in settings else 0


def _multi_prog(path: str, settings: dict, n_tasks: int, *, inside: bool) -> tuple[str, int]:
    """The configuration's text and the step's task count (given, or what srun's defaults make
    it); Failure with Slurm's lines when it cannot be read or does not fit."""
    from jem.model import multiprog

    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise Failure(f"Could not open multi_prog config file {path}") from None
    if not n_tasks:
        job_nodes = os.environ.get("SLURM_JOB_NUM_NODES", "")
        n_nodes = settings.get("nodes") or (int(job_nodes) if inside and is_digits(job_nodes) else 1)
        n_tasks = n_nodes * settings.get("ntasks_per_node", 1)
    try:
        multiprog.check(text, n_tasks, name=path)
    except multiprog.MultiProgError as exc:
        raise Failure(*exc.lines) from None
    return text, n_tasks


def _output_patterns(stdout: IoTarget, stderr: IoTarget | None) -> tuple[str, str]:
    """StepSpec's stdout and stderr patterns: a per-task file's pattern, /dev/null for `none`;
    else the stream comes back (STREAMED for an -e that srun handles itself)."""
    from jem.model.step import STREAMED

    def pattern(target: IoTarget, streamed: str) -> str:
        return target.value if target.kind is IoKind.NODE_FILE else os.devnull if target.kind is IoKind.NONE \
            else streamed

    return pattern(stdout, ""), "" if stderr is None else pattern(stderr, STREAMED)


def _has_terminal() -> bool:
    """Whether srun's stdin is a terminal, as --pty needs (else Slurm's words, and no pty)."""
    if os.isatty(0):
        return True
    print(f"{PROG}: error: ioctl(TIOCGWINSZ): Inappropriate ioctl for device\n"
          f"{PROG}: error: Not using a pseudo-terminal, disregarding --pty option", file=sys.stderr)
    return False


def _stdin_is_unread() -> bool:
    """Whether srun leaves its stdin alone (the tasks get /dev/null): it is /dev/null or closed, or
    it is srun's controlling terminal and srun runs in the background (a read would stop it)."""
    try:
        st = os.fstat(0)
    except OSError:
        return True
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(os.devnull).st_rdev:
        return True
    try:
        return os.isatty(0) and os.tcgetpgrp(0) != os.getpgrp()
    except OSError:   # a terminal, not srun's controlling one (under the command server): no job control
        return False


def _input(settings: dict, *, host: str, wants_pty: bool):
    """(StepSpec.input, the relay or pty srun listens with, None for neither)."""
    if wants_pty:
        return "none", (PtyInput(host) if _has_terminal() else None)
    target = io_target(settings.get("input"))
    if target.kind is IoKind.NODE_FILE:
        return target.value, None
    if target.kind is IoKind.SRUN_FILE:
        try:
            source = os.open(target.value, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise Failure(f"Could not open stdin file: {exc.strerror or exc}") from None
        return "all", StdinRelay(host, source_fd=source)
    if target.kind is IoKind.NONE or _stdin_is_unread():
        return "none", None
    return ("all" if target.kind is IoKind.ALL else target.value), StdinRelay(host)


@dataclass(frozen=True, slots=True)
class Program:
    """What the step's tasks run, read before any allocation: argv (the resolved program, or the
    --multi-prog configuration's path, then the arguments), the configuration's text, the task
    count srun asks for (0: the controller's default) and the working directory."""

    argv: tuple[str, ...]
    multi_prog: str
    n_tasks: int
    working_dir: str


def program(settings: dict, operands: list[str], *, inside: bool, n_tasks_from_env: int) -> Program:
    """The step's Program (see the module doc); Failure with Slurm's lines for a --multi-prog
    configuration that cannot be read or does not fit."""
    n_tasks = default_n_tasks(settings, inside=inside, n_tasks_from_env=n_tasks_from_env)
    job_nodes = os.environ.get("SLURM_JOB_NUM_NODES", "")
    if inside and n_tasks and "nodes" not in settings and is_digits(job_nodes) and n_tasks < int(job_nodes):
        print(f"{PROG}: Warning: can't run {n_tasks} processes on {job_nodes} nodes, setting nnodes to {n_tasks}",
              file=sys.stderr)
    working_dir = os.path.abspath(settings.get("chdir") or os.getcwd())
    multi_prog = ""
    argv = list(operands)
    if "multi_prog" in settings:
        multi_prog, n_tasks = _multi_prog(operands[0], settings, n_tasks, inside=inside)
    else:
        argv[0] = resolve_program(argv[0], working_dir)
    return Program(tuple(argv), multi_prog, n_tasks, working_dir)


def build_spec(settings: dict, prog: Program, *, ends_job: bool, environment: dict[str, str], stdin_mode: str):
    """The StepSpec srun sends (see the module doc)."""
    from jem.model.step import StepSpec

    stdout_pattern, stderr_pattern = _output_patterns(io_target(settings.get("output")),
                                                      io_target(settings["error"]) if "error" in settings else None)
    return StepSpec(
        argv=prog.argv, n_tasks=prog.n_tasks, n_nodes=settings.get("nodes", 0),
        cpus_per_task=settings.get("cpus_per_task", 0), n_tasks_per_node=settings.get("ntasks_per_node", 0),
        name=settings.get("job_name", ""), stdout_pattern=stdout_pattern, stderr_pattern=stderr_pattern,
        environment=environment, working_dir=prog.working_dir, ends_job=ends_job, overcommit="overcommit" in settings,
        multi_prog=prog.multi_prog, task_prolog=settings.get("task_prolog", ""),
        task_epilog=settings.get("task_epilog", ""), input=stdin_mode, open_mode=_open_mode(settings),
    )


def _open_mode(settings: dict) -> str:
    mode = settings.get("open_mode", "")
    return "" if not mode else "append" if mode[0].lower() == "a" else "truncate"


def _sinks_for(settings: dict, *, job_id: int, job_name: str, open_mode: str):
    """`relay_step`'s on_step: the output's sinks once the step (and its id) is known; None when
    srun's own stdout and stderr take it all."""
    from jem.model.filenames import PatternValues, expand_pattern

    stdout = io_target(settings.get("output"))
    stderr = io_target(settings["error"]) if "error" in settings else None
    srun_side = (IoKind.TASK, IoKind.SRUN_FILE)
    if stdout.kind not in srun_side and (stderr is None or stderr.kind not in srun_side):
        return lambda step: None
    array_id, array_index = os.environ.get("SLURM_ARRAY_JOB_ID", ""), os.environ.get("SLURM_ARRAY_TASK_ID", "")

    def on_step(step):
        values = PatternValues(job_id, job_name, pwd.getpwuid(os.getuid()).pw_name, "", step=str(step.step_id),
                               array_job_id=int(array_id) if is_digits(array_id) else None,
                               array_task_id=int(array_index) if is_digits(array_index) else None)
        return open_sinks(stdout, stderr, expand=lambda p: expand_pattern(p, values), open_mode=open_mode,
                          n_tasks=step.n_tasks)

    return on_step


def run_step(client, job_id: int, settings: dict, prog: Program, *, job) -> int:
    """Run the step of `prog` in job `job_id` (`job`: the one srun made, None inside a job) and
    relay it; srun's exit code."""
    from jem.model.errors import JemError

    inside = job is None
    host = comm_host(client.address)
    stdin_mode, listener = _input(settings, host=host, wants_pty="pty" in settings)
    pty = listener if isinstance(listener, PtyInput) else None
    allocation = {} if inside else allocation_variables(job, cluster_name=client.ping().cluster_name)
    environment = step_environment(settings, comm_host=host, listen_port=listener.port if listener else None,
                                   allocation=allocation)
    spec = build_spec(settings, prog, ends_job=not inside, stdin_mode=stdin_mode,
                      environment=environment | (listener.environment() if listener else {}))
    if pty is not None:   # task 0 on a terminal of its own; its output as it comes, unlabelled
        settings = {k: v for k, v in settings.items() if k != "label"} | {"unbuffered": True}
    job_name = os.environ.get("SLURM_JOB_NAME", "") if inside else job.spec.name
    sinks_for = _sinks_for(settings, job_id=job_id, job_name=job_name, open_mode=spec.open_mode)

    def on_step(step):
        if isinstance(listener, StdinRelay):
            listener.start(len(step.nodes) if stdin_mode == "all" else 1)
        return sinks_for(step)

    events, seen = client.run_step(job_id, spec), {}
    watch = StepWatch(wait_s=settings.get("wait", 0), kill_on_bad_exit=bool(settings.get("kill_on_bad_exit")))
    try:
        if pty is not None:
            pty.start()
        _, code = relay_step(events, label="label" in settings, unbuffered="unbuffered" in settings, seen=seen,
                             watch=watch, on_step=on_step)
    except JemError as exc:
        if exc.reason in _STEP_REFUSALS:
            raise Failure(f"Unable to create step for job {job_id}: {exc.message}") from None
        raise
    except Interrupted as interrupt:
        events.close()
        step_id = seen["step"].step_id if "step" in seen else "?"
        print(f"{PROG}: Force Terminated StepId={job_id}.{step_id}", file=sys.stderr)
        return 128 + interrupt.signum
    except Failure:
        events.close()   # (an output file srun could not open: the step must not run on)
        raise
    finally:
        if pty is not None:
            pty.restore()
        elif listener is not None:
            listener.close()
    return code
