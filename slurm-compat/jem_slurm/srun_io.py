"""srun's side of a step's stream: task output onto srun's stdout and stderr (or the files
-o/-e name), in order per task and stream, Slurm's one line per task that failed, and srun's
-W/--wait and -K/--kill-on-bad-exit.

Output is passed on in whole lines per task and stream (a task's last partial
line at its exit), so lines of different tasks never mix; `-u` passes chunks on
as they come instead. `-l` puts `TASKID: ` before each line.

Where -o and -e send output is Slurm's IO redirection (`io_target`): `all` (or nothing) to
srun's own stdout/stderr; `none` to /dev/null on the nodes; a task id, that task's output
only; a pattern with %t, %n or %N, a file per task (or node) written on the node; any other
name, one file that srun writes with every task's output (its %j %J %s %x %u %A %a expanded
here). Without -e, stderr goes where stdout goes.

-W S: S seconds after the first task ended, the rest are killed (Slurm's lines, then the
remaining tasks reported `Killed`). -K: the first task that fails kills the rest (reported
`Terminated`, then `srun: Force Terminated StepId=J.S`). srun ends the step by leaving its
stream (the nodes then kill the tasks, SIGTERM and SIGKILL `STEP_KILL_WAIT_S` later), and
reports the tasks it did not hear end as Slurm's srun would.
"""

import os
import re
import signal
import sys
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO, Callable

from jem_slurm.command import Failure


class IoKind(Enum):
    ALL = "all"              # srun's own stdout/stderr
    NONE = "none"            # /dev/null on the nodes
    TASK = "task"            # one task's only (value: the task id), if the step has that task
    NODE_FILE = "node-file"  # a per-task or per-node file pattern, written on the nodes
    SRUN_FILE = "srun-file"  # one file srun writes


@dataclass(frozen=True, slots=True)
class IoTarget:
    kind: IoKind
    value: str = ""


_PER_NODE = re.compile(r"(?<!%)(?:%%)*%\d*[tnN]")


def io_target(text: str | None) -> IoTarget:
    """Slurm's reading of an -o/-e/-i value (as 22.05 reads it: a value that starts with `all`
    or `-` is `all`).

    >>> [io_target(t).kind.value for t in ("", "all.%j", "none", "3", "out-%2t.txt", "out-%j.txt", "a%%t")]
    ['all', 'all', 'none', 'task', 'node-file', 'srun-file', 'srun-file']
    """
    if not text or text[:3].lower() == "all" or text.startswith("-"):
        return IoTarget(IoKind.ALL)
    if text.lower() == "none":
        return IoTarget(IoKind.NONE)
    if text.isascii() and text.isdigit():
        return IoTarget(IoKind.TASK, text)
    return IoTarget(IoKind.NODE_FILE if _PER_NODE.search(text) else IoKind.SRUN_FILE, text)


@dataclass(frozen=True, slots=True)
class Sink:
    """Where one stream of the tasks' output goes here: `out`, for every task or only `only_task`."""

    out: BinaryIO
    only_task: int | None = None


class TaskOutputRelay:
    def __init__(self, *, label: bool, unbuffered: bool, n_tasks: int, sinks: dict[int, Sink] | None = None):
        self._label = label
        self._unbuffered = unbuffered
        self._width = len(str(max(n_tasks - 1, 0)))
        self._partial: dict[tuple[int, int], bytes] = {}
        self._sinks = sinks or {1: Sink(sys.stdout.buffer), 2: Sink(sys.stderr.buffer)}

    def output(self, task_id: int, stream: int, data: bytes) -> None:
        sink = self._sinks[stream]
        if sink.only_task is not None and task_id != sink.only_task:
            return
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
        out = self._sinks[stream].out
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


def _tasks(ids: list[int]) -> str:
    return f"task{'s' if len(ids) > 1 else ''} {id_ranges(ids)}"


def exit_lines(exits) -> list[str]:
    """One line per node and way of ending, for the tasks that did not exit 0, as
    srun prints them: `n1: tasks 0-1: Exited with exit code 3`."""
    groups: dict[tuple[str, str], list[int]] = {}
    for e in exits:
        status = exit_status(e.exit_code, e.exit_signal, e.launch_error)
        if status:
            groups.setdefault((e.node, status), []).append(e.task_id)
    return [f"{node}: {_tasks(ids)}: {status}" for (node, status), ids in groups.items()]


def step_exit_code(exits) -> int:
    """srun's exit code: the highest exit code, or 128 + the highest signal."""
    signals = [e.exit_signal for e in exits if e.exit_signal]
    if signals:
        return 128 + max(signals)
    return max((e.exit_code or (1 if e.launch_error else 0) for e in exits), default=0)


class WaitExpired(Exception):
    """-W's time after the first task's end has passed."""


def _raise_wait_expired(signum, frame):
    raise WaitExpired()


class StepWatch:
    """srun's -W (`wait_s`, 0: none) and -K (`kill_on_bad_exit`) over the tasks' exits."""

    def __init__(self, *, wait_s: int = 0, kill_on_bad_exit: bool = False):
        self.wait_s = wait_s
        self.kill_on_bad_exit = kill_on_bad_exit
        self._armed = False

    def __enter__(self) -> "StepWatch":
        if self.wait_s:
            signal.signal(signal.SIGALRM, _raise_wait_expired)
        return self

    def __exit__(self, *exc) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False

    def saw_exit(self, exit) -> bool:
        """Note a task's end; whether it is one -K kills the step for (a failure)."""
        if self.wait_s and not self._armed:
            signal.setitimer(signal.ITIMER_REAL, self.wait_s)   # (SIGALRM raises WaitExpired)
            self._armed = True
        return self.kill_on_bad_exit and bool(exit.exit_code or exit.exit_signal or exit.launch_error)


NO_WATCH = StepWatch()


def _killed_exits(step, exits, signum: int) -> list:
    """The exits of the tasks srun did not hear end, as killed by `signum` on their nodes."""
    from jem.model.step import TaskExit, node_index_of_task

    ended = {e.task_id for e in exits}
    return [TaskExit(t, step.nodes[node_index_of_task(t, n_tasks=step.n_tasks, n_nodes=len(step.nodes))],
                     exit_signal=signum) for t in range(step.n_tasks) if t not in ended]


def _wait_lines(step, exits, wait_s: int) -> list[str]:
    """srun's lines when -W's time is up: the state of each task, the kill."""
    from jem.model.step import STEP_KILL_WAIT_S

    state = {e.task_id: "exited" if not (e.exit_code or e.exit_signal or e.launch_error) else "exited abnormally"
             for e in exits}
    step_id = f"StepId={step.job_id}.{step.step_id}"
    lines = [f"First task exited {wait_s}s ago"]
    for word in ("running", "exited", "exited abnormally"):
        ids = [t for t in range(step.n_tasks) if state.get(t, "running") == word]
        if ids:
            lines.append(f"{step_id} {_tasks(ids)}: {word}")
    return lines + [f"launch/slurm: _step_signal: Terminating {step_id}",
                    f"Job step aborted: Waiting up to {STEP_KILL_WAIT_S + 2} seconds for job step to finish."]


def relay_step(events, *, label: bool, unbuffered: bool, seen: dict, prog: str = "srun",
               watch: StepWatch = NO_WATCH, on_step: Callable[[object], dict[int, Sink] | None] = lambda step: None
               ) -> tuple[object, int]:
    """Pass a step's stream on (see module doc); returns (the step, srun's exit code).
    The first event is the started step (also left in seen["step"], for a caller
    interrupted meanwhile); `on_step(step)` then gives the output's sinks (None: srun's own
    stdout and stderr). Raises Failure if the stream ends without the step's end."""
    relay, step, exits, printed = None, None, [], 0
    killed_by = ""
    with watch:
        try:
            for event in events:
                kind = type(event).__name__
                if kind == "Step":
                    step = seen["step"] = event
                    relay = relay or TaskOutputRelay(label=label, unbuffered=unbuffered, n_tasks=event.n_tasks,
                                                     sinks=on_step(event))
                elif kind == "TaskOutput":
                    relay.output(event.task_id, event.stream, event.data)
                else:
                    relay.task_ended(event.task_id)
                    exits.append(event)
                    if watch.saw_exit(event):
                        killed_by = "bad exit"
                        break
        except WaitExpired:
            killed_by = "wait"
    if killed_by:
        events.close()   # (leaving the stream kills the step's tasks)
        printed = _print_lines(prog, [f"error: {line}" for line in exit_lines(exits)])
        killed = _killed_exits(step, exits, signal.SIGKILL if killed_by == "wait" else signal.SIGTERM)
        lines = _wait_lines(step, exits, watch.wait_s) if killed_by == "wait" else \
            [f"launch/slurm: _step_signal: Terminating StepId={step.job_id}.{step.step_id}"]
        _print_lines(prog, lines[:-1] if killed_by == "wait" else lines)
        _print_cancelled(step, sorted({e.node for e in killed}))
        if killed_by == "wait":
            _print_lines(prog, lines[-1:])
        _print_lines(prog, [f"error: {line}" for line in exit_lines(killed)])
        if killed_by == "bad exit":
            _print_lines(prog, [f"Force Terminated StepId={step.job_id}.{step.step_id}"])
        return step, step_exit_code(exits + killed)
    if step is None or step.end_time is None:
        raise Failure("step stream ended early")
    _print_lines(prog, [f"error: {line}" for line in exit_lines(exits)][printed:])
    if step.state.value == "CANCELLED":
        _print_lines(prog, [f"Force Terminated StepId={step.job_id}.{step.step_id}"])
    return step, step_exit_code(exits)


def _print_cancelled(step, nodes: list[str]) -> None:
    """The line slurmstepd writes on each node where it kills a step's tasks."""
    import datetime

    now = datetime.datetime.now().isoformat(timespec="seconds")
    for node in nodes:
        print(f"slurmstepd-{node}: error: *** STEP {step.job_id}.{step.step_id} ON {node} CANCELLED AT {now} ***",
              file=sys.stderr)


def _print_lines(prog: str, lines: list[str]) -> int:
    for line in lines:
        print(f"{prog}: {line}", file=sys.stderr)
    sys.stderr.flush()
    return len(lines)


def open_sinks(stdout: IoTarget, stderr: IoTarget | None, *, expand: Callable[[str], str], open_mode: str,
               n_tasks: int) -> dict[int, Sink]:
    """The sinks of srun's own side of -o/-e (`stderr` None: -e not given, stderr goes with
    stdout); a SRUN_FILE target's file is opened (created) here, by srun, with `expand` giving
    its name. A task id the step does not have names a file, as in Slurm."""
    files: dict[str, BinaryIO] = {}

    def sink(target: IoTarget, default: BinaryIO, what: str) -> Sink:
        if target.kind is IoKind.TASK and int(target.value) < n_tasks:
            return Sink(default, only_task=int(target.value))
        if target.kind in (IoKind.SRUN_FILE, IoKind.TASK):
            path = os.path.abspath(expand(target.value))
            if path not in files:
                try:
                    files[path] = open(path, "ab" if open_mode == "append" else "wb")
                except OSError as exc:
                    raise Failure(f"Could not open {what} file: {exc.strerror or exc}") from None
            return Sink(files[path])
        return Sink(default)

    out = sink(stdout, sys.stdout.buffer, "stdout")
    return {1: out, 2: out if stderr is None and stdout.kind is not IoKind.ALL else
            sink(stderr or IoTarget(IoKind.ALL), sys.stderr.buffer, "stderr")}
