"""Crontabs (scrontab): a file's lines read into entries (jem.model.crontab), the entries' jobs the shim
builds from their #SCRON options (jem_slurm.scrontab), and what the controller does with them
(jem.controller.crontab) on a real controller state over a SQLite store: install, recur after
any end, disable on cancel, replace, remove, restore after a restart, and the refusals an API
caller meets (size, count, NUL, entries that do not match the text, an entry admission refuses,
another user's crontab)."""

import dataclasses
import datetime as dt
import pwd
import sqlite3
import time

import pytest
from hypothesis import given, settings, strategies as st

from jem.controller import crontab, lifecycle
from jem.controller.submission import admitted_job, checked_submission, submit_job
from jem.model.config import parse_config
from jem.model.crontab import (DISABLED_PREFIX, EntryRequest, lines_of, parse_crontab, with_marked_lines)
from jem.controller.credentials import ControllerKeys
from jem.model.cron import parse_schedule
from jem.model.errors import (BadUserSignature, CrontabEntryRefused, InvalidCrontab, InvalidJobSpec, LimitExceeded,
                              ParameterTooLong, PermissionDenied, UnknownPartition, UserNotFound)
from jem.model.identity import AdminLevel, Identity
from jem.model.job import JobSpec
from jem.model.reasons import JobReason
from jem.model.states import JobEvent, JobState
from jem.security import tokens
from jem.security.digest import spec_digest
from jem.store import SqliteStore
from jem_slurm.scrontab import entry_requests
from tests.unit.test_suspension import ANN, ROOT, make_state

CONFIG = parse_config({"nodes": [{"names": "n[1-2]", "cpus": 8, "mem_mib": 8000}],
                       "partitions": [{"name": "p", "nodes": "ALL"}],
                       "limits": {"max_crontab_entries": 4, "max_crontab_size": 4096, "max_submit_jobs_per_user": 6}})
OPERATOR = Identity(user="olga", uid=1001, gid=1001, admin_level=AdminLevel.OPERATOR)
NOW = dt.datetime(2026, 3, 4, 10, 20, 30).timestamp()   # (local time: the schedules' clock)
TEXT = """# two entries
OUT=/tmp/out
#SCRON -t 5
# (a comment inside the entry)
#SCRON -J every
* * * * * echo $OUT
@daily date
"""


@pytest.fixture
def state(tmp_path):
    return dataclasses.replace(make_state(tmp_path), config=CONFIG)


def requests_for(text: str, **spec_fields) -> list[EntryRequest]:
    """What a client sends for `text`'s entries (each job's spec as a plain one)."""
    return [EntryRequest(entry.schedule_text, JobSpec(script=f"#!/bin/sh\n{entry.command}\n", partition="p",
                                                      **spec_fields)) for entry in parse_crontab(text)]


def install(state, text: str = TEXT, who: Identity = ANN, **spec_fields):
    return crontab.install_crontab(state, who, user="", text=text, entries=requests_for(text, **spec_fields), now=NOW)


def end_run(state, job_id: int, event: JobEvent, at: float) -> None:
    """Start the job on n1 and end its run with `event` (as an agent's report would)."""
    with state.lock:
        job = state.jobs.find(job_id)
        state.commit([lifecycle.start_job(job, ("n1",), state.nodes, at)])
        state.commit([lifecycle.end_job(job, event, state.nodes, at + 1)])


# ---------------------------------------------------------------- the file

def test_an_entry_spans_from_its_first_scron_line_to_its_cron_line_and_expands_earlier_variables():
    first, second = parse_crontab(TEXT)
    assert (first.first_line, first.last_line, first.schedule_text, first.command) == (3, 6, "* * * * *",
                                                                                        "echo /tmp/out")
    assert [number for number, _ in first.option_lines] == [3, 5]
    assert (second.first_line, second.last_line, second.schedule.text) == (7, 7, "0 0 * * *")
    later = parse_crontab('A=1\n* * * * * echo $A $AB ${A} $B\nB = "two words"  \n@hourly echo $B $A\n')
    assert [e.command for e in later] == ["echo 1 $AB ${A} $B", "echo two words 1"]
    assert parse_crontab("#SCRON -t 5\n") == ()   # (options with no entry after them belong to none)


@pytest.mark.parametrize("text, line, why", [
    ("# ok\n\n* * * *\n", 3, "after 4 of 5"), ("@hourly echo\n*/1 * * * * x\n", 2, "bad step value"),
    ("A = 'unclosed\n", 1, "not closed"), ("A = 'x' y\n", 1, "not closed, or text follows"),
    ("#SCRON -p x\n61 * * * * x\n", 2, "out of range"), ("hello world\n", 1, "after 2 of 5"),
])
def test_a_bad_line_is_named_by_its_number(text, line, why):
    with pytest.raises(InvalidCrontab, match=why) as caught:
        parse_crontab(text)
    assert caught.value.line == line and f"line {line}:" in caught.value.detail


def test_marked_lines_get_their_prefix_and_every_line_a_newline():
    assert with_marked_lines("a\nb\nc", {2}, DISABLED_PREFIX) == f"a\n{DISABLED_PREFIX}b\nc\n"
    assert with_marked_lines("a\nb", set(), DISABLED_PREFIX) == "a\nb"
    assert lines_of("a\n\nb\n") == ["a", "", "b"]


def test_the_shim_builds_each_entrys_job_from_its_scron_options_as_slurm_does():
    owner = pwd.getpwuid(0)
    every, daily = entry_requests(TEXT, owner)
    assert (every.schedule, every.spec.name, every.spec.time_limit_s, every.spec.working_dir) == (
        "* * * * *", "every", 300, owner.pw_dir)
    assert every.spec.script == ("#!/bin/sh\n# This job was submitted through scrontab\n#SCRON -t 5\n#SCRON -J every\n"
                                 "# crontab time request was: '* * * * *'\necho /tmp/out\n")
    assert (daily.spec.name, daily.spec.time_limit_s) == ("date", None)   # (options reset between entries)
    assert set(every.spec.environment) == {"HOME", "USER", "LOGNAME", "SHELL", "PATH", "SLURM_UMASK"}


@pytest.mark.parametrize("text, line, why", [
    ("#SCRON --array=1-3\n@hourly x\n", 1, "Invalid option found in #SCRON line: --array"),
    ("#SCRON -t 5\n#SCRON --begin=now\n@hourly x\n", 2, "Invalid option found in #SCRON line: --begin"),
    ("#SCRON -H\n@hourly x\n", 1, "--hold"), ("#SCRON stray\n@hourly x\n", 1, "#SCRON line: stray"),
    ("#SCRON --bogus\n@hourly x\n", 1, "unrecognized option '--bogus'"),
    ("\n#SCRON -t abc\n@hourly x\n", 2, "Invalid --time specification"),
])
def test_an_scron_option_scrontab_refuses_is_named_by_its_line(text, line, why):
    with pytest.raises(InvalidCrontab, match=why) as caught:
        entry_requests(text, pwd.getpwuid(0))
    assert caught.value.line == line


# ---------------------------------------------------------------- the controller

def test_each_entry_is_a_pending_job_that_waits_for_its_next_time(state):
    installed = install(state)
    assert [(e.first_line, e.last_line, e.schedule) for e in installed.entries] == [(3, 6, "* * * * *"),
                                                                                     (7, 7, "0 0 * * *")]
    every, daily = (state.jobs.find(e.job_id) for e in installed.entries)
    assert every.state is JobState.PENDING and every.reason is JobReason.BEGIN_TIME
    assert every.spec.begin_time == dt.datetime(2026, 3, 4, 10, 21).timestamp()
    assert daily.spec.begin_time == dt.datetime(2026, 3, 5, 0, 0).timestamp()
    assert (every.spec.cron_schedule, every.user) == ("* * * * *", "ann")
    assert state.store.load_crontabs() == [installed]


def test_a_run_that_ends_any_way_but_cancelled_is_requeued_for_the_next_time(state):
    job_id = install(state).entries[0].job_id
    for n, event in enumerate((JobEvent.COMPLETE, JobEvent.FAIL, JobEvent.TIMEOUT)):
        at = dt.datetime(2026, 3, 4, 10, 21 + n, 0).timestamp()
        end_run(state, job_id, event, at)
        with state.lock:
            crontab.recur(state, now=at + 2)
        job = state.jobs.find(job_id)
        assert (job.state, job.reason, job.restart_count) == (JobState.PENDING, JobReason.BEGIN_TIME, n + 1)
        assert job.spec.begin_time == at + 60
    assert [run.state for run in state.store.list_runs([job_id])] == [
        JobState.COMPLETED, JobState.FAILED, JobState.TIMEOUT]   # (each run kept: sacct -D)


def test_a_cancelled_cron_job_stays_cancelled_and_its_lines_are_disabled(state):
    first = install(state).entries[0].job_id
    with state.lock:
        job = state.jobs.find(first)
        state.commit([lifecycle.end_job(job, JobEvent.CANCEL, state.nodes, NOW + 5)])
        crontab.recur(state, now=NOW + 6)
        crontab.recur(state, now=NOW + 7)
    assert state.jobs.find(first).state is JobState.CANCELLED
    stored = crontab.read_crontab(state, ANN, user="")
    assert stored.disabled_lines == {3, 4, 5, 6} and state.store.load_crontabs()[0].disabled_lines == {3, 4, 5, 6}
    assert with_marked_lines(stored.text, stored.disabled_lines, DISABLED_PREFIX).splitlines()[2:6] == [
        f"{DISABLED_PREFIX}#SCRON -t 5", f"{DISABLED_PREFIX}# (a comment inside the entry)",
        f"{DISABLED_PREFIX}#SCRON -J every", f"{DISABLED_PREFIX}* * * * * echo $OUT"]


def test_replacing_cancels_pending_old_jobs_and_a_running_one_finishes_without_recurring(state):
    old = install(state).entries
    with state.lock:
        running = state.jobs.find(old[0].job_id)
        state.commit([lifecycle.start_job(running, ("n1",), state.nodes, NOW)])
    new = install(state, "@hourly echo new\n").entries
    assert state.jobs.find(old[1].job_id).state is JobState.CANCELLED
    assert state.jobs.find(old[0].job_id).state is JobState.RUNNING
    with state.lock:
        state.commit([lifecycle.end_job(running, JobEvent.COMPLETE, state.nodes, NOW + 10)])
        crontab.recur(state, now=NOW + 11)
    assert state.jobs.find(old[0].job_id).state is JobState.COMPLETED   # (not requeued: no crontab names it)
    assert state.jobs.find(new[0].job_id).state is JobState.PENDING
    crontab.remove_crontab(state, ANN, user="", now=NOW + 12)
    assert state.jobs.find(new[0].job_id).state is JobState.CANCELLED
    assert crontab.read_crontab(state, ANN, user="") is None and state.store.load_crontabs() == []
    crontab.remove_crontab(state, ANN, user="", now=NOW + 13)   # (none: nothing happens, as Slurm)


def test_a_restart_keeps_the_crontabs_and_cancels_jobs_of_a_half_done_install(tmp_path, state):
    installed = install(state)
    orphan = requests_for("@hourly echo orphan\n")[0]   # a new job stored, the controller gone before its crontab
    with state.lock:
        job = admitted_job(state, checked_submission(
            state, dataclasses.replace(orphan.spec, cron_schedule="0 * * * *", begin_time=NOW + 60), ANN,
            user_signature=""), ANN, now=NOW)
        state.add_with([job], [], now=NOW)
    restarted = dataclasses.replace(make_state(tmp_path, store=state.store), config=CONFIG)
    with restarted.lock:
        restarted.jobs.load(ended_after=None)
    crontab.restore(restarted, now=NOW + 1)
    assert crontab.read_crontab(restarted, ANN, user="") == installed
    assert restarted.jobs.find(job.job_id).state is JobState.CANCELLED
    assert all(restarted.jobs.find(e.job_id).state is JobState.PENDING for e in installed.entries)
    end_run(restarted, installed.entries[0].job_id, JobEvent.COMPLETE, NOW + 30)
    with restarted.lock:
        crontab.recur(restarted, now=NOW + 32)
    assert restarted.jobs.find(installed.entries[0].job_id).state is JobState.PENDING   # (it recurs after restart)


# ---------------------------------------------------------------- refusals

def test_an_entry_admission_refuses_is_named_by_its_lines_and_nothing_is_installed(state):
    text = "@hourly ok\n#SCRON -p nosuch\n@daily refused\n"
    entries = requests_for(text)
    entries[1] = dataclasses.replace(entries[1], spec=dataclasses.replace(entries[1].spec, partition="nosuch"))
    with pytest.raises(CrontabEntryRefused) as caught:
        crontab.install_crontab(state, ANN, user="", text=text, entries=entries, now=NOW)
    assert (caught.value.lines, caught.value.cause, caught.value.grpc_code) == ("2-3", UnknownPartition,
                                                                               "INVALID_ARGUMENT")
    assert state.jobs.count_active() == 0 and crontab.read_crontab(state, ANN, user="") is None
    with pytest.raises(CrontabEntryRefused) as caught:
        install(state, "@hourly a\n@hourly b\n", array="1-3")
    assert (caught.value.lines, caught.value.cause) == ("1-1", InvalidJobSpec)


def test_the_queue_limit_counts_the_new_entries_and_not_the_pending_jobs_they_replace(state):
    def entries(n: int) -> str:
        return "".join(f"@hourly job{i}\n" for i in range(n))

    def plain_job() -> None:
        submit_job(state, JobSpec(script="#!/bin/sh\n", partition="p"), ANN, now=NOW)

    install(state, entries(4))
    install(state, entries(4))          # 4 replacing 4: 4 queued, the user may have 6
    plain_job(), plain_job()
    install(state, entries(3))          # 2 + 3 replacing 4
    plain_job()                         # 6 queued
    with pytest.raises(CrontabEntryRefused) as caught:
        install(state, entries(4))      # 3 + 4 replacing 3 would be 7
    assert (caught.value.lines, caught.value.cause, caught.value.grpc_code) == ("4-4", LimitExceeded,
                                                                               "RESOURCE_EXHAUSTED")
    assert state.jobs.active_tasks_of_user("ann") == 6 and len(crontab.read_crontab(state, ANN, user="").entries) == 3


@pytest.mark.parametrize("text, entries, error, why", [
    ("x" * 5000, None, ParameterTooLong, "5000 bytes"),
    ("".join(f"@hourly e{n}\n" for n in range(5)), None, ParameterTooLong, "5 entries"),
    ("@hourly a\0b\n", None, InvalidCrontab, "NUL"),
    ("@hourly a\n", [], InvalidCrontab, "0 entries sent for the text's 1 cron lines"),
    ("@hourly a\n", [EntryRequest("* * * * *", JobSpec(script="#!/bin/sh\n"))], InvalidCrontab,
     "line 1: the entry sent has the schedule"),
    ("61 * * * * a\n", [EntryRequest("61 * * * *", JobSpec(script="#!/bin/sh\n"))], InvalidCrontab, "out of range"),
])
def test_hostile_crontabs_are_refused_with_typed_errors(state, text, entries, error, why):
    if entries is None:
        entries = [EntryRequest("@hourly", JobSpec(script="#!/bin/sh\n"))] * text.count("@hourly")
    with pytest.raises(error, match=why):
        crontab.install_crontab(state, ANN, user="", text=text, entries=entries, now=NOW)
    assert state.jobs.count_active() == 0


def test_a_job_spec_carrying_a_schedule_is_refused_by_submit_job(state):
    with pytest.raises(InvalidJobSpec, match="cron_schedule"):
        submit_job(state, JobSpec(script="#!/bin/sh\n", partition="p", cron_schedule="* * * * *"), ANN, now=NOW)


def test_another_users_crontab_is_read_by_operators_and_changed_by_root_alone(state):
    install(state)
    assert crontab.read_crontab(state, OPERATOR, user="ann").user == "ann"
    assert crontab.read_crontab(state, ROOT, user="ann").user == "ann"
    for attempt in (lambda: crontab.read_crontab(state, ANN, user="root"),
                    lambda: crontab.install_crontab(state, ANN, user="root", text="", entries=[], now=NOW),
                    lambda: crontab.remove_crontab(state, OPERATOR, user="ann", now=NOW)):
        with pytest.raises(PermissionDenied):
            attempt()
    with pytest.raises(UserNotFound):   # (root, for a user the controller's host does not know)
        crontab.install_crontab(state, ROOT, user="nosuchuser0", text="", entries=[], now=NOW)
    assert crontab.read_crontab(state, ANN, user="") is not None


def test_a_database_from_before_crontabs_opens_and_keeps_them(tmp_path):
    path = str(tmp_path / "old.db")
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE crontabs")
    store = SqliteStore(path)
    assert store.load_crontabs() == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["#SCRON -t 5", "#SCRON --mem=1", "#SCRON -p", "@hourly x", "* * * * * y", "A=b", "# c", "*/7 1-5 * jan mon z"])),
    max_size=8))
def test_whatever_a_file_holds_it_reads_as_entries_or_as_one_invalid_line(lines):
    text = "\n".join(lines)
    try:
        requests = entry_requests(text, pwd.getpwuid(0))
    except InvalidCrontab as exc:
        assert 1 <= exc.line <= len(lines_of(text)) and exc.detail.startswith(f"line {exc.line}: ")
    else:
        assert len(requests) == len(parse_crontab(text))


# ---------------------------------------------------------------- the entries' signatures (jem-cron)
# (Signed now, by the wall clock, which the controller checks them against as it installs them; the
# schedules' times below are counted from it.)

@pytest.fixture
def signed_state(state, tmp_path):
    """A controller state that checks users' signatures, and holds the key of its credential service."""
    return dataclasses.replace(state, keys=ControllerKeys(str(tmp_path / "security"), with_authd_key=True))


def signed_requests(state, text: str, *, audience: str = tokens.AUD_CRON, lifetime_s: float = 3600,
                    signed_at: float | None = None) -> list[EntryRequest]:
    """`text`'s entries as ANN's client sends them: each signed over its job with the schedule it will carry."""
    signed = []
    for request in requests_for(text):
        digest = spec_digest(dataclasses.replace(request.spec, cron_schedule=parse_schedule(request.schedule).text))
        claims = {"uid": ANN.uid, "gid": ANN.gid, "host": "h", "dig": digest}
        signature = tokens.sign_claims(state.keys.authd_key, claims, audience=audience, lifetime_s=lifetime_s,
                                       now=signed_at)
        signed.append(dataclasses.replace(request, user_signature=signature))
    return signed


def at(t: float) -> str:
    return dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")


def test_a_job_signature_never_installs_an_entry_nor_a_cron_signature_submits_a_job(signed_state):
    state, text, now = signed_state, "@daily date\n", time.time()
    with pytest.raises(CrontabEntryRefused) as refused:
        crontab.install_crontab(state, ANN, user="", text=text, now=now,
                                entries=signed_requests(state, text, audience=tokens.AUD_JOB))
    assert refused.value.cause is BadUserSignature and crontab.read_crontab(state, ANN, user="") is None
    spec = JobSpec(script="#!/bin/sh\ndate\n", partition="p")
    cron_signed = tokens.sign_claims(state.keys.authd_key, {"uid": ANN.uid, "gid": ANN.gid, "dig": spec_digest(spec)},
                                     audience=tokens.AUD_CRON, lifetime_s=3600)
    with pytest.raises(BadUserSignature):
        submit_job(state, spec, ANN, now=now, user_signature=cron_signed)
    installed = crontab.install_crontab(state, ANN, user="", text=text, now=now, entries=signed_requests(state, text))
    assert state.jobs.find(installed.entries[0].job_id).reason is JobReason.BEGIN_TIME   # (the honest path)


def test_an_entry_runs_while_its_signature_lasts_and_is_then_held_saying_why(signed_state):
    state, text, now = signed_state, "* * * * * date\n", time.time()
    minute = int(now) // 60 * 60
    # The runs at minute+60 and minute+120 are within the signature, the one at minute+180 is not.
    installed = crontab.install_crontab(state, ANN, user="", text=text, now=now, entries=signed_requests(
        state, text, lifetime_s=minute + 150 - int(now), signed_at=now))
    job_id = installed.entries[0].job_id
    for run in (minute + 60, minute + 120):
        with state.lock:
            crontab.recur(state, now=run - 10)
        job = state.jobs.find(job_id)
        assert (job.state, job.reason, job.held_by, job.spec.begin_time) == (
            JobState.PENDING, JobReason.BEGIN_TIME, "", run)
        end_run(state, job_id, JobEvent.COMPLETE, run)
    with state.lock:
        crontab.recur(state, now=minute + 122)
    job = state.jobs.find(job_id)
    assert (job.state, job.reason, job.held_by, job.restart_count) == (
        JobState.PENDING, JobReason.JOB_HELD_ADMIN, "admin", 2)
    assert job.reason_detail == (f"scrontab: its user's signature expires at {at(minute + 150)}, before its run at "
                                 f"{at(minute + 180)}: install the crontab again to renew it")
    stored = {j.job_id: j for j in state.store.load_jobs(ended_after=None)}[job_id]   # (as a restart finds it)
    assert (stored.held_by, stored.reason, stored.reason_detail) == ("admin", job.reason, job.reason_detail)
    assert crontab.read_crontab(state, ANN, user="") == installed   # (the crontab stays as installed)
    # Installing it again signs it afresh: the held job is cancelled, the new one waits for its time.
    again = crontab.install_crontab(state, ANN, user="", text=text, now=minute + 125,
                                    entries=signed_requests(state, text))
    with state.lock:
        crontab.recur(state, now=minute + 126)
    fresh = state.jobs.find(again.entries[0].job_id)
    assert state.jobs.find(job_id).state is JobState.CANCELLED
    assert (fresh.state, fresh.reason, fresh.held_by) == (JobState.PENDING, JobReason.BEGIN_TIME, "")


def test_an_entry_whose_signature_expired_while_it_waited_is_held_and_never_started(signed_state):
    state, text, now = signed_state, "@yearly date\n", time.time()
    job_id = crontab.install_crontab(state, ANN, user="", text=text, now=now, entries=signed_requests(
        state, text, lifetime_s=60, signed_at=now)).entries[0].job_id
    expiry = int(now) + 60
    with state.lock:
        crontab.recur(state, now=now + 1)
    job = state.jobs.find(job_id)
    assert (job.reason, job.held_by, job.start_time) == (JobReason.JOB_HELD_ADMIN, "admin", None)
    assert job.reason_detail == (f"scrontab: its user's signature expires at {at(expiry)}, before its run at "
                                 f"{at(job.spec.begin_time)}: install the crontab again to renew it")
    with state.lock:   # (released by an operator once it expired, it is held again before it could start)
        job.held_by, job.reason, job.reason_detail = "", JobReason.NONE, ""
        crontab.recur(state, now=job.spec.begin_time + 1)
    assert (job.held_by, job.reason_detail) == (
        "admin", f"scrontab: its user's signature expired at {at(expiry)}: install the crontab again to renew it")
