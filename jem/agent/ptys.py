"""A step task on a pseudo-terminal (srun --pty): task 0 of the step gets a pty
on its node, its output goes back through the step's stream, and the user's
keystrokes and window sizes come from srun over a connection of their own.

As Slurm's srun does (SLURM_PTY_PORT), srun listens and the task's side connects
back: the step's environment names srun's address (JEM_PTY_ADDRESS, host:port)
and a one-time secret (JEM_PTY_TOKEN, sent first on the connection and never
passed on to the task), and SLURM_PTY_WIN_ROW/COL give the first window size.
The stream then carries frames of one kind byte, a 4-byte big-endian length and
the payload: b"d" bytes typed (written to the pty as they are: Ctrl-C is the
tty's own character, so the line discipline makes the SIGINT), b"w" a window
size (two 16-bit big-endian numbers, rows and columns; TIOCSWINSZ sends SIGWINCH).
The connection is plain TCP, as Slurm's own srun I/O is.
"""

import fcntl
import logging
import os
import queue
import socket
import struct
import termios
import threading

from jem.model.step import TaskOutput

log = logging.getLogger(__name__)

PTY_ADDRESS = "JEM_PTY_ADDRESS"
PTY_TOKEN = "JEM_PTY_TOKEN"
READ_CHUNK = 65536
CONNECT_TIMEOUT_S = 10.0
FRAME_HEAD = struct.Struct(">cI")
WINSIZE = struct.Struct(">HH")


def wants_pty(environment: dict[str, str]) -> bool:
    return bool(environment.get(PTY_ADDRESS)) and bool(environment.get(PTY_TOKEN))


def task_environment(environment: dict[str, str]) -> dict[str, str]:
    """The task's environment without the connection's secret."""
    return {k: v for k, v in environment.items() if k != PTY_TOKEN}


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class TaskPty:
    """One task's pty: the master stays here, the slave (owned by the task's user)
    becomes the task's stdin, stdout, stderr and controlling terminal."""

    def __init__(self, *, uid: int, gid: int, environment: dict[str, str]):
        self.master, self.slave = os.openpty()
        if os.geteuid() == 0:
            os.fchown(self.slave, uid, gid)
        os.fchmod(self.slave, 0o620)
        self.slave_path = os.ttyname(self.slave)
        rows, cols = environment.get("SLURM_PTY_WIN_ROW", ""), environment.get("SLURM_PTY_WIN_COL", "")
        if rows.isdigit() and cols.isdigit():
            set_window_size(self.master, int(rows), int(cols))
        self._address = environment[PTY_ADDRESS]
        self._token = environment[PTY_TOKEN]

    def close_slave(self) -> None:
        os.close(self.slave)

    def start(self, task_id: int, events: queue.Queue, name: str) -> threading.Thread:
        """Relay the keystrokes (a thread of its own) and return the started output reader."""
        threading.Thread(target=self._relay_input, daemon=True, name=f"{name}-pty-in").start()
        reader = threading.Thread(target=self._read_output, args=(task_id, events), daemon=True,
                                  name=f"{name}-pty-out")
        reader.start()
        return reader

    def _read_output(self, task_id: int, events: queue.Queue) -> None:
        try:
            while True:
                try:
                    data = os.read(self.master, READ_CHUNK)
                except OSError:   # EIO: every slave descriptor is closed (the task's session ended)
                    break
                if not data:
                    break
                events.put(TaskOutput(task_id, 1, data))
        finally:
            os.close(self.master)

    def _relay_input(self) -> None:
        host, _, port = self._address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S) as conn:
                conn.settimeout(None)
                conn.sendall(self._token.encode() + b"\n")
                reader = conn.makefile("rb")
                while head := reader.read(FRAME_HEAD.size):
                    kind, size = FRAME_HEAD.unpack(head)
                    payload = reader.read(size)
                    if kind == b"d":
                        os.write(self.master, payload)
                    elif kind == b"w" and len(payload) == WINSIZE.size:
                        set_window_size(self.master, *WINSIZE.unpack(payload))
        except (OSError, ValueError, struct.error) as exc:   # srun went away, or the task's pty closed
            log.debug("pty input ended address=%s: %s", self._address, exc)
