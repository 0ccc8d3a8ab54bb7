"""The digests users sign: what a job or a step runs, as whom it is asked, where.

A digest covers what decides what code runs and what it touches: the script
(or argv), its arguments, the environment, the working directory and the
I/O paths. It leaves out what the controller may fill in or change
(partition, time limit, node count, priority), so a job's signature stays
valid across defaults, updates and requeues. SHA-256 over a canonical JSON
(sorted keys, no whitespace) of those fields.

A scrontab entry's job is signed with its schedule too (`cron`): the
controller runs it again on every time of that schedule, so a signature for
one schedule must not run the same script on another. Its begin time is
left out: each recurrence moves it, and the entry's one signature serves
every run. A job without a schedule has the digest it always had.
"""

import hashlib
import json
from typing import Mapping, Sequence

from jem.model import defaults


def _canonical(kind: str, fields: dict) -> str:
    text = json.dumps({"kind": kind, **fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def job_digest(*, script: str, script_args: Sequence[str], environment: Mapping[str, str], working_dir: str,
               stdin_path: str, stdout_pattern: str, stderr_pattern: str, cron_schedule: str = "") -> str:
    return _canonical("job", {
        "script": script, "args": list(script_args), "env": dict(environment), "cwd": working_dir,
        "stdin": stdin_path, "stdout": stdout_pattern, "stderr": stderr_pattern,
        **({"cron": cron_schedule} if cron_schedule else {}),
    })


def step_digest(*, argv: Sequence[str], environment: Mapping[str, str], working_dir: str,
                stdin_path: str = "", stdout_pattern: str = "", stderr_pattern: str = "",
                programs: Mapping[str, str] | None = None) -> str:
    """`programs`: what else decides the code a step's tasks run or the files they touch (srun's
    --multi-prog text, --task-prolog, --task-epilog, --open-mode); only the ones set are named,
    so the digest of a step without them is what it always was."""
    return _canonical("step", {
        "argv": list(argv), "env": dict(environment), "cwd": working_dir,
        "stdin": stdin_path, "stdout": stdout_pattern, "stderr": stderr_pattern,
        **{name: value for name, value in (programs or {}).items() if value},
    })


def spec_digest(spec) -> str:
    """The digest of a `jem.model.job.JobSpec`, as it will run: an empty working directory is
    the one the controller fills in, so the submitter's and the agent's digests agree."""
    return job_digest(script=spec.script, script_args=spec.script_args, environment=spec.environment,
                      working_dir=spec.working_dir or defaults.JOB_WORKING_DIR, stdin_path=spec.stdin_path, stdout_pattern=spec.stdout_pattern,
                      stderr_pattern=spec.stderr_pattern, cron_schedule=spec.cron_schedule)


def step_spec_digest(spec) -> str:
    """The digest of a `jem.model.step.StepSpec`."""
    return step_digest(argv=spec.argv, environment=spec.environment, working_dir=spec.working_dir,
                       stdin_path=spec.input, stdout_pattern=spec.stdout_pattern, stderr_pattern=spec.stderr_pattern,
                       programs={"multi_prog": spec.multi_prog, "task_prolog": spec.task_prolog,
                                 "task_epilog": spec.task_epilog, "open_mode": spec.open_mode})
