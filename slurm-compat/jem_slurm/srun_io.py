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



class PtyInput:
    """srun --pty's side of the task's terminal (see `jem.agent.ptys`): a listener the
    task's node connects back to with the secret, this terminal in raw mode, and
    the keystrokes and window sizes (polled: under the command server no SIGWINCH
    reaches srun) sent as frames until the step ends. `restore()` gives the
    terminal its modes back."""

    POLL_S = 0.2

    def __init__(self, *, stdin_fd: int = 0):
        import secrets
        import socket

        self._fd = stdin_fd
        self._listener = socket.create_server(("", 0), family=socket.AF_INET)
        self._token = secrets.token_hex(16)
        self._saved = None
        self._done = False
        self._conn = None

    def environment(self) -> dict[str, str]:
        import os
        import socket

        host = os.environ.get("JEM_PTY_HOST") or socket.gethostname()
        env = {"JEM_PTY_ADDRESS": f"{host}:{self._listener.getsockname()[1]}", "JEM_PTY_TOKEN": self._token}
        size = self._window_size()
        if size:
            env["SLURM_PTY_WIN_ROW"], env["SLURM_PTY_WIN_COL"] = map(str, size)
        return env

    def start(self) -> None:
        import os
        import termios
        import threading
        import tty

        if os.isatty(self._fd):
            self._saved = termios.tcgetattr(self._fd)
            tty.setraw(self._fd, termios.TCSANOW)
        threading.Thread(target=self._serve, daemon=True, name="srun-pty").start()

    def restore(self) -> None:
        import termios

        self._done = True
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    def _window_size(self) -> tuple[int, int] | None:
        import fcntl
        import struct
        import termios

        try:
            rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(self._fd, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            return None
        return (rows, cols) if rows and cols else None

    def _serve(self) -> None:
        import hmac
        import os
        import select
        import struct
        import threading

        while not self._done:   # the first connection that knows the secret is the task's
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.settimeout(10)
            try:
                line = conn.makefile("rb").readline(64)
            except OSError:
                line = b""
            if hmac.compare_digest(line.strip(), self._token.encode()):   # (in constant time)
                conn.settimeout(None)
                self._conn = conn
                break
            conn.close()
        else:
            return
        frame = struct.Struct(">cI")
        lock = threading.Lock()

        def send(kind: bytes, payload: bytes) -> None:
            with lock:
                self._conn.sendall(frame.pack(kind, len(payload)) + payload)

        def watch_size() -> None:
            import time

            size = None
            while not self._done:
                now = self._window_size()
                if now and now != size:
                    try:
                        send(b"w", struct.pack(">HH", *now))
                    except OSError:
                        return
                    size = now
                time.sleep(self.POLL_S)

        threading.Thread(target=watch_size, daemon=True, name="srun-pty-size").start()
        try:
            while not self._done:
                ready, _, _ = select.select([self._fd], [], [], self.POLL_S)
                if ready:
                    data = os.read(self._fd, 4096)
                    if not data:
                        break
                    send(b"d", data)
        except OSError:
            pass
