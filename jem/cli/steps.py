"""`jem run` (run a command as a job step, in a running job or in a job made for
it) and `jem steps` (a job's steps), the native forms of srun and of sacct's step rows."""

import argparse
import json
import os
import sys

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.model.errors import InvalidArgument
from jem.model.job import ALLOCATION_SCRIPT, JobSpec
from jem.model.states import JobState
from jem.model.step import Step, StepSpec, TaskExit

STEP_HEADERS = ["STEPID", "NAME", "STATE", "EXIT", "TASKS", "CPUS", "NODES", "START", "ELAPSED"]


def add_parsers(sub) -> None:
    p = sub.add_parser("run", help="run a command as a job step (in --job, $SLURM_JOB_ID, or a new job)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    p.add_argument("--job", type=int, default=0, help="run in this running job (default $SLURM_JOB_ID; "
                   "none: make a job for the step)")
    p.add_argument("-n", "--ntasks", type=int, default=0, help="tasks (default one per node)")
    p.add_argument("-N", "--nodes", type=int, default=0, help="nodes (default all the job's)")
    p.add_argument("-c", "--cpus-per-task", type=int, default=0)
    p.add_argument("-J", "--job-name", default="", help="step name (default the command's base name)")
    p.add_argument("-o", "--output", default="", help="each task's stdout file pattern on its node (%%j %%s %%t %%n)")
    p.add_argument("-e", "--error", default="", help="each task's stderr file pattern")
    p.add_argument("-l", "--label", action="store_true", help="put the task id before each output line")
    p.add_argument("-p", "--partition", default="", help="partition of a job made for the step")
    p.set_defaults(run=run_run)

    p = sub.add_parser("steps", help="list a job's steps")
    p.add_argument("job_id", type=int)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_steps)


def run_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InvalidArgument("no command to run")
    job_id = args.job or int(os.environ.get("SLURM_JOB_ID") or os.environ.get("JEM_JOB_ID") or 0)
    spec = StepSpec(argv=tuple(command), n_tasks=args.ntasks, n_nodes=args.nodes, cpus_per_task=args.cpus_per_task,
                    name=args.job_name, stdout_pattern=args.output, stderr_pattern=args.error,
                    environment=dict(os.environ), working_dir=os.getcwd(), ends_job=not job_id)
    with connect() as client:
        if not job_id:
            job_id = client.submit(JobSpec(
                script=ALLOCATION_SCRIPT, name=spec.step_name, partition=args.partition, n_nodes=args.nodes,
                n_tasks=args.ntasks, cpus_per_task=args.cpus_per_task or 1, working_dir=os.getcwd(),
                environment=dict(os.environ), stdout_pattern="/dev/null"))
            job = client.wait_until_running(job_id, on_waiting=lambda: print(
                f"jem run: job {job_id} is waiting for resources", file=sys.stderr, flush=True))
            if job.state is not JobState.RUNNING:
                print(f"jem run: job {job_id} ended before it ran ({job.state.value})", file=sys.stderr)
                return 1
        return _follow(client.run_step(job_id, spec), label=args.label)


def _follow(events, *, label: bool) -> int:
    """Write the tasks' output as it comes (labelled per chunk with -l); the highest exit code."""
    exits: list[TaskExit] = []
    streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
    for event in events:
        if isinstance(event, TaskExit):
            exits.append(event)
            if event.exit_code or event.exit_signal or event.launch_error:
                why = event.launch_error or (f"signal {event.exit_signal}" if event.exit_signal
                                             else f"exit code {event.exit_code}")
                print(f"jem run: task {event.task_id} on {event.node}: {why}", file=sys.stderr, flush=True)
        elif not isinstance(event, Step):
            data = event.data
            if label:
                data = b"".join(f"{event.task_id}: ".encode() + line for line in data.splitlines(keepends=True))
            streams[event.stream].write(data)
            streams[event.stream].flush()
    signals = [e.exit_signal for e in exits if e.exit_signal]
    return 128 + max(signals) if signals else max((e.exit_code or int(bool(e.launch_error)) for e in exits),
                                                  default=0)


def run_steps(args: argparse.Namespace) -> int:
    with connect() as client:
        steps = client.list_steps([args.job_id])
    if args.json:
        print(json.dumps({"steps": [step_as_dict(s) for s in steps]}, indent=2))
        return 0
    import time

    now = time.time()
    rows = [[f"{s.job_id}.{s.step_id}", s.name, s.state.value, f"{s.exit_code}:{s.exit_signal}", str(s.n_tasks),
             str(s.n_cpus), ",".join(s.nodes), time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(s.start_time)),
             f"{int((s.end_time or now) - s.start_time)}s"] for s in steps]
    print(render_table(STEP_HEADERS, rows))
    return 0


def step_as_dict(step: Step) -> dict:
    return {"job_id": step.job_id, "step_id": step.step_id, "name": step.name, "state": step.state.value,
            "exit_code": step.exit_code, "exit_signal": step.exit_signal, "n_tasks": step.n_tasks,
            "n_cpus": step.n_cpus, "nodes": list(step.nodes), "start_time": step.start_time,
            "end_time": step.end_time, "ends_job": step.ends_job,
            "usage": {"cpu_user_us": step.usage.cpu_user_us, "cpu_system_us": step.usage.cpu_system_us,
                      "max_rss_kib": step.usage.max_rss_kib}}
