"""Job arrays: the `--array` index specification and the compact range text Slurm prints.

Grammar (sbatch(1) --array): a comma-separated list of `N`, `N-M` or `N-M:S`
items, optionally followed by `%K`, the most tasks of the array that may run at
once. Indices are non-negative integers; their *count* is limited by the
cluster's `max_array_size` (Slurm limits the largest index instead; JEM limits
what costs something, the number of tasks).
"""

import functools
from dataclasses import dataclass

from jem.model.errors import InvalidArraySpec
from jem.model.idlists import id_list_text

MAX_INDEX = 4_000_000_000  # below Slurm's NO_VAL, so every index prints as it was given


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """The task indices of an array (ascending, unique) and its throttle (0: none)."""

    indices: tuple[int, ...]
    max_running: int = 0

    @property
    def step(self) -> int:
        """SLURM_ARRAY_TASK_STEP: the common stride of the indices, 1 when there is none."""
        if len(self.indices) < 2:
            return 1
        stride = self.indices[1] - self.indices[0]
        is_regular = all(b - a == stride for a, b in zip(self.indices, self.indices[1:]))
        return stride if is_regular else 1


def parse_array(text: str, *, max_size: int) -> ArraySpec:
    """Parse `--array` text; raise InvalidArraySpec (naming the problem) if malformed or too large."""
    body, _, throttle_text = text.strip().partition("%")
    max_running = 0
    if throttle_text:
        if not throttle_text.isdigit():
            raise InvalidArraySpec(f"array: invalid throttle {throttle_text!r}")
        max_running = int(throttle_text)
    indices: set[int] = set()
    for item in body.split(","):
        first, last, step = _range_item(item)
        count = (last - first) // step + 1
        if len(indices) + count > max_size:
            raise InvalidArraySpec(f"array: more than {max_size} tasks (the cluster's max_array_size)")
        indices.update(range(first, last + 1, step))
    return ArraySpec(tuple(sorted(indices)), max_running)


@functools.lru_cache(maxsize=1024)
def accepted_array(text: str) -> ArraySpec:
    """The ArraySpec of a text the controller already accepted (no size limit), cached."""
    return parse_array(text, max_size=1 << 62)


def _range_item(item: str) -> tuple[int, int, int]:
    span, _, step_text = item.strip().partition(":")
    first_text, dash, last_text = span.partition("-")
    try:
        first = int(first_text)
        last = int(last_text) if dash else first
        step = int(step_text) if step_text else 1
    except ValueError:
        raise InvalidArraySpec(f"array: invalid index range {item!r}") from None
    if first < 0 or last < first or step < 1 or last > MAX_INDEX:
        raise InvalidArraySpec(f"array: invalid index range {item!r}")
    return first, last, step


def format_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """Indices as Slurm prints them (squeue's `123_[4-10%2]`): consecutive runs joined by '-'.

    >>> format_ranges([1, 2, 3, 7, 9])
    '1-3,7,9'
    """
    return id_list_text(tuple(indices))


def parse_job_label(text: str) -> tuple[int, tuple[int, ...]]:
    """A job id as users write it: `12`, a task `12_3`, or tasks `12_[1-3,7]` -> (12, (1, 2, 3, 7)).

    A step suffix (`12.batch`, `12_3.0`) is ignored. Raises ValueError when malformed.
    """
    head = text.split(".")[0]
    job_text, underscore, tasks_text = head.partition("_")
    if not job_text.isdigit() or int(job_text) <= 0:
        raise ValueError(text)
    if not underscore:
        return int(job_text), ()
    if tasks_text.startswith("[") and tasks_text.endswith("]"):
        tasks_text = tasks_text[1:-1]
    try:
        return int(job_text), parse_array(tasks_text, max_size=1 << 62).indices
    except InvalidArraySpec:
        raise ValueError(text) from None


def format_job_label(job_id: int, task_ids: tuple[int, ...] = ()) -> str:
    """The inverse of parse_job_label: `12`, `12_3` or `12_[1-3,7]`."""
    if not task_ids:
        return str(job_id)
    if len(task_ids) == 1:
        return f"{job_id}_{task_ids[0]}"
    return f"{job_id}_[{format_ranges(task_ids)}]"
