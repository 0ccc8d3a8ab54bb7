"""The command server: a per-user resident process that has imported the commands and forks one child per call.

`python -m jem_slurm.forkserver DIR KEY LOCK_FD LISTEN_FD` is started by the
caller that took the key (`launcher.NewServer`): it inherits the flock of
DIR/KEY.lock (and writes its pid into it) and the socket DIR/KEY.sock, already
listening (0600 in a 0700 directory; every peer's uid is checked with
SO_PEERCRED), on which calls have queued while it imported. It imports grpc,
the generated stubs, jem.client, every command module and the `jem` command's
parsers once; each call then costs a fork. The server itself never creates a
gRPC channel and stays single-threaded, so a forked child starts with a clean
gRPC (which each child initialises for itself; GRPC_ENABLE_FORK_SUPPORT=false,
as in the `jem` entry point, keeps gRPC's fork handlers out of it). Beside it
runs its call relay (`jem.relay`, DIR/KEY.relay.sock), a process of its own
that keeps the controller's channel warm: the children's unary calls go
through it and so skip gRPC's start-up, the connect and the TLS handshake.

Per call: the parent accepts, checks the peer, checks that the code it loaded
is still what is installed (stat of every non-stdlib module file and package
directory; a change answers "restart", the server goes away and the caller
tries again, on the next server), and forks. The child takes the caller's
descriptors, working directory, umask, argv and environment (see `child.py`),
reports its pid and runs the command; the parent reaps it and sends its
status. The server exits after $JEM_SERVER_IDLE_S (default 600) seconds
without a call, and on SIGTERM (`jem slurm-path --stop-server`); either way it
first stops listening and lets running commands finish (calls still queued
then are sent again by their callers, to the next server).
"""

import os

os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"  # read when grpc is imported, below

import gc  # noqa: E402
import importlib  # noqa: E402
import pkgutil  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402

import jem_slurm  # noqa: E402
from jem import relay  # noqa: E402
from jem_slurm import child, launcher  # noqa: E402

DEFAULT_IDLE_S = 600.0
SKIPPED_MODULES = {"forkserver", "launcher", "inprocess", "__main__"}


def preload() -> None:
    """Import what a command needs, so a child pays for none of it."""
    import grp  # noqa: F401  (scontrol's group names)

    import jem.client  # noqa: F401  (grpc, the stubs, convert, model)
    from jem.cli.main import preload as preload_jem

    # grpc imports these on the first channel: without them each child pays ~6 ms.
    for name in ("grpc._channel", "grpc._simple_stubs", "grpc.experimental"):
        importlib.import_module(name)

    for module in pkgutil.iter_modules(jem_slurm.__path__):
        if module.name not in SKIPPED_MODULES:
            importlib.import_module(f"jem_slurm.{module.name}")
    preload_jem()


def code_paths() -> tuple[str, ...]:
    """Every loaded module file and package directory outside the stdlib, sorted.

    The server takes them once, after preload: it imports nothing later, so
    each call only stats them again (`code_stamp`).
    """
    stdlib = sysconfig.get_paths()["stdlib"]
    paths = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and not path.startswith(stdlib):
            paths.add(path)
            paths.update(p for p in getattr(module, "__path__", ()) if isinstance(p, str))
    return tuple(sorted(paths))


def code_stamp(paths: tuple[str, ...]) -> tuple:
    """(path, mtime_ns, size) of each of `paths` (from `code_paths`).

    A package directory's mtime changes when a module is added or removed;
    a file's when it is rewritten (editable installs, pip upgrades).
    """
    stamp = []
    for path in paths:
        try:
            st = os.stat(path)
            stamp.append((path, st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((path, None, None))
    return tuple(stamp)


class CommandServer:
    """The listening socket, the lock that makes this server the only one for its key, and the running children."""

    def __init__(self, directory: str, key: str, *, lock_fd: int, listener: socket.socket, idle_s: float):
        self.socket_path = launcher.socket_path(directory, key)
        self.relay_path = os.path.join(directory, f"{key}.relay.sock")
        self.relay_pid = 0
        self.idle_s = idle_s
        self.children: dict[int, socket.socket] = {}  # pid -> the caller's connection, for its status
        self.listener: socket.socket | None = listener
        self.lock_fd = lock_fd
        self.code_paths: tuple[str, ...] = ()
        self.stamp: tuple = ()
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        for fd in (lock_fd, listener.fileno()):
            os.set_inheritable(fd, False)   # the relay (and whatever a child execs) must not hold the key

    def claim(self) -> None:
        """Write our pid into the lock file (`launcher.server_pid`; `jem slurm-path --stop-server`)."""
        os.ftruncate(self.lock_fd, 0)
        os.pwrite(self.lock_fd, f"{os.getpid()}\n".encode(), 0)

    def start(self) -> None:
        """Take the stamp of the code loaded (after preload) and set the signal handlers: ready to serve."""
        self.code_paths = code_paths()
        self.stamp = code_stamp(self.code_paths)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.stop_listening())
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def start_relay(self) -> None:
        """Start the call relay (`jem.relay`) beside us: it keeps the controller's channels warm for our
        children, and goes when we do. A child that finds it not up yet calls the controller directly."""
        self.relay_pid = os.posix_spawn(
            sys.executable, [sys.executable, "-P", "-m", "jem.relay", self.relay_path, str(os.getpid())],
            os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])

    def stop_relay(self) -> None:
        if self.relay_pid:
            try:
                os.kill(self.relay_pid, signal.SIGTERM)
                os.waitpid(self.relay_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass   # already gone (and reaped with the children)
            self.relay_pid = 0

    def stop_listening(self) -> None:
        """Take the socket away and hand the key on (release the lock); running children still get their status."""
        if self.listener is None:
            return
        self.listener.close()
        self.listener = None
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        os.close(self.lock_fd)
        self.lock_fd = -1

    def serve(self) -> None:
        """Accept and fork until stopped or idle, then until the last child has been reaped."""
        last_call = time.monotonic()
        while self.listener is not None or self.children:
            poller = select.poll()
            poller.register(self.wakeup_r, select.POLLIN)
            if self.listener is not None:
                poller.register(self.listener.fileno(), select.POLLIN)
            timeout_s = None if self.children else max(0.0, last_call + self.idle_s - time.monotonic())
            events = poller.poll(None if timeout_s is None else timeout_s * 1000)
            self.reap()
            if self.listener is not None and any(fd == self.listener.fileno() for fd, _ in events):
                self.accept()
                last_call = time.monotonic()
            elif not events and not self.children:
                self.stop_listening()

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        _, peer_uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        if peer_uid != os.getuid():
            print(f"refused a connection from uid {peer_uid}", file=sys.stderr, flush=True)
            conn.close()
            return
        if code_stamp(self.code_paths) != self.stamp:
            print("installed code changed: restarting", file=sys.stderr, flush=True)
            conn.sendall(b"R")
            conn.close()
            self.stop_listening()
            return
        pid = os.fork()
        if pid == 0:
            self.become_child(conn)
        self.children[pid] = conn

    def become_child(self, conn: socket.socket) -> None:
        """In the forked child: drop the server's descriptors and signal handlers, then run the call (never returns)."""
        # Signals the caller forwards wait (blocked) until the command starts: see child.run_call.
        signal.pthread_sigmask(signal.SIG_BLOCK, launcher.FORWARDED_SIGNALS)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.listener.close()
        for fd in (self.wakeup_r, self.wakeup_w, self.lock_fd):
            os.close(fd)
        relay.use_in_this_process(self.relay_path)
        child.run_call(conn)

    def reap(self) -> None:
        """Collect ended children and send each caller its status (exit code, or -signal)."""
        while True:
            try:
                os.read(self.wakeup_r, 512)
            except BlockingIOError:
                break
        while self.children:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if pid == self.relay_pid:
                self.relay_pid = 0   # it died on its own: children call the controller directly
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            try:
                conn.sendall(b"X" + os.waitstatus_to_exitcode(wait_status).to_bytes(4, "little", signed=True))
            except OSError:
                pass  # the caller is gone
            conn.close()


def main(argv: list[str] | None = None) -> int:
    directory, key, lock_fd, listen_fd = (sys.argv[1:] if argv is None else argv)[:4]
    server = CommandServer(directory, key, lock_fd=int(lock_fd), listener=socket.socket(fileno=int(listen_fd)),
                           idle_s=float(os.environ.get("JEM_SERVER_IDLE_S", DEFAULT_IDLE_S)))
    server.claim()
    preload()
    server.start()
    server.start_relay()
    gc.freeze()  # children then share the preloaded objects' pages instead of copying them on the first collection
    try:
        server.serve()
    finally:
        server.stop_relay()
    return 0


if __name__ == "__main__":
    sys.exit(main())
