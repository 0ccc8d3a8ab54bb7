"""A multiple-program configuration (srun --multi-prog): which program each task of a step runs.

Each line is `RANKS PROGRAM [ARGS...]`, fields split on blanks; a line whose first non-blank
character is `#` is a comment, blank lines are skipped. RANKS is a comma-separated list of
task ids and ranges (`0,2-3`), or `*` (every task without a record of its own; the last line
only). In the fields, as in Slurm 22.05: single quotes keep what they enclose as it is (blanks
and `%` included), a backslash keeps the next character, double quotes are plain characters;
`%t` becomes the task's id and `%o` its offset within its record (task 3 of `0,2-3` is offset 2);
any other `%X` is dropped with the character after it. The step's command-line arguments follow
the record's on every task.

Two checks, as Slurm makes them: the ranks (`check`, before the step starts: every task must
have exactly one record, and a rank must be one of the step's tasks), then each task's fields
(`task_argv`, when the task starts: a line whose quote does not close gives that task no
program, Slurm's "No executable program specified for this task").
"""

from dataclasses import dataclass

ALL_RANKS = "*"


class MultiProgError(ValueError):
    """The configuration does not fit the step; `lines` are Slurm's error lines, in order."""

    def __init__(self, *lines: str):
        super().__init__(lines[-1] if lines else "")
        self.lines = lines


@dataclass(frozen=True, slots=True)
class Record:
    """One configuration line: the tasks it covers (in order; empty for `*`) and its fields' text."""

    line_no: int
    task_ids: tuple[int, ...]
    fields: str

    @property
    def is_catch_all(self) -> bool:
        return not self.task_ids


def _lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, ranks, the rest) of each record line."""
    records = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ranks, _, rest = stripped.replace("\t", " ").partition(" ")
        records.append((line_no, ranks, rest.strip()))
    return records


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _ranks(text: str, n_tasks: int) -> tuple[int, ...]:
    """The task ids of a RANKS field; raises MultiProgError with Slurm's first line."""
    ids: list[int] = []
    for item in text.split(","):
        low, dash, high = item.partition("-")
        if not _is_number(low) or (dash and not _is_number(high)):
            raise MultiProgError(f"Invalid task range specification ({text})")
        first, last = int(low), int(high) if dash else int(low)
        if first > last:
            raise MultiProgError(f"Invalid task range specification ({text})")
        if last >= n_tasks:
            raise MultiProgError(f"Invalid task id, {last} >= ntasks")
        ids.extend(range(first, last + 1))
    return tuple(ids)


def check(text: str, n_tasks: int, *, name: str) -> tuple[Record, ...]:
    """The records of configuration `text` (file `name`) for a step of `n_tasks` tasks; raises
    MultiProgError (Slurm's lines) when a line is malformed, a rank is not a task of the step,
    a task has two records or none."""
    records: list[Record] = []
    owner: dict[int, int] = {}
    for line_no, ranks, rest in _lines(text):
        try:
            if records and records[-1].is_catch_all:
                raise MultiProgError("Task range specification with asterisk must be last")
            if ranks == ALL_RANKS:
                ids: tuple[int, ...] = ()
            else:
                ids = _ranks(ranks, n_tasks)
                for task_id in ids:
                    if task_id in owner:
                        raise MultiProgError(f"Duplicate record for task {task_id}")
                    owner[task_id] = line_no
            if not rest:
                raise MultiProgError()
        except MultiProgError as exc:
            raise MultiProgError(*exc.lines, f"Line {line_no} of configuration file {name} invalid") from None
        records.append(Record(line_no, ids, rest))
    has_catch_all = bool(records) and records[-1].is_catch_all
    missing = [t for t in range(n_tasks) if t not in owner]
    if missing and not has_catch_all:
        raise MultiProgError(f"Configuration file {name} invalid, no record for task id {missing[0]}")
    return tuple(records)


def _split(fields: str, task_id: int, offset: int) -> list[str] | None:
    """The words of `fields` for one task (see the module doc); None if a quote does not close."""
    words: list[str] = []
    word: list[str] | None = None
    i, n = 0, len(fields)
    while i < n:
        char = fields[i]
        if char in " \t":
            if word is not None:
                words.append("".join(word))
                word = None
            i += 1
            continue
        word = word if word is not None else []
        if char == "'":
            end = fields.find("'", i + 1)
            if end < 0:
                return None
            word.append(fields[i + 1:end])
            i = end + 1
        elif char == "\\" and i + 1 < n:
            word.append(fields[i + 1])
            i += 2
        elif char == "%":
            code = fields[i + 1:i + 2]
            word.append(str(task_id) if code == "t" else str(offset) if code == "o" else "")
            i += 2
        else:
            word.append(char)
            i += 1
    if word is not None:
        words.append("".join(word))
    return words


def task_argv(records: tuple[Record, ...], task_id: int, extra_args: tuple[str, ...]) -> tuple[str, ...] | None:
    """The argv of task `task_id`: its record's words, then `extra_args`; None when it has no
    program (no record, or its line's quote does not close).

    >>> recs = check("0,2-3 echo offset:%o\\n* echo 'task %t' %t", 4, name="c")
    >>> task_argv(recs, 3, ()), task_argv(recs, 1, ("x",))
    (('echo', 'offset:2'), ('echo', 'task %t', '1', 'x'))
    """
    for record in records:
        if record.is_catch_all or task_id in record.task_ids:
            offset = record.task_ids.index(task_id) if task_id in record.task_ids else task_id
            words = _split(record.fields, task_id, offset)
            return (*words, *extra_args) if words else None
    return None
