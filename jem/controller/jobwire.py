"""The serialized `Job` messages of ListJobs, kept per job and reused while the job's fields are unchanged.

A listing of 10,000 jobs spends ~300 ms building `Job` messages in Python,
and ~10 ms parsing and writing the same bytes in the protobuf runtime. So
each job's bytes (as `job_to_pb(job, with_script=False)` makes them) are kept
with a fingerprint of the job: the values of every `Job` field, the usage
counters flattened (JobUsage is changed in place). A listing reuses the
bytes of jobs whose fingerprint is equal and joins them into one response.

Invariant the fingerprint relies on: every `Job` field holds an immutable
value (frozen dataclasses, tuples, enums, numbers, strings), except `usage`,
which is flattened. `tests/unit/test_jobwire.py` checks that, so a new
mutable field fails a test instead of serving stale bytes.
"""

import dataclasses
import operator

from jem.convert import job_to_pb
from jem.model.job import Job, JobUsage
from jem.v1 import jobs_pb2

_JOB_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(Job)))
_USAGE_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(JobUsage)))
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


class JobWire:
    """job id -> (fingerprint, framed `jobs` entry bytes). Callers serialize access (the cluster state lock)."""

    def __init__(self):
        self._entries: dict[int, tuple[tuple, bytes]] = {}

    def framed(self, job: Job) -> bytes:
        """The job as one framed `jobs` entry of a ListJobsResponse, built only when the job changed."""
        fingerprint = (_JOB_FIELDS(job), _USAGE_FIELDS(job.usage))
        entry = self._entries.get(job.job_id)
        if entry is not None and entry[0] == fingerprint:
            return entry[1]
        data = job_to_pb(job, with_script=False).SerializeToString()
        framed = _JOBS_KEY + _varint(len(data)) + data
        self._entries[job.job_id] = (fingerprint, framed)
        return framed

    def list_response(self, jobs: list[Job], *, next_after_job_id: int = 0, max_bytes: int = 0) -> bytes:
        """The serialized ListJobsResponse of `jobs`, in their order, and where the listing goes
        on. With `max_bytes`, jobs stop at that size (at least one is sent), and the response
        then goes on after the last one sent."""
        page = self.page(max_bytes=max_bytes)
        for job in jobs:
            if not page.add(job):
                break
        return page.response(next_after_job_id=next_after_job_id)

    def page(self, *, max_jobs: int = 0, max_bytes: int = 0) -> "Page":
        """An empty page of a ListJobsResponse, filled a job at a time (`Page.add`)."""
        return Page(self, max_jobs=max_jobs, max_bytes=max_bytes)

    def forget_all_but(self, job_ids: set[int]) -> None:
        """Drop the bytes of jobs that left the queue view (the caller decides when: see `is_oversized`)."""
        self._entries = {k: v for k, v in self._entries.items() if k in job_ids}

    def is_oversized(self, n_jobs: int) -> bool:
        return len(self._entries) > 2 * n_jobs + 1024


class Page:
    """One ListJobsResponse built a job at a time, so that its builder may let go of the
    cluster state lock between jobs (each `add` runs under it: it reads the job and the
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
        framed = self._wire.framed(job)
        if self._max_bytes and self._parts and self._size + len(framed) > self._max_bytes:
            self.is_full = True
            return False
        self._parts.append(framed)
        self._size += len(framed)
        self._last_job_id = job.job_id
        return True

    def response(self, *, next_after_job_id: int = 0) -> bytes:
        """The serialized response: the jobs added, and where the listing goes on (after the
        last job sent when the page is full, else `next_after_job_id`)."""
        next_after = self._last_job_id if self.is_full else next_after_job_id
        if next_after:
            return b"".join(self._parts) + _NEXT_AFTER_KEY + _varint(next_after)
        return b"".join(self._parts)
