"""A private munged: its own fresh key and socket in one directory (tests, `jem up --auth munge`).

`start_munged(directory)` writes a new random key (mode 0400) to `directory/munge.key`,
runs munged in the foreground on `directory/munge.socket`, and returns once a
credential round-trips through it. `MungedProcess.stop()` terminates it and removes
what it wrote (the directory too, if `start_munged` created it).

munged runs as the calling user (root or not; it needs no --force for this). It refuses
a socket directory that is not searchable by everyone (so not a 0700 `mkdtemp`) or that
others may write to without the sticky bit; its reasons are in `directory/munged.log`,
quoted in the `MungedStartError`. A directory `start_munged` creates is made 0755.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from jem.security import munge

KEY_BYTES = 128   # what `mungekey --create` writes by default (1024 bits)
SOCKET_NAME = "munge.socket"
_FILES = ("munge.key", SOCKET_NAME, SOCKET_NAME + ".lock", "munged.pid", "munged.seed", "munged.log")
_SUN_PATH_MAX = 107   # sizeof(sockaddr_un.sun_path) - 1 on Linux


class MungedStartError(RuntimeError):
    """munged could not be started, or never answered."""


def find_munged() -> "str | None":
    """The munged binary: on PATH, or in the sbin directories a non-root PATH lacks."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    return shutil.which("munged", path=path)


@dataclass
class MungedProcess:
    """A running private munged; `socket_path` is what `munge.encode`/`decode` take."""

    directory: str
    socket_path: str
    key_path: str
    log_path: str
    process: subprocess.Popen
    _created_dir: bool = field(default=False, repr=False)
    _log: "object | None" = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate munged (SIGTERM, then SIGKILL) and remove its files. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        remove_munged_files(self.directory)
        if self._created_dir:
            try:
                os.rmdir(self.directory)
            except OSError:
                pass

    def __enter__(self) -> "MungedProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def remove_munged_files(directory: str) -> None:
    """Remove the files `start_munged` wrote in `directory` (key, socket, pid, seed, log).
    For a munged no longer running: `MungedProcess.stop`, and `jem down` after stopping it."""
    for name in _FILES:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass


def _write_key(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    try:
        os.fchmod(fd, 0o400)   # whatever the umask
        data = os.urandom(KEY_BYTES)
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def start_munged(directory: str, *, timeout_s: float = 10.0, munged: "str | None" = None) -> MungedProcess:
    """Start a munged with a new key on `directory/munge.socket`; return once it round-trips a credential."""
    binary = munged or find_munged()
    if not binary:
        raise MungedStartError("munged is not installed (Debian/Ubuntu: apt-get install munge)")
    directory = os.path.abspath(directory)
    socket_path = os.path.join(directory, SOCKET_NAME)
    if len(os.fsencode(socket_path)) > _SUN_PATH_MAX:
        raise ValueError(f"socket path too long for a unix socket: {socket_path}")
    created = not os.path.isdir(directory)
    if created:
        os.makedirs(directory, mode=0o755)
        os.chmod(directory, 0o755)   # whatever the umask: munged wants it searchable by all
    key_path = os.path.join(directory, "munge.key")
    log_path = os.path.join(directory, "munged.log")
    try:
        _write_key(key_path)
    except FileExistsError:
        raise MungedStartError(f"{key_path} already exists: start_munged makes a new key, "
                               "give it a directory of its own") from None
    argv = [binary, "--foreground", f"--socket={socket_path}", f"--key-file={key_path}",
            f"--pid-file={os.path.join(directory, 'munged.pid')}", f"--log-file={log_path}",
            f"--seed-file={os.path.join(directory, 'munged.seed')}"]
    log = open(log_path, "ab")
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   close_fds=True, start_new_session=True)
    except OSError as e:
        log.close()
        os.unlink(key_path)
        os.unlink(log_path)
        raise MungedStartError(f"cannot run {binary}: {e}") from None
    daemon = MungedProcess(directory=directory, socket_path=socket_path, key_path=key_path, log_path=log_path,
                           process=process, _created_dir=created, _log=log)
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        if process.poll() is not None:
            text = daemon.log_text().strip()
            daemon.stop()
            raise MungedStartError(f"munged exited with status {process.returncode}: {text}")
        try:
            probe = b"jem-munged-probe"
            cred = munge.decode(munge.encode(probe, socket_path=socket_path), socket_path=socket_path)
            if cred.payload == probe:
                return daemon
        except munge.MungeError as e:
            if e.munge_code != munge.MungeCode.SOCKET:
                daemon.stop()
                raise
        if time.monotonic() > deadline:
            text = daemon.log_text().strip()
            daemon.stop()
            raise MungedStartError(f"munged did not answer on {socket_path} within {timeout_s}s: {text}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
