"""Job dependencies (sbatch --dependency): their grammar and when they are met.

Grammar, as sbatch(1): terms joined by ',' (all must be met) or '?' (any one
suffices), never both. A term is `singleton`, or `TYPE:ID[:ID...]` with TYPE
one of after, afterany, afterok, afternotok, aftercorr; `after` ids may carry
`+MINUTES` (start that long after the other job started). An ID is a job id
or an array task `ARRAYID_TASK`; an array's id stands for all its tasks.

Evaluation is pure: `term_status` gets the referenced jobs' states through a
lookup and says MET, WAITING or NEVER (the dependency can no longer be met).
"""

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jem.model.errors import DependencyProblem
from jem.model.states import JobState

KINDS = ("after", "afterany", "afterok", "afternotok", "aftercorr", "singleton")
_FAILED = frozenset({JobState.FAILED, JobState.TIMEOUT, JobState.NODE_FAIL, JobState.CANCELLED,
                     JobState.OUT_OF_MEMORY, JobState.PREEMPTED, JobState.BOOT_FAIL, JobState.DEADLINE})


class DependencyStatus(enum.Enum):
    MET = "met"
    WAITING = "waiting"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class JobRef:
    """One id in a term: a job (task_id None) or one task of an array."""

    job_id: int
    task_id: int | None = None
    delay_s: int = 0        # after:ID+MINUTES

    def __str__(self) -> str:
        text = f"{self.job_id}_{self.task_id}" if self.task_id is not None else str(self.job_id)
        return text + (f"+{self.delay_s // 60}" if self.delay_s else "")


@dataclass(frozen=True, slots=True)
class DependencyTerm:
    kind: str
    refs: tuple[JobRef, ...] = ()

    def __str__(self) -> str:
        return self.kind if self.kind == "singleton" else ":".join([self.kind, *map(str, self.refs)])


@dataclass(frozen=True, slots=True)
class Dependency:
    terms: tuple[DependencyTerm, ...]
    is_any: bool = False     # '?': any one term suffices

    def __str__(self) -> str:
        return ("?" if self.is_any else ",").join(map(str, self.terms))

    @property
    def job_ids(self) -> set[int]:
        return {ref.job_id for term in self.terms for ref in term.refs}


def parse_dependency(text: str) -> Dependency | None:
    """Parse --dependency text (None for empty); raise DependencyProblem when malformed."""
    text = text.strip()
    if not text:
        return None
    if "," in text and "?" in text:
        raise DependencyProblem("dependency: ',' and '?' cannot be mixed")
    is_any = "?" in text
    terms = tuple(_term(item) for item in text.split("?" if is_any else ","))
    return Dependency(terms, is_any)


def per_task_part(text: str) -> str:
    """The aftercorr terms of a dependency: what each array task still checks for itself once
    the array's record has met the rest."""
    dependency = parse_dependency(text)
    if dependency is None:
        return ""
    return ",".join(str(t) for t in dependency.terms if t.kind == "aftercorr")


def _term(text: str) -> DependencyTerm:
    kind, *ids = text.strip().split(":")
    if kind not in KINDS:
        raise DependencyProblem(f"dependency: unknown type {kind!r}")
    if kind == "singleton":
        if ids:
            raise DependencyProblem("dependency: singleton takes no job id")
        return DependencyTerm(kind)
    if not ids:
        raise DependencyProblem(f"dependency: {kind} needs a job id")
    return DependencyTerm(kind, tuple(_ref(i, allow_delay=kind == "after") for i in ids))


def _ref(text: str, *, allow_delay: bool) -> JobRef:
    ident, plus, delay = text.partition("+")
    job_text, underscore, task_text = ident.partition("_")
    try:
        if plus and not allow_delay:
            raise ValueError
        job_id = int(job_text)
        task_id = int(task_text) if underscore else None
        delay_s = int(delay) * 60 if plus else 0
    except ValueError:
        raise DependencyProblem(f"dependency: invalid job id {text!r}") from None
    if job_id <= 0 or (task_id is not None and task_id < 0) or delay_s < 0:
        raise DependencyProblem(f"dependency: invalid job id {text!r}")
    return JobRef(job_id, task_id, delay_s)


@dataclass(frozen=True, slots=True)
class RefState:
    """What evaluation needs to know of one referenced job (or task)."""

    state: JobState
    start_time: float | None
    task_id: int | None = None


def ref_status(kind: str, jobs: Sequence[RefState], *, now: float, delay_s: int = 0) -> DependencyStatus:
    """Whether every job of one reference (one job, or every task of an array) meets `kind`."""
    statuses = [_one_status(kind, job, now=now, delay_s=delay_s) for job in jobs]
    if DependencyStatus.NEVER in statuses:
        return DependencyStatus.NEVER
    if DependencyStatus.WAITING in statuses:
        return DependencyStatus.WAITING
    return DependencyStatus.MET


def _one_status(kind: str, job: RefState, *, now: float, delay_s: int) -> DependencyStatus:
    if kind == "after":
        if job.state is JobState.PENDING:
            return DependencyStatus.WAITING
        started = job.start_time if job.start_time is not None else now
        return DependencyStatus.MET if now >= started + delay_s else DependencyStatus.WAITING
    if not job.state.is_terminal:
        return DependencyStatus.WAITING
    if kind == "afterany":
        return DependencyStatus.MET
    if kind in ("afterok", "aftercorr"):
        return DependencyStatus.MET if job.state is JobState.COMPLETED else DependencyStatus.NEVER
    # afternotok
    return DependencyStatus.MET if job.state in _FAILED else DependencyStatus.NEVER


def combine(statuses: Sequence[DependencyStatus], *, is_any: bool) -> DependencyStatus:
    """All terms (',') or any term ('?')."""
    if is_any:
        if DependencyStatus.MET in statuses:
            return DependencyStatus.MET
        return DependencyStatus.NEVER if all(s is DependencyStatus.NEVER for s in statuses) \
            else DependencyStatus.WAITING
    if DependencyStatus.NEVER in statuses:
        return DependencyStatus.NEVER
    return DependencyStatus.WAITING if DependencyStatus.WAITING in statuses else DependencyStatus.MET


LookupRef = Callable[[JobRef], list[RefState]]
