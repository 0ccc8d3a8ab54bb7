"""The serialized `Job` messages of ListJobs, kept and reused while the jobs are unchanged.

A listing of 10,000 jobs spends ~300 ms building `Job` messages in Python,
and ~10 ms parsing and writing the same bytes in the protobuf runtime. So:

- each job's bytes (as `job_to_pb(job, with_script=False)` makes them) are kept
  with the job's `change_stamp` (jem.model.job.ChangeStamped: it rises
  whenever a field of the job is set) and reused while the stamp is the same;
- a listing that scans the queue (no user named) reads it by *segments*, the
  ids sharing `job_id // SEGMENT_IDS`: each segment's matching jobs' bytes are
  kept for the listing's filter with the ids the segment held and the highest
  stamp among them, and reused whole while both are the same. Stamps come
  from one rising counter, so a job changed since raises the highest; a job
  gone or added changes the ids. A listing of 100,000 unchanged jobs then
  costs a few C-level loops per segment instead of ~3 µs of Python per job.

Invariant this relies on: every `Job` field holds an immutable value (frozen
dataclasses, tuples, enums, numbers, strings), so that a job changes only by
having a field set. `tests/unit/test_jobwire.py` checks that, so a new
mutable field fails a test instead of serving stale bytes.
"""

import operator
from typing import Callable

from jem.convert import job_to_pb
from jem.model.job import Job
from jem.model.jobfilter import JobFilter
from jem.v1 import jobs_pb2

SEGMENT_IDS = 64          # ids per segment (and per hold of the cluster lock while a listing reads them)
MAX_FILTERS = 4           # filters whose segments are kept (the most recently used)
_STAMP = operator.attrgetter("change_stamp")
# ListJobsResponse.jobs on the wire: the key byte of a length-delimited field (wire type 2).
_JOBS_KEY = bytes([jobs_pb2.ListJobsResponse.DESCRIPTOR.fields_by_name["jobs"].number << 3 | 2])
# ListJobsResponse.next_after_job_id: a varint (wire type 0).
_NEXT_AFTER_KEY = bytes([jobs_pb2.ListJobsResponse.DESCRIPTOR.fields_by_name["next_after_job_id"].number << 3])


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encoded(job: Job) -> bytes:
    """The job as one framed `jobs` entry, made now and kept nowhere (a job read from the store:
    each read is a new object with a new stamp, so keeping it would only fill the cache)."""
    data = job_to_pb(job, with_script=False).SerializeToString()
    return _JOBS_KEY + _varint(len(data)) + data


class JobWire:
    """Jobs' framed bytes, and segments' per filter. Callers serialize access (the cluster state lock)."""

    def __init__(self):
        self._entries: dict[int, tuple[int, bytes]] = {}   # job id -> (change stamp, framed `jobs` entry)
        # filter -> first id -> (ids it held, their highest stamp, the matching jobs' framed
        # entries, their total size, the last matching id)
        self._segments: dict[JobFilter, dict[int, tuple[tuple[int, ...], int, tuple[bytes, ...], int, int]]] = {}

    def framed(self, job: Job) -> bytes:
        """The job as one framed `jobs` entry of a ListJobsResponse, built only when the job changed."""
        stamp = job.change_stamp
        entry = self._entries.get(job.job_id)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        framed = encoded(job)
        self._entries[job.job_id] = (stamp, framed)
        return framed

    def add_segment(self, page: "Page", job_filter: JobFilter, ids: list[int],
                    find_all: Callable[[list[int]], list[Job | None]]) -> None:
        """Add to `page` the jobs of `ids` (ascending, within one segment) that `job_filter`
        matches, as far as the page has room; `find_all` gives the jobs in memory (None for one
        gone meanwhile). Segments are kept only for filters that list much of the queue: one
        naming jobs or job names (`squeue -j`, `--name`, each poll its own) would only push
        plain `squeue`'s out of the cache."""
        jobs = find_all(ids)
        if not all(jobs):   # (a job is always true: this looks for None in C)
            jobs = [job for job in jobs if job is not None]
        elif jobs and page.has_room() and not (job_filter.job_ids or job_filter.names or job_filter.array_tasks):
            # Kept by first id: a page that starts within a segment keeps that part apart.
            key, stamp, segments = tuple(ids), max(map(_STAMP, jobs)), self._segments_of(job_filter)
            kept = segments.get(ids[0])
            if kept is None or kept[0] != key or kept[1] != stamp:
                matching = [job for job in jobs if job_filter.matches(job)]
                parts = tuple(map(self.framed, matching))
                kept = (key, stamp, parts, sum(map(len, parts)), matching[-1].job_id if matching else 0)
                segments[ids[0]] = kept
            if page.add_parts(kept[2], kept[3], kept[4]):
                return
        for job in jobs:
            if job_filter.matches(job) and not page.add(job):
                return

    def _segments_of(self, job_filter: JobFilter) -> dict:
        segments = self._segments.pop(job_filter, None)
        if segments is None:
            segments = {}
            if len(self._segments) >= MAX_FILTERS:
                del self._segments[next(iter(self._segments))]   # the least recently used
        self._segments[job_filter] = segments   # (last in order: the most recently used)
        return segments

    def page(self, *, max_jobs: int = 0, max_bytes: int = 0) -> "Page":
        """An empty page of a ListJobsResponse, filled a job (`Page.add`) or a segment at a time."""
        return Page(self, max_jobs=max_jobs, max_bytes=max_bytes)

    def forget_all_but(self, job_ids: set[int]) -> None:
        """Drop the bytes of jobs that left the queue view (the caller decides when: see `is_oversized`),
        and every segment kept."""
        self._entries = {k: v for k, v in self._entries.items() if k in job_ids}
        self._segments = {}

    def is_oversized(self, n_jobs: int) -> bool:
        n_segments = sum(map(len, self._segments.values()))
        return len(self._entries) > 2 * n_jobs + 1024 or n_segments > MAX_FILTERS * (2 * n_jobs // SEGMENT_IDS + 64)


class Page:
    """One ListJobsResponse built a job or a segment at a time, so that its builder may let go
    of the cluster state lock between them (each `add` runs under it: it reads the job and the
    wire's cache). Full at `max_jobs` jobs or about `max_bytes` (at least one job is sent);
    the response then goes on after the last job sent."""

    def __init__(self, wire: JobWire, *, max_jobs: int = 0, max_bytes: int = 0):
        self._wire = wire
        self._max_jobs, self._max_bytes = max_jobs, max_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._last_job_id = 0
        self.is_full = False

    def add(self, job: Job) -> bool:
        """Add `job`; False (the job not added, the page full) when it has no room for it."""
        if self._max_jobs and len(self._parts) == self._max_jobs:
            self.is_full = True
            return False
        return self.add_framed(job.job_id, self._wire.framed(job))

    def add_framed(self, job_id: int, framed: bytes) -> bool:
        """Add a job's framed entry (`encoded`, `JobWire.framed`); False when it has no room for it."""
        if (self._max_jobs and len(self._parts) == self._max_jobs) or \
                (self._max_bytes and self._parts and self._size + len(framed) > self._max_bytes):
            self.is_full = True
            return False
        self._parts.append(framed)
        self._size += len(framed)
        self._last_job_id = job_id
        return True

    def has_room(self) -> bool:
        """Whether one more job may fit."""
        return not self.is_full and not (self._max_jobs and len(self._parts) >= self._max_jobs)

    def add_parts(self, parts: tuple[bytes, ...], size: int, last_job_id: int) -> bool:
        """Add a segment's framed jobs whole if the page has room for all of them; False (nothing
        added) if not."""
        if not parts:
            return True
        # (No "at least one" here, unlike `add`: a page's first segment over the size goes job by
        # job, so that a few huge jobs never make a page of 64 of them.)
        if (self._max_jobs and len(self._parts) + len(parts) > self._max_jobs) or \
                (self._max_bytes and self._size + size > self._max_bytes):
            return False
        self._parts.extend(parts)
        self._size += size
        self._last_job_id = last_job_id
        return True

    def response(self, *, next_after_job_id: int = 0) -> bytes:
        """The serialized response: the jobs added, and where the listing goes on (after the
        last job sent when the page is full, else `next_after_job_id`)."""
        next_after = self._last_job_id if self.is_full else next_after_job_id
        if next_after:
            return b"".join(self._parts) + _NEXT_AFTER_KEY + _varint(next_after)
        return b"".join(self._parts)
