"""srun's stdin relay (jem_slurm.srun_input.StdinRelay) against a local attacker: a connection
without the step's secret, or with a wrong one, gets none of srun's stdin and is closed; every
node that presents the secret gets all of it, then the end of file. A pipe stands in for stdin."""

import os
import socket

from jem_slurm.srun_input import StdinRelay


def _connect(address: str, line: bytes) -> socket.socket:
    _, _, port = address.rpartition(":")
    conn = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    conn.settimeout(10)
    conn.sendall(line)
    return conn


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_only_the_nodes_with_the_secret_get_srun_s_stdin_and_its_end():
    stdin_r, stdin_w = os.pipe()
    relay = StdinRelay("127.0.0.1", source_fd=stdin_r)
    try:
        env = relay.environment()
        assert set(env) == {"JEM_STDIN_ADDRESS", "JEM_STDIN_TOKEN"} and len(env["JEM_STDIN_TOKEN"]) == 32
        assert env["JEM_STDIN_ADDRESS"] == f"127.0.0.1:{relay.port}"
        attackers = [_connect(env["JEM_STDIN_ADDRESS"], guess) for guess in
                     (b"\n", b"0" * 32 + b"\n", env["JEM_STDIN_TOKEN"][:-1].encode() + b"\n", b"x" * 200)]
        nodes = [_connect(env["JEM_STDIN_ADDRESS"], env["JEM_STDIN_TOKEN"].encode() + b"\n") for _ in range(2)]
        relay.start(2)
        os.write(stdin_w, b"line one\n" + b"x" * 100000)
        os.close(stdin_w)
        for node in nodes:
            assert _read_all(node) == b"line one\n" + b"x" * 100000   # (then the end of file)
            node.close()
        for attacker in attackers:
            assert _read_all(attacker) == b""   # (closed, nothing sent)
            attacker.close()
    finally:
        relay.close()
        os.close(stdin_r)
