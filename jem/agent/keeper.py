"""The job keeper: a small root process that is the parent of the batch scripts an
agent starts, outlives that agent, and records how each script ended (as Slurm's
slurmstepd outlives slurmd).

The agent starts one keeper (`python -I -S keeper.py SPOOL AGENT_PID`: the
standard library only, so it starts in milliseconds and imports nothing a user
could plant; the arguments only name it in `ps`). The keeper leaves the agent's
session and process tree at once (it forks and the first process exits), says
hello with a pidfd of itself, then serves start orders from the agent on its
stdin, a Unix socket (`send_message`/`receive_message` frames: JSON plus
descriptors). When the agent goes away (end of file) it takes no more orders,
keeps its jobs until the last has ended, and exits. A restarted agent starts a
keeper of its own; the old one goes on with the old jobs.

For each order the keeper:

1. starts the job's start-up shell (`confined.start_line`) in a session of its
   own, confined before its first instruction: for a job of another user than
   the agent's (the order says whom to `become`), a forked child of the keeper
   (a small process: its fork is cheap) moves itself into the job's cgroups,
   changes user and execs the shell; for a job of the agent's own user, the
   shell is started with posix_spawn (a vfork) and waits on its stdin until
   the keeper has moved it into the cgroups and written "go";
2. writes RUN_FILE into the job's spool directory: what the agent launched
   (the order's `record`), with its own pid and start time and the job's pid;
3. answers the agent: the job's pid, and a pipe (`done`) whose other end the
   keeper holds until the job's status is written;
4. when the job exits (its pidfd turns readable), kills what is left of its
   process group while the zombie still reserves the group id, reaps it with
   wait4, writes STATUS_FILE (wait status, CPU times, peak RSS, end time) and
   closes `done`.

Everything the keeper writes goes into the job's spool directory through the
descriptor the agent opened (never by path): the agent's directory, writable by
no one else, each file written whole under a temporary name and renamed into
place, so a reader finds either nothing or the complete record. Files are not
fsync'ed: they must survive the agent, not the machine (a reboot ends the job
too, and the agent then reports it lost).
"""

import json
import os
import select
import signal
import socket
import struct
import sys
import time

RUN_FILE = "run"                # the order's record, and {"keeper_pid", "keeper_start", "job_pid"}
STATUS_FILE = "status"          # {"wait_status", "user_us", "system_us", "max_rss_kib", "end_time"}
MAX_MESSAGE_BYTES = 64 << 20    # a start order carries the job's environment
MAX_FDS = 4
_HEADER = struct.Struct("!I")
# Signals the keeper ignores (a job's signals are not its own), and every one a job
# starts with at its default: exec keeps an ignored signal ignored.
_IGNORED = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGPIPE, signal.SIGUSR1,
            signal.SIGUSR2)
_DEFAULT_IN_JOBS = (*_IGNORED, signal.SIGXFSZ, signal.SIGCHLD)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


# ---------------------------------------------------------------- framing (agent and keeper)


def send_message(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    """Send one frame: a length, JSON text, and `fds` along with its first byte."""
    data = json.dumps(message).encode()
    frame = _HEADER.pack(len(data)) + data
    sent = socket.send_fds(sock, [frame], list(fds)) if fds else sock.send(frame)
    if sent < len(frame):
        sock.sendall(frame[sent:])


def receive_message(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One frame sent by `send_message`: (message, descriptors, close-on-exec); (None, [])
    at end of file."""
    data, fds, _, _ = socket.recv_fds(sock, 65536, MAX_FDS)
    for fd in fds:
        os.set_inheritable(fd, False)
    if not data:
        _close_all(fds)
        return None, []
    while len(data) < _HEADER.size:
        data += _receive_some(sock, fds)
    (size,) = _HEADER.unpack_from(data)
    if size > MAX_MESSAGE_BYTES:
        _close_all(fds)
        raise ValueError(f"message of {size} bytes")
    while len(data) < _HEADER.size + size:
        data += _receive_some(sock, fds)
    return json.loads(data[_HEADER.size:_HEADER.size + size]), fds


def _receive_some(sock: socket.socket, fds: list[int]) -> bytes:
    more = sock.recv(1 << 20)
    if not more:
        _close_all(fds)
        raise EOFError("the frame was cut short")
    return more


def _close_all(fds) -> None:
    for fd in fds:
        os.close(fd)


# ---------------------------------------------------------------- records


def write_record(dir_fd: int, name: str, record: dict) -> None:
    """Write `record` as `name` in the directory `dir_fd`: whole under a temporary name, then renamed."""
    temporary = f".{name}.tmp"
    try:
        os.unlink(temporary, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    fd = os.open(temporary, _NEW_FILE, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(record))
    os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def process_start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), which tells it apart from a
    later process given the same pid; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields count from its last ")".
    return int(stat[stat.rindex(b")") + 2:].split()[19])


# ---------------------------------------------------------------- the keeper


class _Job:
    """A job the keeper started: its pid, its pidfd, its spool directory and its `done` pipe."""

    def __init__(self, pid: int, pidfd: int, dir_fd: int, done_write: int):
        self.pid, self.pidfd, self.dir_fd, self.done_write = pid, pidfd, dir_fd, done_write


class Keeper:
    """Serves start orders and keeps the jobs it started (see the module docstring)."""

    def __init__(self, sock: socket.socket):
        self._sock: socket.socket | None = sock
        self._jobs: dict[int, _Job] = {}   # pidfd -> job
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)
        self._start_ticks = process_start_ticks(os.getpid())

    def run(self) -> None:
        while self._sock is not None or self._jobs:
            for fd, _ in self._poll.poll():
                if self._sock is not None and fd == self._sock.fileno():
                    self._serve_order()
                elif fd in self._jobs:
                    self._end(self._jobs.pop(fd))

    def _serve_order(self) -> None:
        try:
            order, fds = receive_message(self._sock)
        except (OSError, EOFError, ValueError):
            order, fds = None, []
        if order is None:   # the agent is gone: keep what runs, take nothing more
            self._poll.unregister(self._sock.fileno())
            self._sock.close()
            self._sock = None
            return
        answer, answer_fds = {"error": "cannot start job: a start order needs two descriptors"}, []
        try:
            if len(fds) == 2:
                answer, answer_fds = self._start(order, dir_fd=fds[0], out_fd=fds[1])
        except Exception as exc:   # whatever one order does wrong, the keeper keeps the other jobs
            answer, answer_fds = {"error": f"cannot start job: {exc}"}, []
        finally:
            _close_all(fds[1:] if "error" not in answer else fds)   # the keeper holds the directory of a job it keeps
        try:
            send_message(self._sock, answer, answer_fds)
        except OSError:
            pass   # the agent died meanwhile: the next one finds the job from its records
        _close_all(answer_fds)

    def _start(self, order: dict, *, dir_fd: int, out_fd: int) -> tuple[dict, list[int]]:
        if order.get("become") is not None:
            pid, why = _fork_job(order, out_fd=out_fd)
        else:
            pid, why = _spawn_job(order, out_fd=out_fd)
        if why:
            return {"error": why}, []
        try:
            write_record(dir_fd, RUN_FILE, {**order["record"], "keeper_pid": os.getpid(),
                                            "keeper_start": self._start_ticks, "job_pid": pid})
        except OSError as exc:
            _kill_group(pid)
            os.waitpid(pid, 0)
            return {"error": f"cannot record the job's keeper in the spool: {exc.strerror or exc}"}, []
        pidfd = os.pidfd_open(pid)
        done_read, done_write = os.pipe()
        self._jobs[pidfd] = _Job(pid, pidfd, dir_fd, done_write)
        self._poll.register(pidfd, select.POLLIN)
        return {"job_pid": pid}, [done_read]

    def _end(self, job: _Job) -> None:
        """The job exited: kill its process group (the zombie still holds the group id, so the
        kill reaches only the job's processes), reap it, record how it ended, tell the agent."""
        self._poll.unregister(job.pidfd)
        os.close(job.pidfd)
        _kill_group(job.pid)
        _, status, rusage = os.wait4(job.pid, 0)
        try:
            write_record(job.dir_fd, STATUS_FILE, {
                "wait_status": status, "user_us": int(rusage.ru_utime * 1e6), "system_us": int(rusage.ru_stime * 1e6),
                "max_rss_kib": rusage.ru_maxrss, "end_time": time.time()})
        except OSError:
            pass   # the job's spool directory is gone (its agent shut down and cleaned up): no one to tell
        os.close(job.dir_fd)
        os.close(job.done_write)


def _spawn_job(order: dict, *, out_fd: int) -> tuple[int, str]:
    """Start the order's argv with posix_spawn; with cgroups, move it into them and let it go.
    Returns (pid, "") or (0, why not)."""
    go_read, go_write = os.pipe() if order["cgroup_procs"] else (None, None)
    stdin = (os.POSIX_SPAWN_DUP2, go_read, 0) if go_read is not None else \
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)
    try:
        pid = os.posix_spawn(order["argv"][0], order["argv"], order["env"], setsid=True,
                             setsigdef=_DEFAULT_IN_JOBS, setsigmask=(),
                             file_actions=[stdin, (os.POSIX_SPAWN_DUP2, out_fd, 1), (os.POSIX_SPAWN_DUP2, out_fd, 2)])
    except (OSError, ValueError) as exc:   # ValueError: an argument or variable exec cannot take (a NUL byte)
        _close_all(fd for fd in (go_read, go_write) if fd is not None)
        return 0, f"cannot start job: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
    if go_read is None:
        return pid, ""
    os.close(go_read)
    try:
        for path in order["cgroup_procs"]:
            with open(path, "w") as f:
                f.write(str(pid))
        os.write(go_write, b"go\n")
    except OSError as exc:
        _kill_group(pid)   # closing the pipe unanswered would stop it too; be sure
        os.waitpid(pid, 0)
        return 0, f"cannot move the job into its cgroup: {exc.strerror or exc}"
    finally:
        os.close(go_write)
    return pid, ""


def _fork_job(order: dict, *, out_fd: int) -> tuple[int, str]:
    """Without setpriv: fork a child that confines itself, changes user and execs; it says
    why not on a close-on-exec pipe. Returns (pid, "") or (0, why not)."""
    error_read, error_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _become_job(order, out_fd=out_fd, error_write=error_write)
    os.close(error_write)
    chunks = []
    while chunk := os.read(error_read, 4096):
        chunks.append(chunk)
    os.close(error_read)
    if chunks:
        os.waitpid(pid, 0)
        return 0, b"".join(chunks).decode(errors="replace")
    return pid, ""


def _become_job(order: dict, *, out_fd: int, error_write: int) -> None:
    """In the forked child: confine, become the user, exec. Never returns; on failure
    writes why to `error_write` and exits 127."""
    step = "start job"
    try:
        os.setsid()
        for signum in _DEFAULT_IN_JOBS:
            signal.signal(signum, signal.SIG_DFL)
        step = "move the job into its cgroup"
        for path in order["cgroup_procs"]:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        step = "change to the job's user"
        become = order["become"]
        os.setgroups(become["groups"])
        os.setgid(become["gid"])
        os.setuid(become["uid"])
        step = "start job"
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, error_write)
        os.closerange(error_write + 1, os.sysconf("SC_OPEN_MAX"))
        os.execve(order["argv"][0], order["argv"], order["env"])
    except BaseException as exc:   # whatever it is, the keeper hears it and the child exits
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            os.write(error_write, f"cannot {step}: {detail}".encode())
        finally:
            os._exit(127)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def main() -> None:
    """Leave the agent's session and process tree, say hello, keep jobs (stdin: the agent's socket)."""
    sock = socket.socket(fileno=0)
    if os.fork() != 0:
        os._exit(0)   # the agent reaps this one at once; the keeper is init's child from now on
    os.setsid()
    os.chdir("/")
    for signum in _IGNORED:
        signal.signal(signum, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)   # stdout and stderr: not the agent's, which may be a pipe someone reads
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    pidfd = os.pidfd_open(os.getpid())
    send_message(sock, {"keeper_pid": os.getpid()}, [pidfd])
    os.close(pidfd)
    Keeper(sock).run()


if __name__ == "__main__":
    main()
    sys.exit(0)
