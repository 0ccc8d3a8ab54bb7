"""Standard Workload Format traces (Parallel Workloads Archive): read, apply the conventions.

One job per line, 18 whitespace-separated fields, -1 for unknown, `;` starts a
header comment (`; MaxProcs: 1152`). The conventions, so that results compare
with the literature:

- the machine has `procs` processors: the caller's, else the header's
  MaxProcs, else MaxNodes;
- a job's size is its requested processors (field 8), else its allocated ones
  (field 5); its run time is field 4; its estimate (time limit) is field 9,
  else its run time, never less than its run time and at least 1 s;
- jobs with run time < 0, size <= 0 or size > machine are skipped (counted);
- the jobs are kept in submit order, ties in file order;
- a job's account is g<group id> (field 13), its user u<user id> (field 12).

Times are integer seconds as in the file.
"""

import gzip
import re
from dataclasses import dataclass

import numpy as np

from jem._core.records import parse_records

N_FIELDS = 18
_HEADER = re.compile(rb"^;\s*(MaxProcs|MaxNodes)\s*:\s*(\d+)", re.M)
_DATA = re.compile(rb"^[ \t]*[-0-9]", re.M)                # the first job record
_USED = (0, 1, 3, 4, 7, 8, 11, 12)  # job, submit, run, allocated, requested procs, estimate, user, group


@dataclass(frozen=True, slots=True)
class Trace:
    procs: int                 # processors of the machine
    job_number: np.ndarray     # (n_jobs,) int64 SWF field 1
    submit_s: np.ndarray       # (n_jobs,) int64, non-decreasing
    run_s: np.ndarray          # (n_jobs,) int64 >= 0
    size: np.ndarray           # (n_jobs,) int64 processors, 1..procs
    estimate_s: np.ndarray     # (n_jobs,) int64 >= max(run_s, 1)
    user: np.ndarray           # (n_jobs,) int64 SWF user id
    group: np.ndarray          # (n_jobs,) int64 SWF group id
    n_skipped: int             # records dropped by the conventions

    def __len__(self) -> int:
        return len(self.submit_s)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if path.endswith(".gz") else raw   # one call: faster than reading a GzipFile


def read_swf(path: str, *, procs: int | None = None, limit: int | None = None) -> Trace:
    """Read `path` (.swf or .swf.gz); keep at most `limit` records (the first ones) if given.
    ValueError if the machine size is unknown or a record is malformed."""
    raw = _read_bytes(path)
    body = _DATA.search(raw)
    header_block = raw[:body.start()] if body else raw     # the header comments precede the records
    header = {key.decode(): int(value) for key, value in _HEADER.findall(header_block)}
    machine = procs or header.get("MaxProcs") or header.get("MaxNodes")
    if not machine:
        raise ValueError(f"{path}: no MaxProcs or MaxNodes in the header; give the machine size (--procs)")
    try:
        values = parse_records(raw, _USED, limit=limit)
    except ValueError as exc:
        raise ValueError(f"{path}: malformed job record (expected {N_FIELDS} fields): {exc}") from None
    job, submit, run, alloc, req, est, user, group = values.T
    size = np.where(req > 0, req, alloc)
    keep = (run >= 0) & (size > 0) & (size <= machine)
    estimate = np.maximum(np.where(est > 0, est, run), np.maximum(run, 1))
    order = np.flatnonzero(keep)[np.argsort(submit[keep], kind="stable")]
    return Trace(procs=int(machine), job_number=job[order], submit_s=submit[order], run_s=run[order],
                 size=size[order], estimate_s=estimate[order], user=user[order], group=group[order],
                 n_skipped=int((~keep).sum()))
