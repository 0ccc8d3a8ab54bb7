"""srun --pty's listener (jem_slurm.srun_input.PtyInput) against a local attacker: a connection
without the step's secret, or with a wrong one, gets none of the user's keystrokes and is
closed; the task's node, presenting the secret, gets them. A pipe stands in for the terminal."""

import os
import socket
import struct

from jem_slurm.srun_input import PtyInput

FRAME = struct.Struct(">cI")


def _connect(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    conn = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    conn.settimeout(10)
    return conn


def _read_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_only_the_connection_with_the_secret_gets_the_keystrokes():
    keys_r, keys_w = os.pipe()
    pty = PtyInput(stdin_fd=keys_r)
    try:
        env = pty.environment()
        assert set(env) >= {"JEM_PTY_ADDRESS", "JEM_PTY_TOKEN"} and len(env["JEM_PTY_TOKEN"]) == 32
        pty.start()
        for guess in (b"\n", b"0" * 32 + b"\n", env["JEM_PTY_TOKEN"][:-1].encode() + b"\n", b"x" * 200):
            attacker = _connect(env["JEM_PTY_ADDRESS"])
            attacker.sendall(guess)
            assert _read_exactly(attacker, 1) == b""   # (closed, nothing sent)
            attacker.close()
        task = _connect(env["JEM_PTY_ADDRESS"])
        task.sendall(env["JEM_PTY_TOKEN"].encode() + b"\n")
        os.write(keys_w, b"ls\r")
        kind, size = FRAME.unpack(_read_exactly(task, FRAME.size))
        assert (kind, _read_exactly(task, size)) == (b"d", b"ls\r")
        task.close()
    finally:
        pty.restore()
        os.close(keys_r)
        os.close(keys_w)
