"""The command launcher: what each `jem slurm-path` wrapper runs, a stub that hands the call to the resident server.

The wrappers run this module under `python -I -S` (no site, no user paths),
and it imports only `os`, `sys` and `_socket`, so it starts in about 10 ms
instead of the ~120 ms that importing grpc, the stubs and jem.client costs. It
connects to the user's command server (`forkserver.py`) on a Unix socket in
the runtime directory and sends the command name, argv, the environment, the
umask and four descriptors (stdin, stdout, stderr and the working directory,
with SCM_RIGHTS); the server forks a child that takes them and runs the
command's `main()`. The stub forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1 and SIGUSR2 to that child and exits with its status.

When there is no server (first call, idle exit, a stale socket, a server
that answers "restart" because the installed code changed, a runtime
directory that fails the ownership check, or JEM_NO_SERVER=1), the stub
execs the interpreter normally and runs the command in-process, starting a
server in the background for the next call (not with JEM_NO_SERVER=1).

Wire format, all integers 4-byte little-endian:
  request  = len(body) + body, sent with the four descriptors;
             body = NUL-joined command, umask, ignored signals ("2,15"),
             n_args, args..., env "K=V"...
  replies  = b"P" + child pid (the command runs), then b"X" + status
             (exit code >= 0, or -signal: from the child as its command
             ends, or from the server when it reaps a child that did not
             say, one killed by a signal; a second X is never read); or
             b"R" alone (restart: run here).
"""

import os
import sys

import _socket

PROTOCOL = 1  # part of each server's key: a stub never talks to a server of another wire format
FORWARDED_SIGNALS = (1, 2, 3, 10, 12, 15)  # SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGTERM (Linux numbers)


def runtime_dir() -> str | None:
    """This user's directory for server sockets, made 0700; None when it is not ours alone (then no server is used).

    $JEM_RUNTIME_DIR, else $XDG_RUNTIME_DIR/jem when that directory is the
    user's own, else /tmp/jem-<uid>. Someone else's (or a group- or
    world-accessible) directory is refused, so a user never talks to a
    socket another user planted.
    """
    uid = os.getuid()
    path = os.environ.get("JEM_RUNTIME_DIR", "")
    if not path:
        xdg = os.environ.get("XDG_RUNTIME_DIR", "")
        path = os.path.join(xdg, "jem") if xdg and _is_private_dir(xdg, uid) else f"/tmp/jem-{uid}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return path if _is_private_dir(path, uid) else None


def _is_private_dir(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_mode & 0o170000 == 0o040000 and st.st_uid == uid and not st.st_mode & 0o077


def socket_path(directory: str, key: str) -> str:
    return os.path.join(directory, f"{key}.sock")


def server_pid(lock_path: str) -> int:
    """The pid of the server holding `lock_path` (its flock), or 0 when none does."""
    import fcntl

    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return 0
    except BlockingIOError:
        text = os.read(fd, 32).strip()
        return int(text) if text.isdigit() else -1  # -1: held, pid not written yet
    finally:
        os.close(fd)


def launch(command: str, key: str) -> None:
    """Run `jem_slurm.<command>` with this process's argv: on the server when there is one, else in-process."""
    argv = sys.argv[1:]
    if os.environ.get("JEM_NO_SERVER", "") not in ("", "0"):
        _exec_in_process(command, argv, None)
    directory = runtime_dir()
    if directory is None:
        _exec_in_process(command, argv, None)
    status = _run_on_server(socket_path(directory, key), command, argv)
    if status is None:
        _exec_in_process(command, argv, (directory, key))
    _exit_like(status)


def _exec_in_process(command: str, argv: list[str], server: tuple[str, str] | None) -> None:
    """Replace this stub with a normal interpreter running the command (and starting the server when asked)."""
    code = f"import sys\nfrom jem_slurm.inprocess import run\nsys.exit(run({command!r}, {server!r}))"
    os.execv(sys.executable, [sys.executable, "-c", code, *argv])


class _Relay:
    """The signals this stub passes on to the command's child: caught from before the connect, sent once its pid is known.

    A signal the stub inherited as ignored is not caught, and the child
    ignores it too, as the in-process command would (Python keeps an
    inherited SIG_IGN, even for SIGINT).
    """

    def __init__(self):
        import _signal

        self.child_pid = 0
        self.caught: list[int] = []
        self.ignored = [s for s in FORWARDED_SIGNALS if _signal.getsignal(s) == _signal.SIG_IGN]
        for signum in FORWARDED_SIGNALS:
            if signum not in self.ignored:
                _signal.signal(signum, self.forward)

    def forward(self, signum: int, _frame=None) -> None:
        if self.child_pid:
            try:
                os.kill(self.child_pid, signum)
            except OSError:
                pass
        else:
            self.caught.append(signum)

    def start(self, child_pid: int) -> None:
        self.child_pid = child_pid
        for signum in self.caught:
            self.forward(signum)


def _request(command: str, argv: list[str], ignored: list[int]) -> bytes:
    umask = os.umask(0o022)
    os.umask(umask)
    fields = [command.encode(), str(umask).encode(), ",".join(map(str, ignored)).encode(), str(len(argv)).encode(),
              *map(os.fsencode, argv)]
    fields += [k + b"=" + v for k, v in os.environb.items() if b"\0" not in k + v]
    body = b"\0".join(fields)
    return len(body).to_bytes(4, "little") + body


def _run_on_server(path: str, command: str, argv: list[str]) -> int | None:
    """The command's status when the server ran it; None when it did not (the caller runs it here)."""
    relay = _Relay()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        cwd_fd = os.open(".", os.O_PATH | os.O_DIRECTORY)
    except OSError:
        sock.close()
        return _interrupted(relay)
    try:
        request = _request(command, argv, relay.ignored)
        fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2, cwd_fd))
        sent = sock.sendmsg([request[:4]], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        sock.sendall(request[sent:])
        os.close(cwd_fd)
    except OSError:
        return _interrupted(relay)  # nothing ran: sendmsg failed (a closed stdio descriptor) or the server went away
    return _await_status(sock, relay)


def _interrupted(relay: _Relay) -> int | None:
    """Before the command started: a caught signal ends the call as that signal would have; else None (run here)."""
    return -relay.caught[0] if relay.caught else None


def _await_status(sock, relay: _Relay) -> int | None:
    """Read the replies: None for "restart" or a server lost before the command started; else its status."""
    reply = _read(sock, 5)
    if len(reply) < 5 or reply[:1] != b"P":
        return _interrupted(relay)
    relay.start(int.from_bytes(reply[1:], "little"))
    reply = _read(sock, 5)
    if len(reply) < 5 or reply[:1] != b"X":
        os.write(2, b"jem: the command server ended before the command did\n")
        return 1
    return int.from_bytes(reply[1:], "little", signed=True)


def _read(sock, n_bytes: int) -> bytes:
    """Up to `n_bytes`: fewer when the server closed or reset the connection."""
    data = b""
    while len(data) < n_bytes:
        try:
            chunk = sock.recv(n_bytes - len(data))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _exit_like(status: int) -> None:
    """Exit with the child's code, or die of the signal that killed it (as the in-process command would have)."""
    if status >= 0:
        os._exit(status)
    import _signal

    _signal.signal(-status, _signal.SIG_DFL)
    os.kill(os.getpid(), -status)
    os._exit(128 - status)
