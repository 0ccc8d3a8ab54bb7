"""The embedded store: one SQLite database in WAL mode under the state directory.

Every write is one transaction committed before the method returns.
`synchronous=normal` (the default) survives a crash of the controller
process; `full` also survives a power loss, at one fsync per commit.
Job ids come from AUTOINCREMENT, so an id is never handed out twice, even
after the jobs table is purged.
"""

import json
import sqlite3
import threading
from dataclasses import asdict
from typing import Sequence

from jem.model.job import Job
from jem.model.partition import Partition
from jem.store.base import EventRecord, JobChange, NodeRecord
from jem.model.step import Step
from jem.store.codec import job_from_json, job_to_json, step_from_json, step_to_json

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
CREATE TABLE IF NOT EXISTS nodes (
    name        TEXT PRIMARY KEY,
    is_drained  INTEGER NOT NULL,
    reason      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    job_id  INTEGER NOT NULL REFERENCES jobs(job_id),
    step_id INTEGER NOT NULL,
    state   TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (job_id, step_id)
);
CREATE TABLE IF NOT EXISTS partitions (
    name    TEXT PRIMARY KEY,
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
        return seqs

    def load_jobs(self, *, ended_after: float | None) -> list[Job]:
        query = "SELECT job_id, record FROM jobs"
        args: tuple = ()
        if ended_after is not None:
            query += " WHERE end_time IS NULL OR end_time > ?"
            args = (ended_after,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY job_id", args).fetchall()
        return [job_from_json(job_id, record) for job_id, record in rows]

    def get_job(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return job_from_json(job_id, row[0]) if row else None

    def list_jobs(self, *, users: Sequence[str] = (), states: Sequence[str] = (),
                  job_ids: Sequence[int] = (), array_job_ids: Sequence[int] = ()) -> list[Job]:
        clauses, args = [], []
        for column, values in (("user", users), ("state", states), ("job_id", job_ids),
                               ("array_job_id", array_job_ids)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT job_id, record FROM jobs{where} ORDER BY job_id", args).fetchall()
        return [job_from_json(job_id, record) for job_id, record in rows]

    def job_events(self, job_id: int) -> list[EventRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, job_id, time, event, state, detail FROM job_events WHERE job_id = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [EventRecord(*row) for row in rows]

    def save_node(self, record: NodeRecord) -> None:
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO nodes (name, is_drained, reason) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET is_drained = excluded.is_drained, reason = excluded.reason",
                (record.name, int(record.is_drained), record.reason),
            )

    def load_nodes(self) -> list[NodeRecord]:
        with self._lock:
            rows = self._db.execute("SELECT name, is_drained, reason FROM nodes ORDER BY name").fetchall()
        return [NodeRecord(name, bool(drained), reason) for name, drained, reason in rows]

    def save_partitions(self, partitions: Sequence[Partition]) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM partitions")
            self._db.executemany(
                "INSERT INTO partitions (name, record) VALUES (?, ?)",
                [(p.name, json.dumps(asdict(p))) for p in partitions],
            )

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
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
