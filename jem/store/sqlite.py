"""The embedded store: one SQLite database in WAL mode under the state directory.

Every write is one transaction committed before the method returns.
`synchronous=normal` (the default) survives a crash of the controller
process; `full` also survives a power loss, at one fsync per commit.
Job ids come from AUTOINCREMENT, so an id is never handed out twice, even
after the jobs table is purged.
"""

import json
import os
import sqlite3
import threading
import time as _time
import urllib.parse
from dataclasses import asdict
from typing import Iterator, Sequence

from jem.model.accounting import new_table
from jem.model.associations import AccountingTable, User
from jem.model.crontab import Crontab
from jem.model.audit import AuditQuery, AuditRecord
from jem.model.errors import StoreUnavailable
from jem.model.job import Job
from jem.model.partition import Partition
from jem.model.reservation import Reservation
from jem.model.run import RequeuedRun
from jem.model.jobfilter import JobFilter
from jem.model.node_events import NodeEvent, event_state
from jem.store.base import EventRecord, JobChange, JobPage, NodeRecord
from jem.model.step import Step
from jem.model.utilization import USAGE_EVENTS, JobActivity
from jem.store.codec import crontab_from_json, crontab_to_json
from jem.store.codec import (association_from_json, association_to_json, job_from_json, job_to_json, qos_from_json,
                             qos_to_json, reservation_from_json, reservation_to_json, run_from_json, run_to_json,
                             step_from_json, step_to_json)

MAX_INTEGER = (1 << 63) - 1   # SQLite's largest INTEGER

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user        TEXT NOT NULL,
    state       TEXT NOT NULL,
    partition   TEXT NOT NULL,
    submit_time REAL NOT NULL,
    end_time    REAL,
    record      TEXT NOT NULL,
    array_job_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_end ON jobs(end_time);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs(user);
CREATE TABLE IF NOT EXISTS job_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL REFERENCES jobs(job_id),
    time    REAL NOT NULL,
    event   TEXT NOT NULL,
    state   TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events(job_id, seq);
CREATE TABLE IF NOT EXISTS audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    time    REAL NOT NULL,
    user    TEXT NOT NULL,
    uid     INTEGER NOT NULL,
    peer    TEXT NOT NULL,
    method  TEXT NOT NULL,
    request TEXT NOT NULL,
    result  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    job_id  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time);
CREATE INDEX IF NOT EXISTS audit_by_job ON audit(job_id) WHERE job_id > 0;
CREATE TABLE IF NOT EXISTS nodes (
    name        TEXT PRIMARY KEY,
    is_drained  INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    is_down     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS node_events (
    node        TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    cpus        INTEGER NOT NULL,
    time_start  REAL NOT NULL,
    time_end    REAL
);
CREATE INDEX IF NOT EXISTS node_events_by_start ON node_events(time_start);
CREATE INDEX IF NOT EXISTS node_events_by_end ON node_events(time_end);
CREATE UNIQUE INDEX IF NOT EXISTS node_events_open ON node_events(node) WHERE time_end IS NULL;
CREATE TABLE IF NOT EXISTS steps (
    job_id  INTEGER NOT NULL REFERENCES jobs(job_id),
    step_id INTEGER NOT NULL,
    state   TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (job_id, step_id)
);
CREATE TABLE IF NOT EXISTS requeued_runs (
    job_id  INTEGER NOT NULL REFERENCES jobs(job_id),
    run     INTEGER NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (job_id, run)
);
CREATE TABLE IF NOT EXISTS partitions (
    name    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS associations (
    account TEXT NOT NULL,
    user    TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (account, user)
);
CREATE TABLE IF NOT EXISTS accounting_users (
    name            TEXT PRIMARY KEY,
    default_account TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS qos (
    name    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    name    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crontabs (
    user    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
"""


class SqliteStore:
    """The `Store` on SQLite. Thread-safe: one connection behind a lock."""

    def __init__(self, path: str, *, synchronous: str = "normal"):
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', got {synchronous!r}")
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "array_job_id" not in columns:  # a database from before job arrays
            self._db.execute("ALTER TABLE jobs ADD COLUMN array_job_id INTEGER NOT NULL DEFAULT 0")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_by_array ON jobs(array_job_id) WHERE array_job_id > 0")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(nodes)")}
        if "is_down" not in columns:  # a database from before scontrol's state=down
            self._db.execute("ALTER TABLE nodes ADD COLUMN is_down INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_job(self, job: Job, *, time: float) -> tuple[int, int]:
        with self._lock, self._transaction():
            return self._insert_job(job, time)

    def add_jobs(self, jobs: Sequence[Job], *, time: float,
                 changes: Sequence[JobChange] = ()) -> tuple[list[tuple[int, int]], list[int]]:
        with self._lock, self._transaction():
            added = [self._insert_job(job, time) for job in jobs]
            return added, self._update_jobs(changes)

    def _insert_job(self, job: Job, time: float) -> tuple[int, int]:
        (job_id,) = self._db.execute(
            "INSERT INTO jobs (user, state, partition, submit_time, end_time, record)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING job_id",
            (job.user, job.state.value, job.spec.partition, job.submit_time, job.end_time, job_to_json(job)),
        ).fetchone()
        seq = self._insert_event(job_id, time, "submit", job.state.value, "")
        array_job_id = job.array_parent_id or (job_id if job.spec.array else 0)
        if array_job_id:
            self._db.execute("UPDATE jobs SET array_job_id = ? WHERE job_id = ?", (array_job_id, job_id))
        return job_id, seq

    def commit(self, changes: Sequence[JobChange]) -> list[int]:
        with self._lock, self._transaction():
            return self._update_jobs(changes)

    def _update_jobs(self, changes: Sequence[JobChange]) -> list[int]:
        seqs = []
        for change in changes:
            job = change.job
            self._db.execute(
                "UPDATE jobs SET state = ?, partition = ?, end_time = ?, record = ? WHERE job_id = ?",
                (job.state.value, job.spec.partition, job.end_time, job_to_json(job), job.job_id),
            )
            seqs.append(self._insert_event(job.job_id, change.time, change.event.value, job.state.value,
                                           change.detail))
            if change.run is not None:   # (replaced, not added twice: a requeue committed again is one run)
                self._db.execute("INSERT OR REPLACE INTO requeued_runs (job_id, run, record) VALUES (?, ?, ?)",
                                 (change.run.job_id, change.run.run, run_to_json(change.run)))
        return seqs

    def load_jobs(self, *, ended_after: float | None) -> list[Job]:
        query = "SELECT job_id, record FROM jobs"
        args: tuple = ()
        if ended_after is not None:
            query += " WHERE end_time IS NULL OR end_time > ?"
            args = (ended_after,)
        jobs = []
        with self._lock:   # row by row: all the rows' text at once was a second copy of the queue
            for job_id, record in self._db.execute(query + " ORDER BY job_id", args):
                jobs.append(job_from_json(job_id, record))
        return jobs

    def get_job(self, job_id: int) -> Job | None:
        if not 0 < job_id <= MAX_INTEGER:   # (no job has an id SQLite cannot hold: a request's uint64 may be any)
            return None
        with self._lock:
            row = self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return job_from_json(job_id, row[0]) if row else None

    def list_jobs(self, job_filter: JobFilter, *, after_job_id: int = 0, limit: int = 0) -> JobPage:
        clauses, args = ["job_id > ?"], [after_job_id]
        for column, values in (("user", job_filter.users), ("state", [s.value for s in job_filter.states]),
                               ("partition", job_filter.partitions)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(sorted(values))
        if job_filter.job_ids:   # an array's id names its records too
            marks = ", ".join("?" * len(job_filter.job_ids))
            clauses.append(f"(job_id IN ({marks}) OR array_job_id IN ({marks}))")
            args.extend(sorted(job_filter.job_ids) * 2)
        if job_filter.alive_until is not None:
            clauses.append("submit_time <= ?")
            args.append(job_filter.alive_until)
        if job_filter.alive_from is not None:
            clauses.append("(end_time IS NULL OR end_time >= ?)")
            args.append(job_filter.alive_from)
        query = f"SELECT job_id, record FROM jobs WHERE {' AND '.join(clauses)} ORDER BY job_id"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        jobs = [job for job in (job_from_json(job_id, record) for job_id, record in rows) if job_filter.matches(job)]
        return JobPage(jobs, rows[-1][0] if limit and len(rows) == limit else 0)

    def job_activity(self, *, start: float, end: float, users: frozenset[str] = frozenset()) -> Iterator[JobActivity]:
        """Read on a connection of its own, in one read transaction (WAL: the controller's
        writes go on meanwhile), a job at a time: a month of jobs is never all in memory."""
        clauses, args = ["submit_time < ?", "(end_time IS NULL OR end_time > ?)"], [end, start]
        if users:
            clauses.append(f"user IN ({', '.join('?' * len(users))})")
            args.extend(sorted(users))
        events = sorted(USAGE_EVENTS)
        query = (
            "WITH picked AS MATERIALIZED (SELECT job_id, user,"
            " json_extract(record, '$.spec.account') AS account,"
            " json_extract(record, '$.shape.n_nodes') * json_extract(record, '$.shape.per_node.cpus') AS n_cpus,"
            " json_extract(record, '$.spec.begin_time') AS begin_time,"
            " json_extract(record, '$.spec.hold') AS held,"
            " json_extract(record, '$.dependency') AS dependency,"
            " json_array_length(record, '$.array_pending') AS n_pending"
            f" FROM jobs WHERE {' AND '.join(clauses)})"
            " SELECT p.job_id, p.user, p.account, p.n_cpus, p.begin_time, p.held, p.dependency, p.n_pending,"
            " e.time, e.event FROM picked p JOIN job_events e ON e.job_id = p.job_id"
            f" WHERE e.event IN ({', '.join('?' * len(events))}) ORDER BY p.job_id, e.seq")
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            db.execute("BEGIN")
            row, job_events = None, []
            for current in db.execute(query, [*args, *events]):
                if row is not None and current[0] != row[0]:
                    yield _activity(row, job_events)
                    job_events = []
                row = current
                job_events.append((current[8], current[9]))
            if row is not None:
                yield _activity(row, job_events)
            db.execute("COMMIT")
        finally:
            db.close()

    def add_audit(self, records: Sequence[AuditRecord]) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO audit (time, user, uid, peer, method, request, result, detail, job_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.time, r.user, r.uid, r.peer, r.method, r.request, r.result, r.detail,
                  r.job_id if r.job_id <= MAX_INTEGER else 0)   # (a request's job id may be any uint64: its text has it)
                 for r in records])

    def list_audit(self, query: AuditQuery) -> list[AuditRecord]:
        clauses, args = ["1"], []
        for clause, value, is_set in (("time >= ?", query.since, query.since is not None),
                                      ("time <= ?", query.until, query.until is not None),
                                      ("user = ?", query.user, bool(query.user)),
                                      ("job_id = ?", query.job_id, bool(query.job_id))):
            if is_set:
                clauses.append(clause)
                args.append(value)
        with self._lock:   # the newest `limit` records, returned oldest first
            rows = self._db.execute(
                "SELECT seq, time, user, uid, peer, method, request, result, detail, job_id FROM audit"
                f" WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?", [*args, max(query.limit, 0)]).fetchall()
        return [AuditRecord(time=t, user=u, uid=uid, peer=p, method=m, request=r, result=res, detail=d, job_id=j,
                            seq=seq) for seq, t, u, uid, p, m, r, res, d, j in reversed(rows)]

    def forget_audit(self, *, before: float) -> int:
        """Drop records older than `before`; returns how many."""
        with self._lock, self._transaction():
            return self._db.execute("DELETE FROM audit WHERE time < ?", (before,)).rowcount

    def job_events(self, job_id: int) -> list[EventRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, job_id, time, event, state, detail FROM job_events WHERE job_id = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [EventRecord(*row) for row in rows]

    def list_runs(self, job_ids: Sequence[int]) -> list[RequeuedRun]:
        if not job_ids:
            return []
        marks = ", ".join("?" * len(job_ids))
        with self._lock:
            rows = self._db.execute(f"SELECT record FROM requeued_runs WHERE job_id IN ({marks}) ORDER BY job_id, run",
                                    list(job_ids)).fetchall()
        return [run_from_json(record) for (record,) in rows]

    def save_node(self, record: NodeRecord, *, cpus: int = 0, time: float | None = None) -> None:
        event_time = _time.time() if time is None else time
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO nodes (name, is_drained, reason, is_down) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET is_drained = excluded.is_drained, reason = excluded.reason,"
                " is_down = excluded.is_down",
                (record.name, int(record.is_drained), record.reason, int(record.is_down)),
            )
            self._note_node_event(record, cpus=cpus, time=event_time)

    def _note_node_event(self, record: NodeRecord, *, cpus: int, time: float) -> None:
        """End the node's open event unless it says what `record` says; open one for a node
        drained or DOWN (in the caller's transaction)."""
        state = event_state(is_drained=record.is_drained, is_down=record.is_down)
        current = self._db.execute("SELECT state, reason FROM node_events WHERE node = ? AND time_end IS NULL",
                                   (record.name,)).fetchone()
        if current == (state, record.reason):
            return
        if current is not None:
            self._db.execute("UPDATE node_events SET time_end = ? WHERE node = ? AND time_end IS NULL",
                             (time, record.name))
        if state:
            self._db.execute("INSERT INTO node_events (node, state, reason, cpus, time_start) VALUES (?, ?, ?, ?, ?)",
                             (record.name, state, record.reason, cpus, time))

    def node_events(self, *, start: float, end: float) -> list[NodeEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT node, state, reason, cpus, time_start, time_end FROM node_events"
                " WHERE time_start < ? AND (time_end IS NULL OR time_end > ?) ORDER BY node, time_start",
                (end, start)).fetchall()
        return [NodeEvent(*row) for row in rows]

    def forget_node_events(self, *, before: float) -> int:
        with self._lock, self._transaction():
            return self._db.execute("DELETE FROM node_events WHERE time_end < ?", (before,)).rowcount

    def load_nodes(self) -> list[NodeRecord]:
        with self._lock:
            rows = self._db.execute("SELECT name, is_drained, reason, is_down FROM nodes ORDER BY name").fetchall()
        return [NodeRecord(name, bool(drained), reason, is_down=bool(down)) for name, drained, reason, down in rows]

    def save_partitions(self, partitions: Sequence[Partition]) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM partitions")
            self._db.executemany(
                "INSERT INTO partitions (name, record) VALUES (?, ?)",
                [(p.name, json.dumps(asdict(p))) for p in partitions],
            )

    def load_accounting(self) -> AccountingTable:
        with self._lock:
            assocs = self._db.execute("SELECT record FROM associations").fetchall()
            users = self._db.execute("SELECT name, default_account FROM accounting_users").fetchall()
            qos = self._db.execute("SELECT record FROM qos").fetchall()
        return new_table([association_from_json(r) for r, in assocs], [User(n, d) for n, d in users],
                         [qos_from_json(r) for r, in qos])

    def save_accounting(self, table: AccountingTable, *, previous: AccountingTable) -> None:
        """Write what differs between `previous` (as stored) and `table`, in one transaction."""
        assoc_rows, assoc_gone = _differences(previous.associations, table.associations)
        user_rows, users_gone = _differences(previous.users, table.users)
        qos_rows, qos_gone = _differences(previous.qos, table.qos)
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM associations WHERE account = ? AND user = ?", assoc_gone)
            self._db.executemany("INSERT OR REPLACE INTO associations (account, user, record) VALUES (?, ?, ?)",
                                 [(a.account, a.user, association_to_json(a)) for a in assoc_rows])
            self._db.executemany("DELETE FROM accounting_users WHERE name = ?", [(n,) for n in users_gone])
            self._db.executemany("INSERT OR REPLACE INTO accounting_users (name, default_account) VALUES (?, ?)",
                                 [(u.name, u.default_account) for u in user_rows])
            self._db.executemany("DELETE FROM qos WHERE name = ?", [(n,) for n in qos_gone])
            self._db.executemany("INSERT OR REPLACE INTO qos (name, record) VALUES (?, ?)",
                                 [(q.name, qos_to_json(q)) for q in qos_rows])

    def load_reservations(self) -> list[Reservation]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM reservations ORDER BY name").fetchall()
        return [reservation_from_json(record) for record, in rows]

    def save_reservation(self, reservation: Reservation) -> None:
        with self._lock, self._transaction():
            self._db.execute("INSERT OR REPLACE INTO reservations (name, record) VALUES (?, ?)",
                             (reservation.name, reservation_to_json(reservation)))

    def delete_reservation(self, name: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM reservations WHERE name = ?", (name,))

    def load_crontabs(self) -> list[Crontab]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM crontabs ORDER BY user").fetchall()
        return [crontab_from_json(record) for record, in rows]

    def save_crontab(self, crontab: Crontab) -> None:
        with self._lock, self._transaction():
            self._db.execute("INSERT OR REPLACE INTO crontabs (user, record) VALUES (?, ?)",
                             (crontab.user, crontab_to_json(crontab)))

    def delete_crontab(self, user: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM crontabs WHERE user = ?", (user,))

    def save_step(self, step: Step) -> None:
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO steps (job_id, step_id, state, record) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(job_id, step_id) DO UPDATE SET state = excluded.state, record = excluded.record",
                (step.job_id, step.step_id, step.state.value, step_to_json(step)),
            )

    def list_steps(self, job_ids: Sequence[int]) -> list[Step]:
        if not job_ids:
            return []
        marks = ", ".join("?" * len(job_ids))
        with self._lock:
            rows = self._db.execute(f"SELECT record FROM steps WHERE job_id IN ({marks}) ORDER BY job_id, step_id",
                                    list(job_ids)).fetchall()
        return [step_from_json(record) for (record,) in rows]

    def next_step_id(self, job_id: int) -> int:
        with self._lock:
            (last,) = self._db.execute("SELECT MAX(step_id) FROM steps WHERE job_id = ?", (job_id,)).fetchone()
        return 0 if last is None else last + 1

    def running_steps(self) -> list[Step]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM steps WHERE state = 'RUNNING' ORDER BY job_id, step_id"
                                    ).fetchall()
        return [step_from_json(record) for (record,) in rows]

    def _insert_event(self, job_id: int, time: float, event: str, state: str, detail: str) -> int:
        (seq,) = self._db.execute(
            "INSERT INTO job_events (job_id, time, event, state, detail) VALUES (?, ?, ?, ?, ?) RETURNING seq",
            (job_id, time, event, state, detail),
        ).fetchone()
        return seq

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error. A write SQLite refuses (a full disk,
    an I/O error), in the body or at COMMIT, leaves no transaction open and is raised as
    StoreUnavailable: the caller knows nothing was stored."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _unavailable(exc) from exc

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return False
            except sqlite3.OperationalError as commit_error:
                self._rollback()
                raise _unavailable(commit_error) from commit_error
            except sqlite3.Error:
                self._rollback()
                raise
        self._rollback()
        if isinstance(exc, sqlite3.OperationalError):
            raise _unavailable(exc) from exc
        return False

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")


def _activity(row: tuple, events: list[tuple[float, str]]) -> JobActivity:
    job_id, user, account, n_cpus, begin_time, held, dependency, n_pending = row[:8]
    return JobActivity(job_id=job_id, user=user, account=account or "", n_cpus=int(n_cpus or 0),
                       events=tuple(events), begin_time=begin_time, is_held_at_submit=bool(held),
                       is_waiting_on_dependency=bool(dependency), n_waiting_tasks=max(1, n_pending or 0))


def _differences(before: dict, after: dict) -> tuple[list, list]:
    """(the values of `after` new or changed since `before`, the keys `after` lacks)."""
    return ([value for key, value in after.items() if before.get(key) != value],
            [key for key in before if key not in after])


def _unavailable(error: sqlite3.OperationalError) -> StoreUnavailable:
    """SQLite's OperationalError is a write refused for want of room or a working disk (full,
    I/O error, locked): not the request's fault, and nothing was stored. Other errors are ours."""
    return StoreUnavailable(f"the store refused a write: {error}")
