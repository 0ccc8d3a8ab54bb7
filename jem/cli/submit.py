"""`jem submit`: queue a batch script (a file, stdin, or --wrap) with sbatch's core options."""

import argparse
import os
import sys
import time

from jem.cli.connection import connect
from jem.model.errors import InvalidJobSpec
from jem.model.gres import GresRequest, parse_gpus, parse_gres
from jem.model.job import JobSpec
from jem.model.retry import parse_states
from jem.model.mail import mail_type_text, parse_mail_type
from jem.model.units import parse_begin_time, parse_mem_mib, parse_signal_warning, parse_time_limit


def add_parsers(sub) -> None:
    p = sub.add_parser("submit", help="submit a batch script")
    p.add_argument("script", nargs="?", help="batch script file (default: read from stdin)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    p.add_argument("-J", "--job-name", default="")
    p.add_argument("-p", "--partition", default="")
    p.add_argument("-A", "--account", default="")
    p.add_argument("-N", "--nodes", type=int, default=0)
    p.add_argument("-n", "--ntasks", type=int, default=0)
    p.add_argument("-c", "--cpus-per-task", type=int, default=1)
    p.add_argument("--ntasks-per-node", type=int, default=0)
    p.add_argument("--mem", default=None, help="memory per node (500, 4G, 1T)")
    p.add_argument("--mem-per-cpu", default=None, help="memory per CPU (500, 4G)")
    p.add_argument("-G", "--gpus", default="", help="GPUs per node, of a type if given ([TYPE:]N: 2, a100:2)")
    p.add_argument("--gres", default="", help="generic resources per node (gpu:2, gpu:a100:2,nvme:1)")
    p.add_argument("-C", "--constraint", default="", help="required node features (a, a&b, a|b)")
    p.add_argument("--exclusive", action="store_true", help="take whole nodes")
    p.add_argument("-q", "--qos", default="", help="quality of service (default: normal)")
    p.add_argument("-t", "--time", default=None, help="time limit (MM, HH:MM:SS, D-HH, UNLIMITED)")
    p.add_argument("-o", "--output", default="", help="stdout file pattern (default slurm-%%j.out)")
    p.add_argument("-e", "--error", default="", help="stderr file pattern (default: with stdout)")
    p.add_argument("-i", "--input", default="", help="stdin file (default /dev/null)")
    p.add_argument("-D", "--chdir", default="", help="working directory (default: the current one)")
    p.add_argument("-H", "--hold", action="store_true", help="submit held")
    p.add_argument("--begin", default=None, help="earliest start (now+1hour, 2026-12-01T10:00)")
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--requeue", dest="requeue", action="store_true", default=None)
    p.add_argument("--no-requeue", dest="requeue", action="store_false")
    p.add_argument("-a", "--array", default="", help="job array indices: 0-15, 1,3,5, 0-99:2, with %%N to run "
                   "at most N at once")
    p.add_argument("-d", "--dependency", default="", help="afterok:ID[:ID], afterany:, afternotok:, after:ID[+MIN], "
                   "aftercorr:, singleton; ',' all, '?' any")
    p.add_argument("-W", "--wait", action="store_true", help="wait for the job (every array task) to end; exit "
                   "with its exit code")
    p.add_argument("--open-mode", choices=("append", "truncate"), default="", help="open output files so (default "
                   "truncate)")
    p.add_argument("--signal", default="", help="[B:]SIG[@SECONDS]: send SIG that long (default 60 s) before the time "
                   "limit, to every process but the batch shell (B: to the batch shell only)")
    p.add_argument("--wrap", default=None, help="run this command line as the script")
    p.add_argument("--retries", type=int, default=0, help="run again after a failed run, at most this many times "
                   "(same job id)")
    p.add_argument("--retry-delay", type=int, default=0, metavar="SECONDS", help="wait this long before the first "
                   "retry, twice as long before each later one (the doubling stops at an hour)")
    p.add_argument("--retry-on", default="", metavar="STATE[,STATE]", help="the failures retried: FAILED, TIMEOUT, "
                   "NODE_FAIL, OUT_OF_MEMORY (default: all four)")
    p.add_argument("--mail-type", default="", help="mail on BEGIN, END, FAIL, REQUEUE, INVALID_DEPEND, "
                   "TIME_LIMIT[_50|_80|_90], ARRAY_TASKS, ALL or NONE (comma-separated)")
    p.add_argument("--mail-user", default="", help="who is mailed (default: you)")
    p.add_argument("--parsable", action="store_true", help="print only the job id")
    p.add_argument("--test-only", action="store_true", help="validate only; queue nothing")
    p.set_defaults(run=run_submit)


def _read_script(args: argparse.Namespace) -> tuple[str, str]:
    """(script text, default job name)."""
    if args.wrap is not None:
        if args.script:
            raise InvalidJobSpec("script: give either a script or --wrap, not both")
        return f"#!/bin/sh\n# This script was created by jem submit --wrap.\n\n{args.wrap}\n", "wrap"
    if args.script in (None, "-"):
        if sys.stdin.isatty():
            raise InvalidJobSpec("script: no script file given and nothing on standard input")
        return sys.stdin.read(), "sbatch"
    try:
        with open(args.script) as f:
            return f.read(), os.path.basename(args.script)
    except OSError as exc:
        raise InvalidJobSpec(f"script: unable to open file {args.script}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:   # (a binary file: the job travels as text)
        raise InvalidJobSpec(f"script: {args.script} is not a text file ({exc.encoding} cannot decode byte "
                             f"0x{exc.object[exc.start]:02x} at offset {exc.start})") from None


def spec_from_args(args: argparse.Namespace) -> JobSpec:
    script, default_name = _read_script(args)

    def parse(field, fn, value):
        try:
            return fn(value)
        except ValueError as exc:
            raise InvalidJobSpec(f"{field}: {exc}") from None

    time_limit = parse("time", parse_time_limit, args.time) if args.time is not None else None
    gres = parse("gres", parse_gres, args.gres) if args.gres else GresRequest()
    gpus = parse("gpus", parse_gpus, args.gpus) if args.gpus else GresRequest()
    if gpus.gpus and gres.gpus:
        raise InvalidJobSpec("gpus: give GPUs by --gpus or by --gres, not both")
    return JobSpec(
        script=script, name=args.job_name or default_name, account=args.account, partition=args.partition,
        n_nodes=args.nodes, n_tasks=args.ntasks, cpus_per_task=args.cpus_per_task,
        n_tasks_per_node=args.ntasks_per_node,
        mem_per_node_mib=parse("mem", parse_mem_mib, args.mem) if args.mem is not None else None,
        mem_per_cpu_mib=parse("mem-per-cpu", parse_mem_mib, args.mem_per_cpu) if args.mem_per_cpu is not None else None,
        gpus_per_node=gpus.gpus or gres.gpus, gpu_type=gpus.gpu_type or gres.gpu_type, time_limit_s=time_limit,
        time_limit_unlimited=args.time is not None and time_limit is None,
        script_args=tuple(args.script_args), working_dir=os.path.abspath(args.chdir or os.getcwd()),
        environment=dict(os.environ), stdout_pattern=args.output, stderr_pattern=args.error,
        stdin_path=os.path.abspath(args.input) if args.input else "", hold=args.hold,
        begin_time=parse("begin", lambda v: parse_begin_time(v, now=time.time()), args.begin) if args.begin else None,
        nice=args.nice, requeue=args.requeue, array=args.array, dependency=args.dependency,
        open_mode=args.open_mode, **_signal_warning(args.signal),
        constraint=args.constraint, exclusive=args.exclusive, qos=args.qos, gres_per_node=gres.others,
        retries=args.retries, retry_delay_s=args.retry_delay,
        retry_on=parse("retry-on", parse_states, args.retry_on) if args.retry_on else (),
        mail_type=mail_type_text(parse("mail-type", parse_mail_type, args.mail_type)) if args.mail_type else "",
        mail_user=args.mail_user,
    )


def _signal_warning(text: str) -> dict:
    if not text:
        return {}
    try:
        number, seconds, is_batch_only = parse_signal_warning(text)
    except ValueError as exc:
        raise InvalidJobSpec(f"signal: {exc}") from None
    return {"warn_signal": number, "warn_time_s": seconds, "warn_batch_only": is_batch_only}


def run_submit(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    with connect() as client:
        job_id = client.submit(spec, test_only=args.test_only)
    if args.test_only:
        print("jem submit: job would be accepted (--test-only)", file=sys.stderr)
    elif args.parsable:
        print(job_id)
    else:
        print(f"Submitted batch job {job_id}")
    if args.wait and not args.test_only:
        sys.stdout.flush()
        with connect() as client:
            return client.wait(job_id)
    return 0
