"""srun's side of a step's stream: task output onto srun's stdout and stderr, in
order per task and stream, and Slurm's one line per task that failed.

Output is passed on in whole lines per task and stream (a task's last partial
line at its exit), so lines of different tasks never mix; `-u` passes chunks on
as they come instead. `-l` puts `TASKID: ` before each line.
"""

import signal
import sys

from jem_slurm.command import Failure


class TaskOutputRelay:
    def __init__(self, *, label: bool, unbuffered: bool, n_tasks: int):
        self._label = label
        self._unbuffered = unbuffered
        self._width = len(str(max(n_tasks - 1, 0)))
        self._partial: dict[tuple[int, int], bytes] = {}
        self._streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}

    def output(self, task_id: int, stream: int, data: bytes) -> None:
        key = (task_id, stream)
        if self._unbuffered and not self._label:
            self._write(stream, data)
            return
        text = self._partial.pop(key, b"") + data
        head, sep, tail = text.rpartition(b"\n")
        if sep:
            self._write(stream, self._labelled(task_id, head + sep))
        if tail:
            self._partial[key] = tail

    def task_ended(self, task_id: int) -> None:
        for stream in (1, 2):
            rest = self._partial.pop((task_id, stream), b"")
            if rest:
                self._write(stream, self._labelled(task_id, rest + b"\n"))

    def _labelled(self, task_id: int, text: bytes) -> bytes:
        if not self._label:
            return text
        prefix = f"{task_id:>{self._width}}: ".encode()
        lines = text.split(b"\n")
        return b"".join(prefix + line + b"\n" for line in lines[:-1])

    def _write(self, stream: int, data: bytes) -> None:
        out = self._streams[stream]
        out.write(data)
        out.flush()


def exit_status(exit_code: int, exit_signal: int, launch_error: str) -> str | None:
    """Slurm's words for how a task ended, None for a clean exit."""
    if launch_error:
        return f"launch failed: {launch_error}"
    if exit_signal:
        try:
            return signal.strsignal(exit_signal) or f"Signal {exit_signal}"
        except ValueError:
            return f"Signal {exit_signal}"
    if exit_code:
        return f"Exited with exit code {exit_code}"
    return None


def id_ranges(ids: list[int]) -> str:
    """Task ids as srun lists them.

    >>> id_ranges([5, 0, 1, 2])
    '0-2,5'
    """
    parts, ids = [], sorted(ids)
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


def exit_lines(exits) -> list[str]:
    """One line per node and way of ending, for the tasks that did not exit 0, as
    srun prints them: `n1: tasks 0-1: Exited with exit code 3`."""
    groups: dict[tuple[str, str], list[int]] = {}
    for e in exits:
        status = exit_status(e.exit_code, e.exit_signal, e.launch_error)
        if status:
            groups.setdefault((e.node, status), []).append(e.task_id)
    return [f"{node}: task{'s' if len(ids) > 1 else ''} {id_ranges(ids)}: {status}"
            for (node, status), ids in groups.items()]


def step_exit_code(exits) -> int:
    """srun's exit code: the highest exit code, or 128 + the highest signal."""
    signals = [e.exit_signal for e in exits if e.exit_signal]
    if signals:
        return 128 + max(signals)
    return max((e.exit_code or (1 if e.launch_error else 0) for e in exits), default=0)


def relay_step(events, *, label: bool, unbuffered: bool, seen: dict, prog: str = "srun") -> tuple[object, int]:
    """Pass a step's stream on (see module doc); returns (the ended step, srun's exit code).
    The first event is the started step (also left in seen["step"], for a caller
    interrupted meanwhile); raises Failure if the stream ends without the step's end."""
    relay, step, exits = None, None, []
    for event in events:
        kind = type(event).__name__
        if kind == "Step":
            step = seen["step"] = event
            relay = relay or TaskOutputRelay(label=label, unbuffered=unbuffered, n_tasks=event.n_tasks)
        elif kind == "TaskOutput":
            relay.output(event.task_id, event.stream, event.data)
        else:
            relay.task_ended(event.task_id)
            exits.append(event)
    if step is None or step.end_time is None:
        raise Failure("step stream ended early")
    for line in exit_lines(exits):
        print(f"{prog}: error: {line}", file=sys.stderr)
    if step.state.value == "CANCELLED":
        print(f"{prog}: Force Terminated StepId={step.job_id}.{step.step_id}", file=sys.stderr)
    sys.stderr.flush()
    return step, step_exit_code(exits)

