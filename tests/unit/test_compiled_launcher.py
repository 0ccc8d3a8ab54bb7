"""The compiled launcher (`jem_slurm/jem-launch`, the interpreter of `jem slurm-path`'s wrappers) against a
stand-in command server on a real Unix socket: it sends what the Python launcher sends (request, descriptors),
passes on signals, ends as the command did, leaves every case it does not handle to the Python launcher, and
never talks to a socket in a runtime directory that is not the caller's alone."""

import os
import signal
import socket
import stat
import subprocess
import sys
import threading

import pytest

from jem.cli import slurmpath
from jem_slurm import launcher

TIMEOUT_S = 30


def _wrapper(tmp_path, command: str = "squeue") -> str:
    path = tmp_path / "bin" / command
    path.parent.mkdir(exist_ok=True)
    path.write_text(slurmpath.wrapper_text(command, sys.executable))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def runtime_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    return str(path)


def test_the_wrappers_interpreter_is_the_compiled_launcher(tmp_path):
    """The install built it, and `jem slurm-path` writes wrappers that it runs."""
    compiled = slurmpath.compiled_launcher()
    assert compiled is not None and os.access(compiled, os.X_OK)
    with open(_wrapper(tmp_path)) as f:
        assert f.readline() == f"#!{compiled}\n"


class StandInServer:
    """Listens where the launcher looks for its server; each connection is answered by `answer(conn, request)`
    after the request (body and the four descriptors) was read and kept in `requests`."""

    def __init__(self, runtime_dir: str, answer):
        self.requests: list[tuple[bytes, list[os.stat_result]]] = []
        self.answer = answer
        self.is_closing = False
        self.path = launcher.socket_path(runtime_dir, launcher.server_key(sys.executable))
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.listener.settimeout(TIMEOUT_S)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.is_closing:
                conn.close()
                return
            with conn:
                header, ancillary, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(4 * 4))
                fds = [int.from_bytes(data[i:i + 4], sys.byteorder) for _, _, data in ancillary
                       for i in range(0, len(data), 4)]
                size = int.from_bytes(header, "little")
                body = b""
                while len(body) < size:
                    body += conn.recv(size - len(body))
                self.requests.append((body, [os.fstat(fd) for fd in fds]))
                for fd in fds:
                    os.close(fd)
                self.answer(conn, len(self.requests))

    def close(self) -> None:
        self.is_closing = True
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as waker:   # (an accept wakes for nothing else)
            waker.connect(self.path)
        self.thread.join(TIMEOUT_S)
        assert not self.thread.is_alive()
        self.listener.close()
        os.unlink(self.path)


def _status_reply(code: int) -> bytes:
    return b"X" + code.to_bytes(4, "little", signed=True)


def _runs(pid: int, code: int):
    """An answer: the command runs as `pid`, then ends with `code`."""
    def answer(conn, _):
        conn.sendall(b"P" + pid.to_bytes(4, "little") + _status_reply(code))
    return answer


def _env(runtime_dir: str, **extra) -> dict:
    # (LC_ALL set: in a C locale the interpreter would add LC_CTYPE to its own environment, PEP 538)
    return {"PATH": os.environ["PATH"], "JEM_RUNTIME_DIR": runtime_dir, "LC_ALL": "C.UTF-8",
            "ODD": "a b\tc=d", **extra}


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def test_it_sends_what_the_python_launcher_sends(tmp_path, runtime_dir):
    wrapper = _wrapper(tmp_path)
    server = StandInServer(runtime_dir, _runs(os.getpid(), 7))
    argv = ["-o", "%i %j", "", "ünï", "--me"]
    out = open(tmp_path / "out", "w")
    try:
        for run in ([wrapper], [sys.executable, "-IS", wrapper]):   # compiled, then Python
            result = subprocess.run([*run, *argv], env=_env(runtime_dir), cwd=tmp_path, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.PIPE, timeout=TIMEOUT_S,
                                    preexec_fn=lambda: os.umask(0o027))
            assert result.returncode == 7, result.stderr
    finally:
        out.close()
        server.close()
    (compiled, compiled_fds), (python, python_fds) = server.requests
    assert compiled == python
    fields = compiled.split(b"\0")
    assert fields[:4] == [b"squeue", str(0o027).encode(), b"", b"5"]
    assert [os.fsdecode(a) for a in fields[4:9]] == argv
    assert b"ODD=a b\tc=d" in fields[9:]
    for fds in (compiled_fds, python_fds):
        assert _same_file(fds[0], os.stat(os.devnull)) and _same_file(fds[1], os.stat(tmp_path / "out"))
        assert stat.S_ISDIR(fds[3].st_mode) and _same_file(fds[3], os.stat(tmp_path))


def test_it_ends_as_the_command_did(tmp_path, runtime_dir):
    wrapper = _wrapper(tmp_path)
    for code, expected in ((0, 0), (255, 255), (-signal.SIGTERM, -signal.SIGTERM), (-signal.SIGKILL, -signal.SIGKILL)):
        server = StandInServer(runtime_dir, _runs(os.getpid(), code))
        try:
            result = subprocess.run([wrapper], env=_env(runtime_dir), stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=TIMEOUT_S)
        finally:
            server.close()
        assert result.returncode == expected, result.stderr


def test_signals_reach_the_command_and_an_ignored_one_stays_ignored(tmp_path, runtime_dir):
    """SIGUSR1 (ignored by the caller, so named to the server) and then SIGUSR2 are sent to the launcher;
    the command (a `sleep` standing for it) dies of SIGUSR2, the first it was passed."""
    wrapper = _wrapper(tmp_path)
    command = subprocess.Popen(["sleep", str(TIMEOUT_S)])
    started, release = threading.Event(), threading.Event()

    def answer(conn, _):
        conn.sendall(b"P" + command.pid.to_bytes(4, "little"))
        started.set()
        release.wait(TIMEOUT_S)
        conn.sendall(_status_reply(-signal.SIGUSR2))

    server = StandInServer(runtime_dir, answer)
    stub = subprocess.Popen([wrapper], env=_env(runtime_dir), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGUSR1, signal.SIG_IGN))
    try:
        assert started.wait(TIMEOUT_S)
        stub.send_signal(signal.SIGUSR1)
        stub.send_signal(signal.SIGUSR2)
        assert command.wait(TIMEOUT_S) == -signal.SIGUSR2
        release.set()
        assert stub.wait(TIMEOUT_S) == -signal.SIGUSR2
    finally:
        for process in (stub, command):
            process.kill()
            process.wait()
        release.set()
        server.close()
    assert server.requests[0][0].split(b"\0")[2] == str(int(signal.SIGUSR1)).encode()


@pytest.mark.parametrize("first", [b"R", b""], ids=["restart", "closed"])
def test_a_call_the_server_did_not_start_goes_to_the_python_launcher(tmp_path, runtime_dir, first):
    """Answered "restart", or closed before the command started: the Python launcher takes the call (it
    tries the server again, which now runs it). Nothing ran twice: only the second request got a pid."""
    wrapper = _wrapper(tmp_path)

    def answer(conn, n):
        if n == 1:
            conn.sendall(first)
        else:
            _runs(os.getpid(), 3)(conn, n)

    server = StandInServer(runtime_dir, answer)
    try:
        result = subprocess.run([wrapper], env=_env(runtime_dir), stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=TIMEOUT_S)
    finally:
        server.close()
    assert result.returncode == 3, result.stderr
    assert len(server.requests) == 2 and server.requests[0][0] == server.requests[1][0]


@pytest.mark.parametrize("how", ["others_may_enter", "another_users"])
def test_a_socket_in_a_directory_not_the_callers_alone_is_never_used(tmp_path, how):
    """A socket planted in a runtime directory that others may enter (0755), or that another user owns (root
    could still connect to it), gets no connection: the call runs without a server (here it fails to reach
    the controller, as it would in-process), and nothing is started there."""
    planted = tmp_path / "planted"
    planted.mkdir()
    planted.chmod(0o755 if how == "others_may_enter" else 0o700)
    if how == "another_users":
        os.chown(planted, 65534, 65534)
    server = StandInServer(str(planted), _runs(os.getpid(), 0))
    try:
        result = subprocess.run([_wrapper(tmp_path), "-h"], stdin=subprocess.DEVNULL, capture_output=True,
                                env=_env(str(planted)), timeout=TIMEOUT_S)
    finally:
        server.close()
    assert server.requests == []
    assert result.returncode == 1 and result.stderr.startswith(b"squeue: error: ")
    assert os.listdir(planted) == []   # (no lock, no socket: no server was started there)


def test_it_refuses_a_file_that_is_not_a_wrapper(tmp_path):
    compiled = slurmpath.compiled_launcher()
    other = tmp_path / "notes"
    other.write_text("#!/bin/sh\necho hello\n")
    for argv in ([compiled], [compiled, str(other)]):
        result = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S)
        assert result.returncode == 2 and b"jem-launch:" in result.stderr


# The installed `jem`: the same executable under that name, beside the Python `jem-python` (bin/jem-python).

JEM_PYTHON_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "bin", "jem-python")


def _installed_jem(tmp_path, script_body: str | None = None) -> tuple[str, str]:
    """bin/jem (the compiled launcher, copied as setup.py's build_scripts copies it) and bin/jem-python: the
    real script with its `#!` pointed at this interpreter (as pip does), or a stand-in `script_body`.
    Returns both paths."""
    directory = tmp_path / "installed"
    directory.mkdir()
    jem = directory / "jem"
    jem.write_bytes(open(slurmpath.compiled_launcher(), "rb").read())
    jem.chmod(0o755)
    with open(JEM_PYTHON_SOURCE) as f:
        text = f.read()
    assert text.startswith("#!python\n")
    if script_body is not None:
        header = "".join(line for line in text.splitlines(True) if line.startswith("#:"))
        text = f"#!python\n{header}{script_body}"
    script = directory / "jem-python"
    script.write_text(text.replace("#!python", f"#!{sys.executable}", 1))
    script.chmod(0o755)
    return str(jem), str(script)


def _marking_script(mark: str) -> str:
    """A stand-in jem-python: notes its argv in `mark` and exits 7 (so a call it took is told apart)."""
    return f"import sys\nopen({mark!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\nsys.exit(7)\n"


def test_the_installed_scripts_served_commands_are_the_servers():
    from jem.cli.main import SERVED_COMMANDS

    with open(JEM_PYTHON_SOURCE) as f:
        served = [line.split()[1:] for line in f if line.startswith("#:served ")]
    assert served == [sorted(SERVED_COMMANDS)]


def test_the_installed_jem_is_the_compiled_launcher():
    """In the venv the tests run from, `jem` is the executable build_scripts copied, `jem-python` the script."""
    bin_dir = os.path.dirname(sys.executable)
    with open(os.path.join(bin_dir, "jem"), "rb") as f:
        assert f.read(4) == b"\x7fELF"
    with open(os.path.join(bin_dir, "jem-python")) as f:
        assert f.readline().startswith("#!") and "#:command jem\n" in f.read()


def test_the_installed_jem_hands_a_served_call_over_once_its_key_is_recorded(tmp_path, runtime_dir):
    """The first call runs jem-python (the real one), which records the server's key and hands the call
    over itself; the next call is handed over by the executable alone, byte for byte the same request."""
    jem, script = _installed_jem(tmp_path)
    server = StandInServer(runtime_dir, _runs(os.getpid(), 5))
    argv = ["jobs", "-u", "ünï"]
    try:
        first = subprocess.run([jem, *argv], env=_env(runtime_dir), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT_S)
        with open(os.path.join(runtime_dir, launcher.INSTALLED_KEYS)) as f:
            recorded = f.read()
        os.chmod(script, 0o644)   # the next call cannot run the script: it must not need to
        second = subprocess.run([jem, *argv], env=_env(runtime_dir), stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=TIMEOUT_S)
    finally:
        server.close()
    assert (first.returncode, second.returncode) == (5, 5), (first.stderr, second.stderr)
    assert recorded == f"{launcher.server_key(sys.executable)}\t{os.path.realpath(script)}\n"
    assert len(server.requests) == 2
    fields = server.requests[1][0].split(b"\0")
    assert fields[0] == b"jem" and [os.fsdecode(a) for a in fields[4:7]] == argv
    assert server.requests[0][0].split(b"\0")[4:7] == fields[4:7]


@pytest.mark.parametrize("case", ["no_key", "another_scripts_key", "not_served", "no_server", "linked_keys"])
def test_the_installed_jem_leaves_the_rest_to_jem_python(tmp_path, runtime_dir, case):
    """Without a key recorded for its own script, for a command the server does not run, with no server up,
    or with a key file that is a link, the executable runs jem-python with the same arguments."""
    mark = str(tmp_path / "mark")
    jem, script = _installed_jem(tmp_path, _marking_script(mark))
    key = launcher.server_key(sys.executable)
    keys = os.path.join(runtime_dir, launcher.INSTALLED_KEYS)
    if case == "linked_keys":
        with open(tmp_path / "elsewhere", "w") as f:
            f.write(f"{key}\t{os.path.realpath(script)}\n")
        os.symlink(tmp_path / "elsewhere", keys)
    elif case != "no_key":
        with open(keys, "w") as f:
            f.write(f"{key}\t{os.path.realpath(script)}{'x' if case == 'another_scripts_key' else ''}\n")
    argv = ["up", "--nodes", "2"] if case == "not_served" else ["jobs", "-l"]
    server = None if case == "no_server" else StandInServer(runtime_dir, _runs(os.getpid(), 0))
    try:
        result = subprocess.run([jem, *argv], env=_env(runtime_dir), stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=TIMEOUT_S)
    finally:
        if server is not None:
            server.close()
    assert result.returncode == 7, result.stderr
    with open(mark) as f:
        assert f.read() == f"{argv!r}\n"
    assert server is None or server.requests == []
