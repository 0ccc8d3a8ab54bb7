"""Slurm's file-name patterns for a job's stdout and stderr (sbatch -o/-e).

Replacements: %j job id, %x job name, %u user, %A array master id, %a array
task id, %N first node's name, %n node index, %t task id, %s step, %J job.step (the job
id alone for the batch script), %% a literal percent. A number between % and the letter zero-pads numbers (%4j).
"""

import re
from dataclasses import dataclass

NO_ARRAY_TASK = 4294967294  # what Slurm substitutes for %a outside an array
DEFAULT_STDOUT = "slurm-%j.out"
DEFAULT_ARRAY_STDOUT = "slurm-%A_%a.out"

_PATTERN = re.compile(r"%(\d*)([jJxuAaNntsk%])")


@dataclass(frozen=True, slots=True)
class PatternValues:
    """What the placeholders of one job's file names stand for."""

    job_id: int
    job_name: str
    user: str
    node: str
    array_job_id: int | None = None
    array_task_id: int | None = None
    node_index: int = 0
    task_id: int = 0
    step: str = "batch"


def expand_pattern(pattern: str, values: PatternValues) -> str:
    """Expand the placeholders of `pattern`.

    >>> expand_pattern("out-%x-%5j.%%", PatternValues(42, "hello", "ann", "n1"))
    'out-hello-00042.%'
    >>> batch, step = PatternValues(42, "x", "ann", "n1"), PatternValues(42, "x", "ann", "n1", step="3")
    >>> expand_pattern("%J-%s", batch), expand_pattern("%J", step)
    ('42-batch', '42.3')
    """
    numbers = {
        "j": values.job_id,
        "A": values.array_job_id if values.array_job_id is not None else values.job_id,
        "a": values.array_task_id if values.array_task_id is not None else NO_ARRAY_TASK,
        "n": values.node_index,
        "t": values.task_id,
    }
    texts = {"x": values.job_name, "u": values.user, "N": values.node, "s": values.step,
             # (a batch script's is the job id alone, as Slurm writes it: dask-jobqueue names its
             # logs dask-worker-%J.err)
             "J": str(values.job_id) if values.step == "batch" else f"{values.job_id}.{values.step}"}

    def replace(match: re.Match) -> str:
        width, key = match.group(1), match.group(2)
        if key == "%":
            return "%"
        if key in numbers:
            return str(numbers[key]).zfill(int(width) if width else 0)
        return texts.get(key, match.group(0))

    return _PATTERN.sub(replace, pattern)
