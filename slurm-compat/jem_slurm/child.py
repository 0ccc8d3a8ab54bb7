"""One call in a forked child of the command server: become the caller's process, run the command, exit.

The child takes the caller's stdin, stdout and stderr (as fds 0-2), its
working directory (fchdir to the descriptor, so a path that moved or that the
user may not list still works), umask, environment and argv, and rebuilds
sys.stdin/stdout/stderr on the new descriptors the way Python's start-up
would (line-buffered stdout on a terminal), so tty checks, stdin scripts and
long-running commands behave as they do in-process.
"""

import importlib
import io
import os
import signal
import socket
import sys
import time
import traceback

from jem_slurm.launcher import FORWARDED_SIGNALS, entry_point

MAX_REQUEST_BYTES = 64 << 20
N_FDS = 4  # stdin, stdout, stderr, working directory


def run_call(conn: socket.socket) -> None:
    """Read the request on `conn`, report our pid, run the command and exit with its status (never returns)."""
    code = 1
    try:   # the child must reach os._exit: nothing may unwind into the server's loop
        try:
            command, argv = _take_request(conn)
            _take_caller_limits(conn)
            conn.sendall(b"P" + os.getpid().to_bytes(4, "little"))
            code = _run_command(_entry_point(command), command, argv)
        except BaseException as exc:
            print(f"jem: command server: {exc!r}", file=sys.__stderr__, flush=True)
        _answer(conn, code)
    finally:
        os._exit(code)


def _answer(conn: socket.socket, code: int) -> None:
    """Give the caller its status now, rather than after this process is torn down and the
    server has reaped it (milliseconds for a fork of the large server). The caller's stdin,
    stdout and stderr are let go first (replaced by /dev/null, so that no descriptor opened
    meanwhile lands on 0-2), and the signals the caller forwards are blocked: nothing may
    unwind into the server's loop. The server still sends the status it reaps, which a
    caller that has this one never reads."""
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass
    try:
        conn.sendall(b"X" + code.to_bytes(4, "little", signed=True))
    except OSError:
        pass  # the caller is gone
    conn.close()


def _take_request(conn: socket.socket) -> tuple[str, list[str]]:
    header, ancillary, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(N_FDS * 4))
    fds = [int.from_bytes(data[i:i + 4], sys.byteorder, signed=True)
           for level, kind, data in ancillary if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
           for i in range(0, len(data) - len(data) % 4, 4)]
    if len(header) != 4 or len(fds) != N_FDS:
        raise ConnectionError("malformed request")
    size = int.from_bytes(header, "little")
    if size > MAX_REQUEST_BYTES:
        raise ConnectionError("request too large")
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(min(size - len(body), 1 << 20))
        if not chunk:
            raise ConnectionError("caller went away")
        body += chunk
    fields = bytes(body).split(b"\0")
    command, umask, n_args = fields[0].decode(), int(fields[1]), int(fields[3])
    for signum in filter(None, fields[2].split(b",")):
        signal.signal(int(signum), signal.SIG_IGN)  # the caller ignores it: so does the command
    argv = [os.fsdecode(a) for a in fields[4:4 + n_args]]
    _become_caller(fds, umask, fields[4 + n_args:])
    return command, argv


def _become_caller(fds: list[int], umask: int, environment: list[bytes]) -> None:
    stdin_fd, stdout_fd, stderr_fd, cwd_fd = fds
    for fd, target in ((stdin_fd, 0), (stdout_fd, 1), (stderr_fd, 2)):
        os.dup2(fd, target)
    os.fchdir(cwd_fd)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.umask(umask)
    os.environ.clear()
    for entry in environment:
        name, _, value = entry.partition(b"=")
        if name:
            os.environb[name] = value
    time.tzset()
    _reopen_stdio()


def _reopen_stdio() -> None:
    """sys.stdin/stdout/stderr on fds 0-2 with start-up's buffering rules (the server's were on /dev/null)."""
    encoding = os.environ.get("PYTHONIOENCODING", "").partition(":")[0] or sys.__stdout__.encoding

    def stream(fd: int, mode: str, errors: str, *, line_buffering: bool):
        raw = io.open(fd, mode + "b", buffering=-1, closefd=False)
        return io.TextIOWrapper(raw, encoding=encoding, errors=errors, line_buffering=line_buffering,
                                write_through=fd == 2)

    sys.stdin = sys.__stdin__ = stream(0, "r", "strict", line_buffering=False)
    sys.stdout = sys.__stdout__ = stream(1, "w", "strict", line_buffering=os.isatty(1))
    sys.stderr = sys.__stderr__ = stream(2, "w", "backslashreplace", line_buffering=True)


def _entry_point(command: str):
    """The function that runs `command` (`launcher.entry_point`): of a module the server preloaded, nothing else."""
    module, function = entry_point(command)
    if module not in sys.modules:
        raise LookupError(f"no such command: {command!r}")
    return getattr(importlib.import_module(module), function)


def _run_command(function, command: str, argv: list[str]) -> int:
    sys.argv = [command, *argv]
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED_SIGNALS)  # a signal caught early lands here
        code = function()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # as the interpreter does: die of SIGINT
        sys.stdout.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    except BaseException:  # as the interpreter would: the traceback on stderr, status 1
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stderr.flush()
    return code & 0xFF


# The resource limits a call takes on from its caller (srun and sbatch propagate the soft ones to the job).
_CALLER_LIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_MEMLOCK",
                  "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_STACK")


def _take_caller_limits(conn: socket.socket) -> None:
    """Take on the resource limits of the caller (the stub on `conn`, blocked until we answer), as
    its umask: a hard limit only ever lowered (to the caller's), a soft one at most the hard one."""
    import resource
    import struct

    pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    for name in _CALLER_LIMITS:
        which = getattr(resource, name)
        try:
            soft, hard = resource.prlimit(pid, which)
            own_soft, own_hard = resource.getrlimit(which)
            hard = own_hard if hard == resource.RLIM_INFINITY or (
                own_hard != resource.RLIM_INFINITY and hard > own_hard) else hard
            soft = hard if soft == resource.RLIM_INFINITY or (
                hard != resource.RLIM_INFINITY and soft > hard) else soft
            if (soft, hard) != (own_soft, own_hard):
                resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError):
            pass   # (the caller gone, or a limit this kernel does not have: the server's stays)
