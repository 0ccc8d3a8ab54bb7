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
        parts, size = [], 0
        for job in jobs:
            framed = self.framed(job)
            if max_bytes and parts and size + len(framed) > max_bytes:
                next_after_job_id = parts_last_id
                break
            parts.append(framed)
            size += len(framed)
            parts_last_id = job.job_id
        if next_after_job_id:
            parts.append(_NEXT_AFTER_KEY + _varint(next_after_job_id))
        return b"".join(parts)

    def forget_all_but(self, job_ids: set[int]) -> None:
        """Drop the bytes of jobs that left the queue view (the caller decides when: see `is_oversized`)."""
        self._entries = {k: v for k, v in self._entries.items() if k in job_ids}

    def is_oversized(self, n_jobs: int) -> bool:
        return len(self._entries) > 2 * n_jobs + 1024
