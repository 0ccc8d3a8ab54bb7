"""The commands' resident server, with real processes: a call runs in a forked child that becomes the caller
(stdio, stdin script, working directory, environment, exit code, signals), and the server is per user,
replaced when stale or when the installed code changes, leaves on idle or on `--stop-server`."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from slurm_cluster import JEM, command_server_pids, slurm, start_cluster, stop_cluster, wait_for

import jem.cli
import jem_slurm
from jem_slurm import launcher

SLURM_COMPAT = os.path.dirname(os.path.dirname(os.path.abspath(jem_slurm.__file__)))
SITE_PACKAGES = os.path.dirname(os.path.dirname(os.path.abspath(pytest.__file__)))
REPO = os.path.dirname(SLURM_COMPAT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("cmd_server")), n_nodes=1)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        wait_for(lambda: not command_server_pids(cluster["env"]["JEM_RUNTIME_DIR"]),
                 what="--stop-server to end the server")


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _server(cluster) -> int:
    """Make sure this cluster's server is up (a first call starts it) and listening; return its pid."""
    return _listening(cluster["env"]["JEM_RUNTIME_DIR"], lambda: slurm(cluster, "squeue", "-h"))


def _listening(runtime_dir: str, call) -> int:
    """The pid of the server in `runtime_dir` once it serves: `call` is made twice, the first to start a
    server (when none is up), the second to be served by it (it waits on the socket until the server has
    imported what it needs and taken the stamp of its code)."""
    call()
    call()

    def ready():
        pids = command_server_pids(runtime_dir)
        return pids and _command_sockets(runtime_dir) and pids[0]
    return wait_for(ready, what="a listening server")


def _command_sockets(runtime_dir: str) -> list[str]:
    """The command servers' sockets in `runtime_dir` (not their call relays')."""
    return [os.path.join(runtime_dir, n) for n in os.listdir(runtime_dir)
            if n.endswith(".sock") and not n.endswith(".relay.sock")]


def _relay(runtime_dir: str) -> tuple[int, str]:
    """(pid, socket path) of the call relay of the command server in `runtime_dir`, once it listens."""
    def find():
        for name in os.listdir(runtime_dir):
            if name.endswith(".relay.sock"):
                path = os.path.join(runtime_dir, name)
                pids = [int(p) for p in os.listdir("/proc") if p.isdigit()
                        and b"jem.relay" in _cmdline(int(p)) and path.encode() in _cmdline(int(p))]
                return pids and (pids[0], path)
    return wait_for(find, what="the call relay")


def _tcp_peers(pid: int) -> set[int]:
    """The remote ports of `pid`'s TCP connections (IPv4 and IPv6)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:   # (closed since the listing: the relay's threads open and close)
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes and fields[3] == "01":   # ESTABLISHED
                    ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def _has_cwd(pid: int, path) -> bool:
    try:
        return os.path.samefile(f"/proc/{pid}/cwd", path)
    except OSError:   # (gone meanwhile)
        return False


def _children(pid: int) -> list[int]:
    """The server's children that run commands (not its call relay)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split() if b"jem.relay" not in _cmdline(int(p))]


def test_a_held_open_stdin_script_runs_in_a_child_of_the_server(cluster, tmp_path):
    server_pid = _server(cluster)
    stub = subprocess.Popen(["sbatch", "--parsable"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cluster["env"], cwd=tmp_path)
    try:
        # (a child of the server in the caller's working directory: it took it; the relay the server
        # may be spawning just then is its child too for a moment, with the server's)
        wait_for(lambda: [c for c in _children(server_pid) if _has_cwd(c, tmp_path)], what="the server's child")
        out, err = stub.communicate("#!/bin/sh\necho from-stdin\n", timeout=30)
    finally:
        stub.kill()
    assert stub.returncode == 0 and out.strip().isdigit(), err
    shown = slurm(cluster, "scontrol", "show", "job", out.strip()).stdout
    assert f"WorkDir={tmp_path}" in shown


@pytest.mark.parametrize("argv", [
    ("sbatch", "--time=abc", "--wrap", "true"),             # 255, sbatch's option parser
    ("sbatch", "-p", "nosuch", "--wrap", "true"),           # 1, a refused submission
    ("squeue", "-o", "%i|%j|%u", "-t", "all"),
    ("squeue", "--bogus"),
    ("sacct", "-X", "-n", "-o", "JobName,State"),
    ("sinfo",),
    ("scontrol", "show", "partition"),
    ("scancel", "999999"),
])
def test_every_outcome_matches_the_in_process_run(cluster, argv):
    env = dict(cluster["env"], SQUEUE_FORMAT="%.5i %j")
    _server(cluster)
    served = slurm(cluster, *argv, env=env)
    in_process = slurm(cluster, *argv, env=dict(env, JEM_NO_SERVER="1"))
    assert (served.returncode, served.stdout, served.stderr) == (
        in_process.returncode, in_process.stdout, in_process.stderr)


@pytest.mark.parametrize("argv", [
    ("jobs", "--all"), ("show", "999999"), ("cancel", "notanumber"), ("nodes",), ("--help",),
    ("why", "999999"), ("submit", "-p", "nosuch", "--wrap", "true"),
], ids=lambda argv: " ".join(argv))
@pytest.mark.parametrize("jem", [JEM, ("jem",)], ids=["installed", "slurm-path"])
def test_every_jem_outcome_matches_the_in_process_run(cluster, jem, argv):
    """`jem` through the server, both as installed and as the stub `jem slurm-path` writes (first on the
    cluster's PATH), does what `jem` in its own process does."""
    _server(cluster)
    served = slurm(cluster, *jem, *argv)
    in_process = slurm(cluster, *JEM, *argv, env=dict(cluster["env"], JEM_NO_SERVER="1"))
    assert (served.returncode, served.stdout, served.stderr) == (
        in_process.returncode, in_process.stdout, in_process.stderr)


def test_a_jem_call_runs_in_a_child_of_the_server_as_the_caller(cluster, tmp_path):
    server_pid = _server(cluster)
    stub = subprocess.Popen([*JEM, "submit", "-H"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cluster["env"], cwd=tmp_path)
    try:
        # (a child in the caller's working directory; see the test above)
        wait_for(lambda: [c for c in _children(server_pid) if _has_cwd(c, tmp_path)], what="the server's child")
        out, err = stub.communicate("#!/bin/sh\necho from-stdin\n", timeout=30)
    finally:
        stub.kill()
    assert stub.returncode == 0 and out.startswith("Submitted batch job "), err
    shown = slurm(cluster, "scontrol", "show", "job", out.split()[-1]).stdout
    assert f"WorkDir={tmp_path}" in shown


@pytest.mark.parametrize("argv", [("down", "--state-dir", "/nonexistent"), ("slurm-path", "--state-dir", "STATE"),
                                  ("sim", "--help"), ("ca", "--help")], ids=lambda argv: argv[0])
def test_daemons_and_local_commands_run_in_the_callers_own_process(cluster, tmp_path, argv):
    """Neither as installed nor through the stub of `jem slurm-path` do they reach (or start) a server;
    a command that talks to the controller does."""
    env = dict(cluster["env"], JEM_RUNTIME_DIR=str(tmp_path / "run"))
    argv = [str(tmp_path / "state") if a == "STATE" else a for a in argv]
    for jem in (JEM, [os.path.join(cluster["path"], "jem")]):
        assert slurm(cluster, *jem, *argv, env=env).returncode == 0
    assert not os.path.exists(tmp_path / "run") or os.listdir(tmp_path / "run") == []
    assert slurm(cluster, *JEM, "ping", env=env).returncode == 0
    wait_for(lambda: command_server_pids(env["JEM_RUNTIME_DIR"]), what="the server the served call started")
    assert slurm(cluster, *JEM, "slurm-path", "--stop-server", env=env).returncode == 0
    wait_for(lambda: not command_server_pids(env["JEM_RUNTIME_DIR"]), what="that server to stop")


def test_the_callers_environment_reaches_the_command(cluster):
    _server(cluster)
    shown = slurm(cluster, "squeue", "-t", "all", env=dict(cluster["env"], SQUEUE_FORMAT="[%i]"))
    assert shown.stdout.splitlines()[0] == "[JOBID]"
    bad = slurm(cluster, "squeue", env=dict(cluster["env"], JEM_CONTROLLER="127.0.0.1:1"))
    assert bad.returncode == 1 and "127.0.0.1:1" in bad.stderr


def test_sigint_to_the_caller_reaches_the_command(cluster):
    server_pid = _server(cluster)
    # SIGINT as a terminal's foreground job has it (a background runner may pass it on ignored, and an
    # ignored SIGINT is, rightly, ignored by the command as well).
    stub = subprocess.Popen(["sbatch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cluster["env"], cwd=cluster["root"],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: _children(server_pid), what="the server's child")
        stub.send_signal(signal.SIGINT)
        stub.wait(timeout=30)  # stdin stays open: only the forwarded signal can end the command
        _, err = stub.communicate(timeout=30)
    finally:
        stub.kill()
    # The commands' KeyboardInterrupt status, or death by SIGINT when it came before the command's own
    # handler: what the in-process run does either way.
    assert stub.returncode in (130, -signal.SIGINT), err


def test_a_dead_servers_socket_never_breaks_a_command(cluster):
    old = _server(cluster)
    os.kill(old, signal.SIGKILL)  # leaves its socket and lock files behind
    wait_for(lambda: not os.path.exists(f"/proc/{old}") or b"" == _cmdline(old), what="the kill")
    result = slurm(cluster, "squeue", "-h", "-o", "%i", "-t", "all")
    assert result.returncode == 0 and result.stderr == ""
    new = wait_for(lambda: [p for p in command_server_pids(cluster["env"]["JEM_RUNTIME_DIR"]) if p != old],
                    what="a new server")
    assert new


@pytest.mark.parametrize("package, call", [(jem_slurm, ("squeue", "-h", "-t", "all")),
                                           (jem.cli, (*JEM, "jobs", "--all"))], ids=["squeue", "jem"])
def test_a_change_to_the_installed_code_restarts_the_server(cluster, package, call):
    old = _server(cluster)
    package = os.path.dirname(os.path.abspath(package.__file__))
    st = os.stat(package)
    os.utime(package, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # as adding a module would
    try:
        result = slurm(cluster, *call)
        assert result.returncode == 0 and result.stderr == ""
        wait_for(lambda: old not in command_server_pids(cluster["env"]["JEM_RUNTIME_DIR"]), what="the old server to go")
        assert _server(cluster) != old
    finally:
        os.utime(package, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_no_server_is_started_when_disabled_or_the_directory_is_not_private(cluster, tmp_path):
    for run_dir, extra in ((tmp_path / "off", {"JEM_NO_SERVER": "1"}), (tmp_path / "open", {})):
        run_dir.mkdir(mode=0o755)
        run_dir.chmod(0o755)
        result = slurm(cluster, "squeue", "-h", env=dict(cluster["env"], JEM_RUNTIME_DIR=str(run_dir), **extra))
        assert result.returncode == 0
        time.sleep(0.5)
        assert os.listdir(run_dir) == []


def test_an_idle_server_leaves_and_removes_its_socket(cluster, tmp_path):
    env = dict(cluster["env"], JEM_RUNTIME_DIR=str(tmp_path / "idle"), JEM_SERVER_IDLE_S="0.5")
    assert slurm(cluster, "squeue", "-h", env=env).returncode == 0
    wait_for(lambda: command_server_pids(env["JEM_RUNTIME_DIR"]), what="the server")
    wait_for(lambda: not command_server_pids(env["JEM_RUNTIME_DIR"]), what="the idle exit")
    assert not [n for n in os.listdir(env["JEM_RUNTIME_DIR"]) if n.endswith(".sock")]


@pytest.fixture
def second_user():
    name = f"jemc{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    home = tempfile.mkdtemp(prefix="jem-cmd-user-")
    entry = pwd.getpwnam(name)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    try:
        yield entry, home
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)  # that user's server, if a test failed early
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run(["userdel", name], check=False)


def _python_for_everyone() -> str:
    """An interpreter other users may run (the test venv's may live under a 0700 home), or skip."""
    for candidate in (sys.executable, f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"):
        path = os.path.realpath(candidate)
        if all(os.stat(d).st_mode & 0o005 == 0o005 for d in _parents(path)) and os.path.exists(path):
            return candidate
    pytest.skip("no interpreter of this version that an ordinary user may run")


def _parents(path: str):
    while path != "/":
        path = os.path.dirname(path)
        yield path


def _probe(server_socket: str, command: str) -> str:
    """Python (for `python -IS -c`) that sends one well-formed call for `command` to the server at `server_socket`
    as the launcher does, and prints what came of it: "no connection", "not run", or the command's status."""
    return (f"import os, sys; sys.path.insert(0, {SLURM_COMPAT!r}); from jem_slurm import launcher\n"
            f"sock = launcher._connected({server_socket!r})\n"
            f"if sock is None:\n    print('no connection')\n"
            f"else:\n    status = launcher._call(sock, launcher._request({command!r}, [], []), "
            f"os.open('.', os.O_PATH), launcher._Relay())\n"
            f"    print('not run' if status is None else status)\n")


@pytest.mark.parametrize("command", ["squeue", "jem"])
def test_a_second_user_gets_a_server_of_their_own_and_cannot_use_roots(cluster, second_user, command):
    """For the Slurm-named commands and for `jem` (served the same way, by the same server)."""
    entry, home = second_user
    python = _python_for_everyone()
    env = dict(cluster["env"], HOME=home, JEM_STATE_DIR=f"{home}/state", JEM_RUNTIME_DIR=f"{home}/run",
               PYTHONPATH=os.pathsep.join([REPO, SLURM_COMPAT, SITE_PACKAGES]))

    def as_user(*argv, **kwargs):
        return subprocess.run(["runuser", "-u", entry.pw_name, "--", *argv], capture_output=True, text=True,
                              env=env, cwd=home, timeout=60, **kwargs)

    path = as_user(python, "-m", "jem.cli.main", "slurm-path").stdout.strip()
    for _ in range(2):
        result = as_user(f"{path}/squeue", "-h", "-o", "%i") if command == "squeue" else as_user(
            python, "-m", "jem.cli.main", "jobs")
        assert result.returncode == 0, result.stderr
    user_server = wait_for(lambda: command_server_pids(f"{home}/run"), what="the user's server")[0]
    assert os.stat(f"/proc/{user_server}").st_uid == entry.pw_uid

    # Root's server in a directory the user could reach but for its mode (pytest's own tree is 0700).
    root_dir = tempfile.mkdtemp(prefix="jem-cmd-root-")
    root_env = dict(cluster["env"], JEM_RUNTIME_DIR=root_dir)
    root_call = ("squeue", "-h") if command == "squeue" else (*JEM, "jobs")
    root_server = _listening(root_dir, lambda: slurm(cluster, *root_call, env=root_env))
    try:
        root_socket = _command_sockets(root_dir)[0]
        probe = _probe(root_socket, command)
        assert as_user(python, "-IS", "-c", probe).stdout.strip() == "no connection"  # the 0700 directory stops it
        os.chmod(root_dir, 0o711)
        os.chmod(root_socket, 0o666)
        # Even with the file system open, SO_PEERCRED refuses the call: no command runs.
        assert as_user(python, "-IS", "-c", probe).stdout.strip() == "not run"
        log = [n for n in os.listdir(root_dir) if n.endswith(".log")][0]
        with open(os.path.join(root_dir, log)) as f:
            assert f"refused a connection from uid {entry.pw_uid}" in f.read()
    finally:
        os.kill(root_server, signal.SIGTERM)
        wait_for(lambda: not command_server_pids(root_dir), what="root's extra server to stop")
        shutil.rmtree(root_dir, ignore_errors=True)
    assert as_user(python, "-m", "jem.cli.main", "slurm-path", "--stop-server").returncode == 0
    wait_for(lambda: not command_server_pids(f"{home}/run"), what="the user's server to stop")


def test_unary_calls_go_through_the_servers_relay_and_a_lost_relay_only_slows_them(cluster):
    server_pid = _server(cluster)
    relay_pid, _ = _relay(cluster["env"]["JEM_RUNTIME_DIR"])
    controller_port = int(cluster["env"]["JEM_CONTROLLER"].rsplit(":", 1)[1])
    job_id = slurm(cluster, "sbatch", "--parsable", "--hold", "--wrap", "true").stdout.strip()
    # The relay holds the connection to the controller; the command's child is gone.
    assert controller_port in _tcp_peers(relay_pid)
    assert f"{job_id} " in slurm(cluster, "squeue", "-h", "-o", "%i %t").stdout
    # An error crosses the relay with its type: Slurm's words, not a transport failure.
    result = slurm(cluster, "scontrol", "show", "job", "999999")
    assert (result.returncode, result.stderr) == (1, "slurm_load_jobs error: Invalid job id specified\n")
    os.kill(relay_pid, signal.SIGKILL)
    wait_for(lambda: b"" == _cmdline(relay_pid), what="the relay to die")
    # Without its relay the server's children call the controller themselves: nothing fails.
    assert slurm(cluster, "scancel", job_id).returncode == 0
    assert slurm(cluster, "squeue", "-h", "-j", job_id, "-t", "all", "-o", "%T").stdout.strip() == "CANCELLED"
    assert server_pid in command_server_pids(cluster["env"]["JEM_RUNTIME_DIR"])


def test_a_relay_serves_no_other_user(cluster, second_user):
    entry, home = second_user
    # Root's server in a directory the user could reach but for its mode (pytest's own tree is 0700).
    root_dir = tempfile.mkdtemp(prefix="jem-relay-root-")
    root_server = _listening(root_dir, lambda: slurm(cluster, "squeue", "-h",
                                                     env=dict(cluster["env"], JEM_RUNTIME_DIR=root_dir)))
    try:
        relay_pid, relay_socket = _relay(root_dir)
        os.chmod(root_dir, 0o711)
        os.chmod(relay_socket, 0o666)
        # A well-formed call from another user, with the file system open: the relay answers nothing.
        probe = ("import json, socket, sys\n"
                 "s = socket.socket(socket.AF_UNIX)\n"
                 "s.connect(sys.argv[1])\n"
                 "h = json.dumps({'target': '127.0.0.1:1', 'ca_file': '', 'method': '/jem.v1.JobService/ListJobs',"
                 " 'timeout_s': 5, 'metadata': []}).encode()\n"
                 "try:\n"   # (a relay that drops the caller before it has sent all: no answer either)
                 "    s.sendall(len(h).to_bytes(4, 'little') + h + bytes(4))\n"
                 "    print(repr(s.recv(100)))\n"
                 "except (ConnectionResetError, BrokenPipeError):\n    print(repr(b''))\n")
        result = subprocess.run(["runuser", "-u", entry.pw_name, "--", "/usr/bin/python3", "-IS", "-c", probe,
                                 relay_socket], capture_output=True, text=True, timeout=30, cwd=home)
        assert result.stdout.strip() == "b''", result.stderr
        log = [n for n in os.listdir(root_dir) if n.endswith(".log")][0]
        with open(os.path.join(root_dir, log)) as f:
            assert f"jem relay: refused a connection from uid {entry.pw_uid}" in f.read()
        assert b"jem.relay" in _cmdline(relay_pid)   # still up, for its own user
    finally:
        os.kill(root_server, signal.SIGTERM)
        wait_for(lambda: not command_server_pids(root_dir), what="root's extra server to stop")
        shutil.rmtree(root_dir, ignore_errors=True)
    assert b"" == _cmdline(relay_pid)   # the relay went with its server


def test_runtime_dir_refuses_a_directory_others_may_enter(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("JEM_RUNTIME_DIR", str(shared))
    assert launcher.runtime_dir() is None
    monkeypatch.setenv("JEM_RUNTIME_DIR", str(tmp_path / "fresh"))
    assert launcher.runtime_dir() == str(tmp_path / "fresh")
    assert os.stat(tmp_path / "fresh").st_mode & 0o777 == 0o700
