"""The command launcher: the stub each `jem slurm-path` wrapper (and `jem`) runs to hand a call to the resident server.

The wrappers run this module under `python -I -S` (no site, no user paths),
and it imports only `os`, `sys` and `_socket` (`fcntl` and `time` when there is
no server yet), so it starts in about 10 ms instead of the ~120 ms that
importing grpc, the stubs and jem.client costs. It connects to the user's
command server (`forkserver.py`) on a Unix socket in the runtime directory and
sends the command name, argv, the environment, the umask and four descriptors
(stdin, stdout, stderr and the working directory, with SCM_RIGHTS); the
server forks a child that takes them and runs the command's `main()`. The stub
forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to that child and
exits with its status.

When there is no server (first call, idle exit, a dead server's socket) the
caller takes the key: the flock of DIR/KEY.lock, and a new socket, bound and
listening, under the server's name. It runs its own command in-process and
hands both to the server it starts (`inprocess.spawn_server`); every call from
then on connects at once and waits in the socket's backlog until the server
has imported what it needs. So a burst of calls starts one server and runs one
command in-process, not one per call. A caller that finds the lock held and no
socket (its holder is between the two, or leaving) tries again shortly; a call
the server dropped before starting it (it answered "restart" because the
installed code changed, or it stopped with calls queued) is sent again; only
after ~1 s of such tries does it run in-process. JEM_NO_SERVER=1, or a runtime
directory that fails the ownership check, runs every call in-process with no
server.

Wire format, all integers 4-byte little-endian:
  request  = len(body) + body, sent with the four descriptors;
             body = NUL-joined command, umask, ignored signals ("2,15"),
             n_args, args..., env "K=V"...
  replies  = b"P" + child pid (the command runs), then b"X" + status
             (exit code >= 0, or -signal: from the child as its command
             ends, or from the server when it reaps a child that did not
             say, one killed by a signal; a second X is never read); or
             b"R" alone (restart: try again).
"""

import os
import sys

import _socket

PROTOCOL = 1  # part of each server's key: a stub never talks to a server of another wire format
FORWARDED_SIGNALS = (1, 2, 3, 10, 12, 15)  # SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGTERM (Linux numbers)
# Calls that may wait for the server at once, in its socket's backlog (the kernel caps it at
# net.core.somaxconn); a caller past it waits in connect() until there is room, never fails.
BACKLOG = 4096
# Pauses before each new try to reach the server (~0.9 s in all): for a key whose lock is held with no socket
# (its starter is between the two, or its server is leaving) and for a call dropped before it started.
RETRY_PAUSES_S = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def server_key(python: str) -> str:
    """Names one installation's server: the interpreter, where jem_slurm lives and the wire protocol.

    Two virtual environments (or two checkouts) of one user so never share a
    server, a stub never talks to a server of another protocol, and `jem` and
    the Slurm-named commands of one installation share one. The interpreter
    counts by its directory and the file it resolves to, so a venv's `python`
    and `python3` are one. (A name, not a secret: CRC-32 is enough to tell a
    user's few installations apart, and costs no hashlib import.)
    """
    import binascii

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    interpreter = f"{os.path.realpath(os.path.dirname(python))}\0{os.path.realpath(python)}"
    text = f"{interpreter}\0{package_parent}\0{PROTOCOL}"
    return f"cmd-{binascii.crc32(text.encode(errors='surrogateescape')):08x}"


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


INSTALLED_KEYS = "installed-keys"   # in the runtime directory; read by launch.c as well


def record_installed_key(directory: str, script: str, key: str) -> None:
    """Note `key` for the installed `jem` whose Python script is `script`: a line "KEY<TAB>SCRIPT" of
    DIR/installed-keys, where the compiled `jem` beside the script (launch.c) finds the server's socket.
    The key names the package's directory, which only Python knows, so the first call of an
    installation (or of a changed one) runs the script, which writes the line; later calls never start
    Python. Rewritten whole (a temporary file, renamed), and only when the line is not there already."""
    if "\n" in script or "\t" in script:
        return
    path = os.path.join(directory, INSTALLED_KEYS)
    line = f"{key}\t{script}"
    try:
        with open(path, errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    if line in lines:
        return
    kept = [other for other in lines if other.partition("\t")[2] != script][-63:]   # a few installations
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "w", errors="surrogateescape") as f:
            f.write("".join(f"{other}\n" for other in (*kept, line)))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


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


def entry_point(command: str) -> tuple[str, str]:
    """(module, function) that runs `command` in a process of its own or a server's child: the `jem`
    command's in-process run (its `main` would hand the call to a server again), else the Slurm-named
    command's `main`."""
    return ("jem.cli.main", "run") if command == "jem" else (f"jem_slurm.{command}", "main")


def launch(command: str, key: str) -> None:
    """Run `jem_slurm.<command>` with this process's argv: on the server when there is one, else in-process."""
    argv = sys.argv[1:]
    if needs_the_terminal(command, argv):
        exec_in_process(command, argv, None)
    outcome = run_on_server(command, argv, key)
    if outcome is None or isinstance(outcome, NewServer):
        exec_in_process(command, argv, outcome)
    exit_like(outcome)


def needs_the_terminal(command: str, argv: list[str]) -> bool:
    """Whether the call runs an interactive program on this terminal (salloc's shell, srun --pty):
    then it runs here, in the terminal's session and foreground process group, where a shell
    has job control (a child of the server has no controlling terminal: bash there says "no job
    control in this shell", and ^Z and ^C reach the stub, not the shell)."""
    if not os.isatty(0):
        return False
    if command == "salloc":
        return "--no-shell" not in argv
    return command == "srun" and any(arg == "--pty" or arg.startswith("--pty=") for arg in argv)


class NewServer:
    """A key this caller took because no server held it: the flock of DIR/KEY.lock (held for the server's
    life) and the server's socket, bound and listening, so that calls queue there from now on. The caller
    starts the server on them (`inprocess.spawn_server`), then closes its own copies."""

    def __init__(self, directory: str, key: str, lock_fd: int, listen_fd: int):
        self.directory, self.key, self.lock_fd, self.listen_fd = directory, key, lock_fd, listen_fd

    def fields(self) -> tuple[str, str, int, int]:
        return self.directory, self.key, self.lock_fd, self.listen_fd

    def close(self) -> None:
        for fd in (self.lock_fd, self.listen_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def run_on_server(command: str, argv: list[str], key: str) -> "int | NewServer | None":
    """Hand the call to this user's server for `key` (see the module's docstring).

    Returns the command's status when the server ran it (exit code, or
    -signal); a NewServer when no server held the key and this caller took
    it (it runs the command itself and starts the server); None when the
    command is to run here with no server (JEM_NO_SERVER, no private runtime
    directory, no server reached within the tries).
    """
    if os.environ.get("JEM_NO_SERVER", "") not in ("", "0"):
        return None
    directory = runtime_dir()
    if directory is None:
        return None
    relay = _Relay()
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)   # a closed one cannot be sent: run here
        cwd_fd = os.open(".", os.O_PATH | os.O_DIRECTORY)
    except OSError:
        relay.stop()
        return _interrupted(relay)
    try:
        request = _request(command, argv, relay.ignored)
        path = socket_path(directory, key)
        for pause_s in RETRY_PAUSES_S:
            if pause_s:
                import time

                time.sleep(pause_s)
            sock = _connected(path)
            if sock is None:
                new = _take_key(directory, key)
                if new is not None:
                    return _interrupted(relay) or new
            else:
                status = _call(sock, request, cwd_fd, relay)
                if status is not None:
                    return status
            if relay.caught:
                return -relay.caught[0]
        return None
    finally:
        os.close(cwd_fd)
        relay.stop()


def _connected(path: str):
    """A connection to the server's socket (waiting while its backlog is full), or None."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _take_key(directory: str, key: str) -> NewServer | None:
    """The key's lock and a new listening socket when no server holds the key; None when one does
    (it is starting or leaving) or the socket cannot be made."""
    import fcntl

    try:
        lock_fd = os.open(os.path.join(directory, f"{key}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(lock_fd, 0)   # a dead server's pid is no longer true (`server_pid`: -1 until the new one's)
        return NewServer(directory, key, lock_fd, _listen(socket_path(directory, key)))
    except OSError:   # BlockingIOError: another holds it
        os.close(lock_fd)
        return None


def _listen(path: str) -> int:
    """Bind and listen on `path` (0600), replacing a dead server's socket there: under a private name first,
    then renamed into place, so the socket appears ready to connect. Returns the descriptor."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    private = f"{path}.{os.getpid()}"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            os.unlink(private)
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o177)
        try:
            sock.bind(private)
        finally:
            os.umask(old_umask)
        sock.listen(BACKLOG)
        os.rename(private, path)
    except OSError:
        sock.close()
        raise
    return sock.detach()


def exec_in_process(command: str, argv: list[str], new: NewServer | None) -> None:
    """Replace this stub with a normal interpreter (site and all) running the command, and first starting the
    server on `new` (`inprocess.run`)."""
    if new is not None:
        os.set_inheritable(new.lock_fd, True)
        os.set_inheritable(new.listen_fd, True)
    server = None if new is None else new.fields()
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
        self.previous = {s: _signal.getsignal(s) for s in FORWARDED_SIGNALS}
        self.ignored = [s for s, handler in self.previous.items() if handler == _signal.SIG_IGN]
        for signum in FORWARDED_SIGNALS:
            if signum not in self.ignored:
                _signal.signal(signum, self.forward)

    def stop(self) -> None:
        """Put back the handlers there were (`jem` goes on in-process when no server ran its command)."""
        import _signal

        for signum, handler in self.previous.items():
            if handler is not None:   # (None: set from C, not Python; left as we found it)
                _signal.signal(signum, handler)

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


def _call(sock, request: bytes, cwd_fd: int, relay: _Relay) -> int | None:
    """Send the request and our descriptors on `sock` and read the replies: the command's status, or None when
    the server did not start it (it answered "restart", or closed first: it was stopping)."""
    try:
        try:
            fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2, cwd_fd))
            sent = sock.sendmsg([request[:4]], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
            sock.sendall(request[sent:])
        except OSError:
            return None  # nothing ran: the server went away
        reply = _read(sock, 5)
        if len(reply) < 5 or reply[:1] != b"P":
            return None
        relay.start(int.from_bytes(reply[1:], "little"))
        reply = _read(sock, 5)
    finally:
        sock.close()
    if len(reply) < 5 or reply[:1] != b"X":
        os.write(2, b"jem: the command server ended before the command did\n")
        return 1
    return int.from_bytes(reply[1:], "little", signed=True)


def _interrupted(relay: _Relay) -> int | None:
    """Before the command started: a caught signal ends the call as that signal would have; else None."""
    return -relay.caught[0] if relay.caught else None


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


def exit_like(status: int) -> None:
    """Exit with the child's code, or die of the signal that killed it (as the in-process command would have)."""
    if status >= 0:
        os._exit(status)
    import _signal

    _signal.signal(-status, _signal.SIG_DFL)
    os.kill(os.getpid(), -status)
    os._exit(128 - status)
