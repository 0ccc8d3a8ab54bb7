"""sbatch: submit a batch script (a file, stdin or --wrap) to JEM with Slurm's options, words and exit codes.

Prints exactly `Submitted batch job N` (`N` with --parsable). Every error
exits non-zero before or instead of queueing anything: 255 for an option
value sbatch cannot parse, 1 (or $SLURM_EXIT_ERROR) for a rejected submission.
"""

import dataclasses
import os
import re
import sys

from jem_slurm import propagate
from jem_slurm import sbatch_options as opts
from jem_slurm.command import SLURM_VERSION, Failure, connect, run

PROG = "sbatch"
WRAP_SCRIPT = "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{}\n"
USAGE = """Usage: sbatch [OPTIONS(0)...] [ : [OPTIONS(N)...]] script(0) [args(0)...]

JEM's sbatch takes Slurm's options: -J -p -A -q -N -n -c --ntasks-per-node --mem
--mem-per-cpu --gres=gpu[:type]:N[,name:N] -G/--gpus=[type:]N --gpus-per-node=[type:]N -t -o -e -i -D -H
--begin --export --requeue --no-requeue --exclusive -C --nice --parsable
--test-only --signal --open-mode --wckey --comment --mail-type --mail-user --wrap --reservation -O
--propagate[=RLIMIT,...],
and JEM's own --retries=N --retry-delay=SECONDS --retry-on=STATE[,STATE].
Not yet supported by JEM: --array --dependency --wait --nodelist --exclude.
"""


def _read_script(operands: list[str], settings: dict) -> tuple[str, str, list[str]]:
    """(script text, default job name, script arguments)."""
    if "wrap" in settings:
        if operands:
            raise Failure("Script arguments not permitted with --wrap option")
        return WRAP_SCRIPT.format(settings["wrap"]), "wrap", []
    if not operands or operands[0] == "-":
        return sys.stdin.read(), "sbatch", operands[1:]
    path = operands[0]
    try:
        with open(path, errors="surrogateescape") as f:
            text = f.read()
    except IsADirectoryError:
        text = ""
    except OSError:
        raise Failure(f"Unable to open file {path}") from None
    return text, os.path.basename(path), operands[1:]


def _check_script(script: str) -> None:
    if not script:
        raise Failure("Batch script is empty!")
    if not script.startswith("#!"):
        raise Failure("This does not look like a batch script.  The first",
                      "line must start with #! followed by the path to an interpreter.",
                      "For instance: #!/bin/sh")
    if "\r\n" in script:
        raise Failure("Batch script contains DOS line breaks (\\r\\n)", "instead of expected UNIX line breaks (\\n).")


def build_spec(settings: dict, script: str, default_name: str, script_args: list[str], env: dict[str, str]):
    """The JobSpec for the merged settings."""
    from jem.model.gres import GresRequest
    from jem.model.job import JobSpec
    from jem.model.mail import mail_type_text

    workdir = os.path.abspath(settings.get("chdir") or os.getcwd())
    n_nodes = settings.get("nodes", 0)
    gres = settings.get("gres", GresRequest())
    gpus = gres if "gres" in settings else settings.get("gpus_per_node", GresRequest())
    if "gpus" in settings:  # --gpus counts the whole job's GPUs
        gpus = settings["gpus"]
        gpus = dataclasses.replace(gpus, gpus=-(-gpus.gpus // max(n_nodes, 1)))
    requeue = True if "requeue" in settings else False if "no_requeue" in settings else None
    stdin_path = settings.get("input", "")
    return JobSpec(
        script=script, name=settings.get("job_name") or default_name, account=settings.get("account", ""),
        partition=settings.get("partition", ""), n_nodes=n_nodes, n_tasks=settings.get("ntasks", 0),
        cpus_per_task=settings.get("cpus_per_task", 1), n_tasks_per_node=settings.get("ntasks_per_node", 0),
        mem_per_node_mib=settings.get("mem"), mem_per_cpu_mib=settings.get("mem_per_cpu"), gpus_per_node=gpus.gpus,
        time_limit_s=settings.get("time"), time_limit_unlimited="time" in settings and settings["time"] is None,
        script_args=tuple(script_args), working_dir=workdir,
        environment=propagate.carried_environment(opts.export_environment(settings.get("export", "ALL"), env),
                                                  propagate.propagated_names(settings.get("propagate"))),
        overcommit="overcommit" in settings,
        stdout_pattern=settings.get("output", ""), stderr_pattern=settings.get("error", ""),
        stdin_path=os.path.join(workdir, stdin_path) if stdin_path else "", hold="hold" in settings,
        begin_time=settings.get("begin"), nice=settings.get("nice", 0), requeue=requeue,
        array=settings.get("array", ""), dependency=settings.get("dependency", ""),
        open_mode="append" if settings.get("open_mode", "t")[0].lower() == "a" else "",
        **opts.warn_signal_fields(settings.get("signal", "")),
        constraint=settings.get("constraint", ""), exclusive="exclusive" in settings, qos=settings.get("qos", ""),
        gres_per_node=gres.others, reservation=settings.get("reservation", ""), gpu_type=gpus.gpu_type,
        retries=settings.get("retries", 0), retry_delay_s=settings.get("retry_delay", 0),
        retry_on=settings.get("retry_on", ()),
        mail_type=mail_type_text(settings.get("mail_type", ())), mail_user=settings.get("mail_user", ""),
    )


def _submission_failure(exc, spec) -> Failure:
    """Slurm's lines for an error the controller returned."""
    if exc.reason == "ControllerUnreachable":
        where = "" if exc.detail.startswith("no controller address") else " at"
        return Failure(f"Unable to contact JEM controller{where}: {exc.detail}".replace("at: ", "at "))
    lines = []
    if exc.reason == "UnknownPartition" and spec.partition:
        lines.append(f"invalid partition specified: {spec.partition}")
    elif getattr(exc, "limit_reason", ""):   # (slurmctld sends the limit's reason name before the error)
        lines.append(exc.limit_reason)
    elif exc.reason == "Unsatisfiable":
        numbers = [int(n) for n in re.findall(r"(\d+) (?:CPUs|MiB|GPUs)", exc.detail)]
        if len(numbers) == 6:
            want, largest = numbers[:3], numbers[3:]
            if want[0] > largest[0]:
                lines.append("CPU count per node can not be satisfied")
            elif want[1] > largest[1]:
                lines.append("Memory specification can not be satisfied")
    message = exc.message if exc.reason not in ("InvalidJobSpec", "InvalidRetryPolicy") else str(exc)
    return Failure(*lines, f"Batch job submission failed: {message}")


def _submit(argv: list[str]) -> int:
    from jem.model.errors import JemError

    found, operands = opts.OPTIONS.parse(argv, stop_at_operand=True)
    names = {option.name for option, _ in found}
    if "help" in names or "usage" in names:
        print(USAGE, end="")
        return 0
    if "version" in names:
        print(SLURM_VERSION)
        return 0
    command_line: dict = {}
    opts.apply_settings(command_line, found)  # bad command-line values fail before the script is read
    script, default_name, script_args = _read_script(operands, command_line)
    _check_script(script)
    settings: dict = {}
    if "wrap" not in command_line:
        directive_found, _ = opts.OPTIONS.parse(opts.directive_args(script), stop_at_operand=True)
        opts.apply_settings(settings, directive_found)
    env = dict(os.environ)
    opts.apply_settings(settings, opts.env_settings(env))
    opts.apply_settings(settings, found)
    spec = build_spec(settings, script, default_name, script_args, env)
    try:
        with connect() as client:
            job_id = client.submit(spec, test_only="test_only" in settings)
            if "test_only" in settings:
                _report_test_only(client, spec)
                return 0
    except JemError as exc:
        raise _submission_failure(exc, spec) from None
    if "parsable" in settings:
        print(job_id)
    else:
        print(f"Submitted batch job {job_id}")
    if "wait" in settings:
        sys.stdout.flush()
        with connect() as client:
            return client.wait(job_id)
    return 0


def _report_test_only(client, spec) -> None:
    """What `sbatch --test-only` prints on stderr (JEM does not plan a start time or nodes for it)."""
    import datetime

    partition = spec.partition or next((p.name for p in client.list_partitions() if p.is_default), "(null)")
    now = datetime.datetime.now().isoformat(timespec="seconds")
    cpus = max(spec.n_tasks, 1) * spec.cpus_per_task
    print(f"sbatch: Job 0 to start at {now} using {cpus} processors on nodes (null) in partition {partition}",
          file=sys.stderr)


def _exit_error_code(code: int) -> int:
    """sbatch's _set_exit_code: $SLURM_EXIT_ERROR replaces the exit code of a failed submission."""
    value = os.environ.get("SLURM_EXIT_ERROR", "")
    if code == 1 and value:
        try:
            number = int(value)
        except ValueError:
            return code
        return number if number != 0 else code
    return code


def main(argv: list[str] | None = None) -> int:
    return _exit_error_code(run(PROG, _submit, argv, usage_code=opts.PARSE_ERROR))


if __name__ == "__main__":
    sys.exit(main())
