"""Users' crontabs (scrontab): installing, replacing and removing them, and each entry's job
recurring on its schedule.

Each entry of an installed crontab is one job (its spec's `cron_schedule` set), admitted as
SubmitJob admits one, that waits for its schedule's next time (its begin time: reason
BeginTime), runs, and, whatever its end, is requeued under the same id for the time after
(`recur`, which the scheduling loop calls each cycle: a run's end shows COMPLETED, FAILED, ...
until that cycle, and each run is kept as a requeued run for sacct). A cancel ends that:
the entry's lines are marked disabled (scrontab -l shows them after "#DISABLED: "), as Slurm
comments them out. A requeue for another cause (scontrol requeue, a node failure, a retry)
runs the job again when that requeue says, as for any job.

Each entry's job carries its user's `jem-cron` signature, made when the crontab was installed
and checked then (jem.security.signatures); the agents check it again before every run. Once it
has expired, or will before the job's next time, no agent would start the job: `recur` holds it
instead (JobHeldAdmin, the reason's detail and a log line saying why), before any launch is
tried. The crontab stays as it was installed; installing it again (`scrontab file`, `scrontab
-e`) makes new jobs with fresh signatures and cancels the held ones.

The controller trusts no client's parse: it parses the text again (jem.model.crontab), the
entries sent must be its cron lines with their schedules, and the jobs' schedules and begin
times are its own.

Installing stores, in this order, the new entries' jobs, the crontab naming them, then the
old entries' pending jobs cancelled (running ones finish and do not recur). A controller that
stopped in between finds, as it starts (`restore`), pending cron jobs that no stored crontab
names and cancels them: it is left with the old crontab or the new one, never a mix. All of
it under the controller's lock; a cycle costs one look-up per installed entry.
"""

import contextlib
import dataclasses
import datetime as dt
import logging

from jem.controller import lifecycle
from jem.controller.authn import identity_of_user
from jem.controller.state import ClusterState
from jem.controller.submission import Submission, admitted_job, checked_submission
from jem.model import policy
from jem.model.crontab import Crontab, Entry, EntryRequest, InstalledEntry, line_numbers, parse_crontab
from jem.model.errors import (CrontabEntryRefused, InvalidCrontab, InvalidJobSpec, JemError, ParameterTooLong,
                              Unauthenticated, UserNotFound)
from jem.model.identity import Identity
from jem.model.job import Job
from jem.model.reasons import HOLD_REASONS, JobReason
from jem.model.states import JobEvent, JobState
from jem.scheduler.priority import basic_priority
from jem.security.tokens import AUD_CRON
from jem.store import JobChange

log = logging.getLogger(__name__)


def read_crontab(state: ClusterState, caller: Identity, *, user: str) -> Crontab | None:
    """`user`'s crontab ("" for the caller's), or None; PermissionDenied (policy)."""
    user = user or caller.user
    policy.require_crontab_reader(caller, user)
    with state.lock:
        return state.crontabs.get(user)


def install_crontab(state: ClusterState, caller: Identity, *, user: str, text: str,
                    entries: list[EntryRequest], now: float) -> Crontab:
    """Install `text` as `user`'s crontab ("" for the caller's), each of `entries` becoming
    its cron line's job; returns the crontab as installed. Nothing is installed when anything
    is refused (see the module's notes for the errors)."""
    owner = _owner(caller, user)
    state.submit_rate.take(caller)   # (one per crontab: its entries are admitted together)
    parsed = _checked_text(text, entries, state)
    submissions = []
    for entry, request in zip(parsed, entries):
        with _refusal_of(entry):
            if request.spec.array:
                raise InvalidJobSpec("array: a scrontab entry's job is not an array")
            begin = entry.schedule.next_after(now)
            if begin is None:
                raise InvalidCrontab(f"line {entry.last_line}: the schedule never falls due")
            spec = dataclasses.replace(request.spec, cron_schedule=entry.schedule.text, begin_time=begin)
            submissions.append(checked_submission(state, spec, owner, user_signature=request.user_signature))
    with state.lock:
        old = state.crontabs.get(owner.user)
        replaced = _pending_jobs(state, old)
        jobs = [_admitted(state, entry, submission=submission, owner=owner, now=now, queued_before=n - len(replaced))
                for n, (entry, submission) in enumerate(zip(parsed, submissions))]
        state.add_with(jobs, [], now=now)
        crontab = Crontab(owner.user, text, tuple(InstalledEntry(e.first_line, e.last_line, e.schedule.text,
                                                                 job.job_id) for e, job in zip(parsed, jobs)))
        try:
            state.store.save_crontab(crontab)
        except Exception:   # (not stored: the new jobs must not stay queued for a crontab that is not there)
            state.commit([_cancel(state, job, now=now, why="its crontab was not stored") for job in jobs])
            raise
        state.crontabs.put(crontab)
        state.commit([_cancel(state, job, now=now, why="its crontab was replaced") for job in replaced])
    log.info("crontab installed user=%s entries=%d job_ids=%s replaced=%d", owner.user, len(jobs),
             [job.job_id for job in jobs], len(replaced))
    state.wake_scheduler()
    return crontab


def remove_crontab(state: ClusterState, caller: Identity, *, user: str, now: float) -> None:
    """Remove `user`'s crontab ("" for the caller's), if any: its pending jobs are cancelled,
    running ones finish and do not recur."""
    user = user or caller.user
    policy.require_crontab_writer(caller, user)
    with state.lock:
        old = state.crontabs.get(user)
        if old is None:
            return
        state.store.delete_crontab(user)
        state.crontabs.drop(user)
        state.commit([_cancel(state, job, now=now, why="its crontab was removed") for job in _pending_jobs(state, old)])
    log.info("crontab removed user=%s", user)


def recur(state: ClusterState, *, now: float) -> None:
    """Requeue each recurring entry's job whose run ended (not cancelled) for its schedule's
    next time after `now`; mark the lines of one that was cancelled disabled; hold a pending one
    whose signature will not start its next run. Lock held."""
    changes: list[JobChange] = []
    for job_id, user, schedule in state.crontabs.recurring():
        job = state.jobs.find(job_id) or state.jobs.get(job_id)   # (one ended long ago is read back)
        if job is not None and job.is_pending and not job.held_by:
            if why := _unusable_signature(state, job, now=now):
                changes.append(_hold_for_signature(job, user, why=why, now=now))
            continue
        if job is None or not job.state.is_terminal:
            continue
        if job.state is JobState.CANCELLED:
            _disable_entry(state, user, job_id=job_id)
            continue
        begin = schedule.next_after(now)
        if begin is None:   # (its schedule's last time has passed: it stays ended)
            state.crontabs.stop_recurring(job_id)
            continue
        at, ended = dt.datetime.fromtimestamp(begin).isoformat(timespec="seconds"), job.state.value
        changes.append(lifecycle.requeue_job(job, state.nodes, now, f"scrontab: next run at {at}", begin_time=begin))
        job.reason_detail = ""   # (squeue and scontrol say BeginTime, as Slurm's; the event keeps the detail)
        job.retries_done = 0     # (each scheduled run has its retry policy's every retry)
        log.info("cron job requeued job_id=%d user=%s begin=%s after=%s", job_id, user, at, ended)
        if why := _unusable_signature(state, job, now=now):
            changes.append(_hold_for_signature(job, user, why=why, now=now))
    state.commit(changes)


def _unusable_signature(state: ClusterState, job: Job, *, now: float) -> str:
    """Why the signature `job` carries will not start its next run: not a scrontab entry's, or
    expired by then ("" when it will do; an unsigned job is the agents' --unsigned-jobs to judge)."""
    if not job.user_signature:
        return ""
    terms = state.crontabs.signature_terms(job.job_id, job.user_signature)
    if terms is None:
        return "its user's signature cannot be read: install the crontab again to renew it"
    if terms.audience != AUD_CRON:
        return f"signed as {terms.audience!r}, not as a scrontab entry: install the crontab again to renew it"
    run_at = max(now, job.spec.begin_time or now)
    if terms.expires_at >= run_at:
        return ""
    expired = dt.datetime.fromtimestamp(terms.expires_at).isoformat(timespec="seconds")
    if terms.expires_at < now:
        return f"its user's signature expired at {expired}: install the crontab again to renew it"
    at = dt.datetime.fromtimestamp(run_at).isoformat(timespec="seconds")
    return f"its user's signature expires at {expired}, before its run at {at}: install the crontab again to renew it"


def _hold_for_signature(job: Job, user: str, *, why: str, now: float) -> JobChange:
    """Hold `job` (pending), whose signature will not start it, saying `why`. Lock held."""
    job.held_by, job.reason, job.reason_detail = "admin", HOLD_REASONS["admin"], f"scrontab: {why}"
    job.priority, job.planned_start = basic_priority(job.spec.nice, is_held=True), None
    log.warning("cron job held job_id=%d user=%s why=%r", job.job_id, user, why)
    return lifecycle.change(job, JobEvent.HOLD, now, detail=job.reason_detail)


def restore(state: ClusterState, *, now: float) -> None:
    """At the controller's start (jobs loaded, before serving): load the crontabs and cancel the
    pending cron jobs no crontab names (an install or removal that stopped half way)."""
    with state.lock:
        for crontab in state.store.load_crontabs():
            state.crontabs.put(crontab)
        named = state.crontabs.job_ids()
        orphans = [job for job in state.jobs.pending() if job.spec.cron_schedule and job.job_id not in named]
        state.commit([_cancel(state, job, now=now, why="its crontab was replaced") for job in orphans])
    if orphans:
        log.warning("cron jobs of no crontab cancelled job_ids=%s", [job.job_id for job in orphans])


def _owner(caller: Identity, user: str) -> Identity:
    """Whose crontab a change is for: the caller, or (root only) the user named."""
    if not user or user == caller.user:
        return caller
    policy.require_crontab_writer(caller, user)
    try:
        return identity_of_user(user)
    except Unauthenticated:
        raise UserNotFound(user) from None


def _checked_text(text: str, entries: list[EntryRequest], state: ClusterState) -> tuple[Entry, ...]:
    """The text's entries, once the text is within the cluster's limits, valid, and `entries`
    are its cron lines with their schedules (InvalidCrontab, ParameterTooLong otherwise)."""
    limits = state.config.limits
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > limits.max_crontab_size:
        raise ParameterTooLong(f"crontab: {size} bytes, more than the cluster's limit of {limits.max_crontab_size}")
    if len(entries) > limits.max_crontab_entries:
        raise ParameterTooLong(f"crontab: {len(entries)} entries, more than the cluster's limit of "
                               f"{limits.max_crontab_entries}")
    if "\0" in text:
        raise InvalidCrontab("the text holds a NUL byte")
    parsed = parse_crontab(text)
    if len(parsed) != len(entries):
        raise InvalidCrontab(f"{len(entries)} entries sent for the text's {len(parsed)} cron lines")
    for entry, request in zip(parsed, entries):
        if request.schedule != entry.schedule_text:
            raise InvalidCrontab(f"line {entry.last_line}: the entry sent has the schedule {request.schedule[:80]!r}, "
                                 f"the line {entry.schedule_text!r}", line=entry.last_line)
    return parsed


def _admitted(state: ClusterState, entry: Entry, *, submission: Submission, owner: Identity, now: float,
              queued_before: int) -> Job:
    with _refusal_of(entry):
        job = admitted_job(state, submission, owner, now=now, queued_before=queued_before)
    if job.reason is JobReason.NONE:
        job.reason = JobReason.BEGIN_TIME
    return job


@contextlib.contextmanager
def _refusal_of(entry: Entry):
    """Turns an error admitting `entry`'s job into CrontabEntryRefused naming its lines."""
    try:
        yield
    except CrontabEntryRefused:
        raise
    except JemError as exc:
        raise CrontabEntryRefused(str(exc), lines=entry.lines, cause=type(exc)) from exc


def _pending_jobs(state: ClusterState, crontab: Crontab | None) -> list[Job]:
    """The pending jobs of `crontab`'s entries (in memory: every pending job is). Lock held."""
    jobs = [state.jobs.find(entry.job_id) for entry in crontab.entries] if crontab is not None else []
    return [job for job in jobs if job is not None and job.is_pending]


def _cancel(state: ClusterState, job: Job, *, now: float, why: str) -> JobChange:
    return lifecycle.end_job(job, JobEvent.CANCEL, state.nodes, now, detail=why)


def _disable_entry(state: ClusterState, user: str, *, job_id: int) -> None:
    """Mark the lines of the entry `job_id` runs disabled (it recurs no more). Lock held."""
    crontab = state.crontabs.get(user)
    entry = crontab.entry_of_job(job_id) if crontab is not None else None
    if entry is None:
        return
    crontab = dataclasses.replace(crontab, disabled_lines=crontab.disabled_lines
                                  | line_numbers(entry.first_line, entry.last_line))
    state.store.save_crontab(crontab)
    state.crontabs.put(crontab)
    log.info("cron entry disabled user=%s job_id=%d lines=%d-%d", user, job_id, entry.first_line, entry.last_line)
