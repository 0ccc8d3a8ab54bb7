"""srun's side of its tasks' input: a listener the tasks' nodes connect back to (as Slurm's
slurmstepd connects back to srun), each connection first presenting the step's one-time
secret; one without it is closed unanswered, so no other local user gets the input.

- `StdinRelay` (srun -i all, the default, or -i TASKID; `jem.agent.taskinput`): srun's stdin
  (or the file -i names) goes to every node that runs a task reading it, as it comes; its end
  of file closes the connections.
- `PtyInput` (srun --pty; `jem.agent.ptys`): task 0's terminal. This terminal goes into raw
  mode, and the keystrokes and window sizes (polled: under the command server no SIGWINCH
  reaches srun) are sent as frames (a kind byte, a 4-byte big-endian length, the payload).

The address the nodes are given is `comm_host`: $JEM_PTY_HOST when set, else this host's
address on its route to the controller (Slurm's SLURM_SRUN_COMM_HOST).
"""

import hmac
import os
import secrets
import select
import socket
import struct
import threading
import time

CONNECT_WAIT_S = 10.0      # how long the relay waits for the nodes it expects before it sends anyway
READ_CHUNK = 65536


def comm_host(controller: str) -> str:
    """The address of this host that the nodes can reach: $JEM_PTY_HOST, else the one this host
    would use to reach `controller` (host:port; no packet is sent)."""
    if os.environ.get("JEM_PTY_HOST"):
        return os.environ["JEM_PTY_HOST"]
    host, _, port = controller.rpartition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host.strip("[]") or "127.0.0.1", int(port or 0)))
            return probe.getsockname()[0]
    except (OSError, ValueError):
        return socket.gethostname()


class _Listener:
    """A TCP listener on every interface whose connections must present the secret first."""

    def __init__(self, host: str, *, variables: tuple[str, str]):
        self._listener = socket.create_server(("", 0), family=socket.AF_INET)
        self._token = secrets.token_hex(16)
        self._host = host
        self._variables = variables
        self.is_done = False

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def environment(self) -> dict[str, str]:
        """The step's variables naming this listener (address, secret)."""
        address_var, token_var = self._variables
        return {address_var: f"{self._host}:{self.port}", token_var: self._token}

    def accept_one(self) -> socket.socket | None:
        """The next connection that presents the secret (in constant time); None once closed."""
        while not self.is_done:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return None
            conn.settimeout(10)
            try:
                line = conn.makefile("rb").readline(64)
            except OSError:
                line = b""
            if hmac.compare_digest(line.strip(), self._token.encode()):
                conn.settimeout(None)
                return conn
            conn.close()
        return None

    def close(self) -> None:
        self.is_done = True
        self._listener.close()


class StdinRelay:
    """srun's stdin (or an input file) to the nodes of the tasks that read it (see the module doc)."""

    ADDRESS_VAR, TOKEN_VAR = "JEM_STDIN_ADDRESS", "JEM_STDIN_TOKEN"

    def __init__(self, host: str, *, source_fd: int = 0):
        self._listener = _Listener(host, variables=(self.ADDRESS_VAR, self.TOKEN_VAR))
        self._source = source_fd
        self._conns: list[socket.socket] = []
        self._lock = threading.Condition()
        self._expected: int | None = None
        threading.Thread(target=self._accept, daemon=True, name="srun-stdin-accept").start()

    @property
    def port(self) -> int:
        return self._listener.port

    def environment(self) -> dict[str, str]:
        return self._listener.environment()

    def start(self, n_nodes: int) -> None:
        """Send once `n_nodes` nodes have connected (or after CONNECT_WAIT_S)."""
        with self._lock:
            self._expected = n_nodes
            self._lock.notify_all()
        threading.Thread(target=self._send, daemon=True, name="srun-stdin").start()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

    def _accept(self) -> None:
        while (conn := self._listener.accept_one()) is not None:
            with self._lock:
                self._conns.append(conn)
                self._lock.notify_all()

    def _send(self) -> None:
        deadline = time.monotonic() + CONNECT_WAIT_S
        with self._lock:
            while len(self._conns) < self._expected and not self._listener.is_done:
                if not self._lock.wait(max(deadline - time.monotonic(), 0)) and time.monotonic() >= deadline:
                    break
        try:
            while data := os.read(self._source, READ_CHUNK):
                for conn in self._targets():
                    try:
                        conn.sendall(data)
                    except OSError:
                        self._drop(conn)
        except OSError:
            pass   # (srun's stdin closed under it, or not readable: end of input)
        for conn in self._targets():
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _targets(self) -> list[socket.socket]:
        with self._lock:
            return list(self._conns)

    def _drop(self, conn: socket.socket) -> None:
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
        conn.close()


class PtyInput:
    """srun --pty's side of the task's terminal (see the module doc). `restore()` gives the
    terminal its modes back."""

    POLL_S = 0.2
    ADDRESS_VAR, TOKEN_VAR = "JEM_PTY_ADDRESS", "JEM_PTY_TOKEN"

    def __init__(self, host: str | None = None, *, stdin_fd: int = 0):
        self._fd = stdin_fd
        self._listener = _Listener(host or os.environ.get("JEM_PTY_HOST") or socket.gethostname(),
                                   variables=(self.ADDRESS_VAR, self.TOKEN_VAR))
        self._saved = None
        self._conn = None

    @property
    def port(self) -> int:
        return self._listener.port

    def environment(self) -> dict[str, str]:
        env = self._listener.environment()
        size = self._window_size()
        if size:
            env["SLURM_PTY_WIN_ROW"], env["SLURM_PTY_WIN_COL"] = map(str, size)
        return env

    def start(self) -> None:
        import termios
        import tty

        if os.isatty(self._fd):
            self._saved = termios.tcgetattr(self._fd)
            tty.setraw(self._fd, termios.TCSANOW)
        threading.Thread(target=self._serve, daemon=True, name="srun-pty").start()

    def restore(self) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    def _window_size(self) -> tuple[int, int] | None:
        import fcntl
        import termios

        try:
            rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(self._fd, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            return None
        return (rows, cols) if rows and cols else None

    def _serve(self) -> None:
        self._conn = self._listener.accept_one()   # the first connection that knows the secret is the task's
        if self._conn is None:
            return
        frame = struct.Struct(">cI")
        lock = threading.Lock()

        def send(kind: bytes, payload: bytes) -> None:
            with lock:
                self._conn.sendall(frame.pack(kind, len(payload)) + payload)

        threading.Thread(target=self._watch_size, args=(send,), daemon=True, name="srun-pty-size").start()
        try:
            while not self._listener.is_done:
                ready, _, _ = select.select([self._fd], [], [], self.POLL_S)
                if ready:
                    data = os.read(self._fd, 4096)
                    if not data:
                        break
                    send(b"d", data)
        except OSError:
            pass

    def _watch_size(self, send) -> None:
        size = None
        while not self._listener.is_done:
            now = self._window_size()
            if now and now != size:
                try:
                    send(b"w", struct.pack(">HH", *now))
                except OSError:
                    return
                size = now
            time.sleep(self.POLL_S)
