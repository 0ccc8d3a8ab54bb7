"""scontrol suspend|resume JOBLIST: stop a running job's processes, its nodes kept (or let them go
on); operators only (the controller's SuspendJob).

JOBLIST is Slurm's: job ids and array tasks (`12`, `12_3`, `12_[1-3,7]`), comma-separated, in one
or more words. As in Slurm 22.05:

- a word holding a malformed id is refused whole (`Invalid job id specified for job WORD`) and the
  other words still go ahead; a word of commas alone asks for nothing;
- each job is asked for on its own, and success is silent (a job already in the state asked for
  is the controller's to accept or refuse);
- a refusal prints `MESSAGE for job ID` for a job outside an array, and `LABEL: MESSAGE` for an
  array's task (LABEL `12_3`, or `12_1-4` for tasks not yet split off), except a refused
  permission, which Slurm reports for the whole request: `Access/permission denied for job ID`;
- an array's id names every task of it, a task no record holds is `LABEL: Invalid job id
  specified`; the exit status is 1 when anything was refused.

An array's records each have their own job id (jem.controller.arrays), so the array and task
forms are resolved here with one listing per id, and SuspendJob is asked per record.
Deliberate difference: a job id the cluster does not have prints `Invalid job id specified for
job N`, where Slurm 22.05 prints `Unexpected message received for job N`.
"""

import sys
from dataclasses import dataclass

from jem.model.arrays import format_ranges, parse_job_label
from jem.model.errors import (ControllerUnreachable, InternalError, JemError, JobNotFound, NotJobOwner,
                              PermissionDenied)

from jem_slurm import jobview
from jem_slurm.command import Failure


@dataclass(frozen=True, slots=True)
class Target:
    """One id of a job list: as written, the job (or array) id, and the array tasks it names (none:
    the job, or every task of an array)."""

    text: str
    job_id: int
    task_ids: tuple[int, ...] = ()


def split_ids(word: str) -> list[str]:
    """A word's comma-separated ids, a comma inside brackets kept (`12_[1,3],13` -> two ids)."""
    ids, depth, start = [], 0, 0
    for i, char in enumerate(word):
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            ids.append(word[start:i])
            start = i + 1
    ids.append(word[start:])
    return [text for text in ids if text]


def parse_word(word: str) -> list[Target] | None:
    """The targets of one word of the job list; None when any id in it is malformed (a step id
    `12.0` too: suspend takes jobs; digits other than ASCII, which int() would read, too)."""
    targets = []
    for text in split_ids(word):
        if "." in text or not text.isascii():
            return None
        try:
            job_id, task_ids = parse_job_label(text)
        except ValueError:
            return None
        targets.append(Target(text, job_id, task_ids))
    return targets


def refusal_line(exc: JemError, *, text: str, label: str | None) -> str:
    """What one refusal prints: `label` is the array task's (None outside arrays), `text` the id
    as written. An internal error keeps its detail (the controller's ref id, or that it has no
    SuspendJob) in place of the generic message."""
    message = (exc.detail or exc.message) if isinstance(exc, InternalError) else exc.message
    if label is None or _is_denied(exc):
        return f"{message} for job {text}"
    return f"{label}: {message}"


def _is_denied(exc: JemError) -> bool:
    return isinstance(exc, (PermissionDenied, NotJobOwner))


def run_suspend(keyword: str, words: list[str], *, resume: bool, connect) -> int:
    """suspend (`resume` False) or resume each job of `words`, in order; the exit status.
    `connect()` gives the client, called only once a well-formed id comes."""
    if not words:
        raise Failure(f"too few arguments for keyword:{keyword}", prefix=None)
    status = 0
    client = None
    try:
        for word in words:
            targets = parse_word(word)
            if targets is None:
                print(f"Invalid job id specified for job {word}", file=sys.stderr)
                status = 1
                continue
            for target in targets:
                client = client or connect()
                for line in _apply(client, target, resume=resume):
                    print(line, file=sys.stderr)
                    status = 1
    finally:
        if client is not None:
            client.close()
    return status


def _apply(client, target: Target, *, resume: bool) -> list[str]:
    """Suspend or resume what `target` names; the refusal lines."""
    records = _records(client, target)
    if records is None:   # a job outside an array (or one the caller cannot list): the controller decides
        exc = _ask(client, target.job_id, resume=resume)
        return [] if exc is None else [refusal_line(exc, text=target.text, label=None)]
    lines = []
    found: set[int] = set()
    for record in records:
        found.update((record.array_task_id,) if record.array_task_id is not None else record.array_pending)
        exc = _ask(client, record.job_id, resume=resume)
        if exc is None:
            continue
        if _is_denied(exc):   # (Slurm refuses the whole request, once)
            return [refusal_line(exc, text=target.text, label=None)]
        lines.append(refusal_line(exc, text=target.text, label=_label(record)))
    lines += [f"{target.job_id}_{task}: {JobNotFound.message}" for task in target.task_ids if task not in found]
    return lines


def _records(client, target: Target) -> list | None:
    """The array records `target` names, in task order (an unsplit record once, however many of
    its tasks are named); None when it names a job outside an array, or one not listed."""
    wanted = {target.job_id: set(target.task_ids)} if target.task_ids else None
    listed = client.list_jobs(jobview.job_filter(job_ids=[target.job_id], tasks_wanted=wanted))
    records = sorted((job for job in listed if job.array_job_id == target.job_id), key=lambda job: job.list_order)
    if not target.task_ids:
        return records or None
    asked = set(target.task_ids)
    return [job for job in records if job.array_task_id in asked
            or (job.array_task_id is None and not asked.isdisjoint(job.array_pending))]


def _label(record) -> str:
    """An array record as Slurm names it in a refusal: `12_3`, or `12_1-4` for unsplit tasks."""
    if record.array_task_id is not None:
        return f"{record.array_job_id}_{record.array_task_id}"
    return f"{record.array_job_id}_{format_ranges(record.array_pending)}"


def _ask(client, job_id: int, *, resume: bool) -> JemError | None:
    """The controller's refusal of suspending (resuming) `job_id`, None when it did it."""
    try:
        client.suspend(job_id, resume=resume)
    except ControllerUnreachable:
        raise
    except JemError as exc:
        return exc
    return None
