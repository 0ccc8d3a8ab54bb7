"""srun's stdin for the tasks of a step on this node (srun -i all, the default, or -i TASKID):
one connection back to srun, whose bytes are copied to the stdin of each task here that reads it.

As for srun --pty (`ptys.py`), srun listens and the node connects back: the step's environment
names srun's address (JEM_STDIN_ADDRESS, host:port) and a one-time secret (JEM_STDIN_TOKEN, sent
first on the connection and never passed on to a task). The stream then carries srun's stdin as
it is, and ends with srun's end of file. Each task's stdin is a pipe; a bounded queue per task
lets one task that is slow to read hold the others back only once its queue is full (srun then
stops sending), and a task that closed its stdin or ended no longer gets any. The connection
is plain TCP, as Slurm's own srun I/O is.
"""

import logging
import os
import queue
import socket
import threading

log = logging.getLogger(__name__)

STDIN_ADDRESS = "JEM_STDIN_ADDRESS"
STDIN_TOKEN = "JEM_STDIN_TOKEN"
READ_CHUNK = 65536
CONNECT_TIMEOUT_S = 10.0
QUEUE_CHUNKS = 16          # chunks held per task before the connection stops being read
_END = None                # the queue's end-of-input mark


def has_stdin_relay(environment: dict[str, str]) -> bool:
    return bool(environment.get(STDIN_ADDRESS)) and bool(environment.get(STDIN_TOKEN))


def without_secret(environment: dict[str, str]) -> dict[str, str]:
    """A task's environment without the connection's secret."""
    return {k: v for k, v in environment.items() if k != STDIN_TOKEN}


class StdinFanout:
    """The copy of srun's stdin to the stdin pipes of this node's tasks: `add` each task's
    pipe (write end) before `start`; `close` when the tasks have ended."""

    def __init__(self, environment: dict[str, str], *, name: str):
        self._address = environment[STDIN_ADDRESS]
        self._token = environment[STDIN_TOKEN]
        self._name = name
        self._queues: list[queue.Queue] = []
        self._conn: socket.socket | None = None
        self._closed = threading.Event()

    def add(self, write_fd: int) -> None:
        """Copy srun's stdin into `write_fd` (which this now owns and closes at the end)."""
        chunks: queue.Queue = queue.Queue(QUEUE_CHUNKS)
        self._queues.append(chunks)
        threading.Thread(target=_feed, args=(write_fd, chunks), daemon=True, name=f"{self._name}-stdin").start()

    def start(self) -> None:
        threading.Thread(target=self._relay, daemon=True, name=f"{self._name}-stdin-relay").start()

    def close(self) -> None:
        """Stop reading srun's stdin (the tasks have ended)."""
        self._closed.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _relay(self) -> None:
        host, _, port = self._address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S) as conn:
                conn.settimeout(None)
                self._conn = conn
                if self._closed.is_set():
                    return
                conn.sendall(self._token.encode() + b"\n")
                while data := conn.recv(READ_CHUNK):
                    for chunks in self._queues:
                        chunks.put(data)
        except (OSError, ValueError) as exc:   # srun went away, or the step ended
            log.debug("stdin relay ended address=%s: %s", self._address, exc)
        finally:
            for chunks in self._queues:
                chunks.put(_END)


def _feed(write_fd: int, chunks: queue.Queue) -> None:
    """Write the queued chunks into one task's stdin until the end; once the task stops
    reading (EPIPE), drop the rest."""
    is_open = True
    try:
        while (data := chunks.get()) is not _END:
            if not is_open:
                continue
            try:
                _write_all(write_fd, data)
            except OSError:
                is_open = False
    finally:
        os.close(write_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
