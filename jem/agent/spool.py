"""The agent's spool: where a job's script waits to be run, and what root reads back.

Root makes and reads files here for users, so no part of it may be a place a
user can write, and root never follows a symbolic link in it:

- At start the whole path is checked from / down. Each component must be a
  real directory owned by root (or the agent's user) that nobody else can
  write. The one exception is a sticky directory such as /tmp, and only above
  the spool: in a sticky directory only an entry's owner can rename or remove
  it, and the entry below is checked to be ours. Missing directories are made
  0755.
- `<spool>/job<N>/` (the agent's, 0711) holds the job's `script`, owned by the
  job's user (0700). The user can run it by path, but cannot list that
  directory or put anything in it.
- `job<N>/` also holds the records of the job's run there, each root's (0600)
  and written whole under a temporary name, then renamed: `run` and `status`
  (written by the job's keeper, `keeper.py`: what was launched and who keeps
  it; how it ended) and `cause` (why the agent killed it). A restarted agent
  finds its predecessor's jobs from them (`recovery.py`).
- `<spool>/private/` and `<spool>/reports/` (the agent's, 0700) hold what root
  reads back. One is the start-up shell's complaints
  (`private/job<N>.start-errors`): root creates that file and passes its
  descriptor to the shell as stdout/stderr, so the user never names the file
  root later reads. The other is the Reporter's kept reports.

Every entry is made relative to a directory descriptor, with O_NOFOLLOW and
O_EXCL, and owned with fchown. Nothing is chowned or chmodded by path.
"""

import errno
import json
import logging
import os
import shutil
import stat

from jem.agent.keeper import write_record

log = logging.getLogger(__name__)

DEFAULT_SPOOL_ROOT = "/var/spool/jem"
SPOOL_MODE = 0o755        # made missing: users traverse it to reach their script
JOB_DIR_MODE = 0o711      # traversable, not listable, writable only by the agent
SCRIPT_MODE = 0o700       # the user's own: readable and executable by them alone
PRIVATE_MODE = 0o700      # root reads back from here: nobody else may even look
PRIVATE = "private"
REPORTS = "reports"
START_ERRORS_MAX = 4096   # only the first line is reported

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH

# The stale-job cleanup relies on rmtree's descriptor walk, which never follows a link.
assert shutil.rmtree.avoids_symlink_attacks, "this platform's rmtree follows symlinks"


class SpoolError(OSError):
    """The spool cannot be used (for example, it cannot be created)."""


class UnsafeSpool(SpoolError):
    """Someone other than the agent could change the spool. The message names the path and the reason."""


def node_spool_path(node_name: str, root: str = DEFAULT_SPOOL_ROOT) -> str:
    """The default spool of node `node_name`."""
    return os.path.join(root, node_name)


def checked_spool_dir(path: str) -> str:
    """Check (and make) the spool at `path` as Spool does, and return its absolute
    path. This is for callers that use files in it by path before the RunningJobs
    holds it open: the Reporter's `reports/` and the launch replay log."""
    spool = Spool(path)
    spool.close()
    return spool.path


class Spool:
    """An open, checked spool directory (see the module docstring). Its descriptors
    stay open for the agent's lifetime: job threads use them until the end."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._fd = _open_checked_path(self.path)
        try:
            self._private_fd = _open_private(self._fd, PRIVATE, self.path)
            os.close(_open_private(self._fd, REPORTS, self.path))
        except BaseException:
            os.close(self._fd)
            raise

    def close(self) -> None:
        os.close(self._private_fd)
        os.close(self._fd)

    def job_dir(self, job_id: int) -> str:
        return os.path.join(self.path, _job_dir_name(job_id))

    def write_script(self, job_id: int, text: str, *, owner: tuple[int, int] | None) -> str:
        """Write the job's script to a new `job<N>/script` and return its path.
        If `owner` (uid, gid) is given, the script is chowned to it. A stale
        `job<N>` entry is removed first, without following it."""
        name = _job_dir_name(job_id)
        dir_fd = self._make_job_dir(name)
        try:
            fd = os.open("script", _NEW_FILE, SCRIPT_MODE, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as f:
                if owner is not None:
                    os.fchown(f.fileno(), *owner)
                os.fchmod(f.fileno(), SCRIPT_MODE)   # exactly, whatever the umask
                f.write(text.encode("utf-8", "surrogateescape"))
        finally:
            os.close(dir_fd)
        return os.path.join(self.path, name, "script")

    def open_start_errors(self, job_id: int) -> int:
        """A new, empty file for the start-up shell's complaints. It lives in the
        root-only `private/`. The caller passes the descriptor on and closes it."""
        name = _start_errors_name(job_id)
        _unlink_quietly(name, self._private_fd)
        return os.open(name, _NEW_FILE, 0o600, dir_fd=self._private_fd)

    def start_errors_file(self, job_id: int) -> tuple[int, int] | None:
        """(device, inode) of the job's start-up log, or None: the one file of the spool a job's
        process holds open (the start-up shell's stderr until it opens the job's own)."""
        try:
            found = os.stat(_start_errors_name(job_id), dir_fd=self._private_fd, follow_symlinks=False)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def read_start_errors(self, job_id: int) -> str:
        """The first line the start-up shell wrote, or ""."""
        try:
            fd = os.open(_start_errors_name(job_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=self._private_fd)
        except OSError:
            return ""
        try:
            data = os.read(fd, START_ERRORS_MAX)
        except OSError:
            return ""
        finally:
            os.close(fd)
        return data.decode(errors="replace").partition("\n")[0].strip()

    def open_job_dir(self, job_id: int) -> int:
        """A descriptor of the job's existing `job<N>/` (never through a link); the caller closes it."""
        return os.open(_job_dir_name(job_id), _DIR, dir_fd=self._fd)

    def job_ids(self) -> list[int]:
        """The jobs that have a `job<N>/` here."""
        return sorted(int(name[3:]) for name in os.listdir(self._fd)
                      if name.startswith("job") and name[3:].isdigit())

    def write_job_record(self, job_id: int, name: str, record: dict) -> None:
        """Write the record `name` of the job's run (see the module docstring)."""
        dir_fd = self.open_job_dir(job_id)
        try:
            write_record(dir_fd, name, record)
        finally:
            os.close(dir_fd)

    def read_job_record(self, job_id: int, name: str) -> dict | None:
        """The record `name` of the job's run, or None when there is none (or it is not one
        the agent's user wrote)."""
        try:
            dir_fd = self.open_job_dir(job_id)
        except OSError:
            return None
        try:
            return _read_record(dir_fd, name, os.path.join(self.job_dir(job_id), name))
        finally:
            os.close(dir_fd)

    def write_private_record(self, name: str, record: dict) -> None:
        """Write the record `name` in the root-only `private/`."""
        write_record(self._private_fd, name, record)

    def read_private_record(self, name: str) -> dict | None:
        return _read_record(self._private_fd, name, os.path.join(self.path, PRIVATE, name))

    def remove_job(self, job_id: int) -> None:
        """Remove whatever the spool holds for the job (never through a link)."""
        _remove_entry(_job_dir_name(job_id), self._fd)
        _unlink_quietly(_start_errors_name(job_id), self._private_fd)

    def _make_job_dir(self, name: str) -> int:
        try:
            os.mkdir(name, JOB_DIR_MODE, dir_fd=self._fd)
        except FileExistsError:
            log.warning("removing a stale entry from the spool path=%s", os.path.join(self.path, name))
            _remove_entry(name, self._fd)
            os.mkdir(name, JOB_DIR_MODE, dir_fd=self._fd)
        fd = os.open(name, _DIR, dir_fd=self._fd)
        os.fchmod(fd, JOB_DIR_MODE)
        return fd


def _job_dir_name(job_id: int) -> str:
    return f"job{int(job_id)}"


def _start_errors_name(job_id: int) -> str:
    return f"job{int(job_id)}.start-errors"


def _read_record(dir_fd: int, name: str, path: str) -> dict | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & _WRITABLE_BY_OTHERS or not stat.S_ISREG(st.st_mode):
            log.warning("record ignored: not the agent's own path=%s", path)
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            record = json.loads(f.read())
    except (OSError, ValueError) as exc:
        log.warning("unreadable record ignored path=%s error=%s", path, exc)
        return None
    finally:
        os.close(fd)
    return record if isinstance(record, dict) else None


def _unlink_quietly(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _remove_entry(name: str, dir_fd: int) -> None:
    """Remove `name` under `dir_fd`. A directory's tree goes by rmtree's
    descriptor walk. Anything else, a symlink included, is unlinked itself,
    never its target."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, ignore_errors=True, dir_fd=dir_fd)
    else:
        _unlink_quietly(name, dir_fd)


def _open_checked_path(path: str) -> int:
    """Open `path` one component at a time, never through a symlink. Make the
    missing components and check each one. Returns the descriptor of the last."""
    parts = [p for p in path.split("/") if p]
    fd = os.open("/", _DIR)
    try:
        _check(fd, "/", spool=path, is_spool=not parts)
        here = ""
        for i, name in enumerate(parts):
            here = f"{here}/{name}"
            child = _open_or_make(fd, name, here, spool=path)
            os.close(fd)
            fd = child
            _check(fd, here, spool=path, is_spool=i == len(parts) - 1)
    except BaseException:
        os.close(fd)
        raise
    _warn_if_untraversable(path)
    return fd


def _open_or_make(parent_fd: int, name: str, here: str, *, spool: str) -> int:
    for _ in range(2):   # a second try if someone else made it meanwhile
        try:
            return os.open(name, _DIR, dir_fd=parent_fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeSpool(f"unsafe spool {spool}: {here} is {_what_is(name, parent_fd)}") from None
            raise SpoolError(f"cannot open spool directory {here}: {exc.strerror}") from None
        try:
            os.mkdir(name, SPOOL_MODE, dir_fd=parent_fd)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SpoolError(f"cannot create spool directory {here}: {exc.strerror}") from None
        fd = os.open(name, _DIR, dir_fd=parent_fd)
        os.fchmod(fd, SPOOL_MODE)   # exactly, whatever the umask
        return fd
    raise SpoolError(f"cannot create spool directory {here}: it keeps changing")


def _what_is(name: str, dir_fd: int) -> str:
    """Why `name` could not be opened as a directory without following it: an
    O_NOFOLLOW|O_DIRECTORY open of a symlink fails with ENOTDIR, like a file."""
    try:
        is_link = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    return "a symbolic link (the agent follows none in its spool)" if is_link else "not a directory"


def _check(fd: int, here: str, *, spool: str, is_spool: bool) -> None:
    st = os.fstat(fd)
    euid = os.geteuid()
    owners = "the agent's user" if is_spool else ("root" if euid == 0 else f"root or uid {euid}")
    if st.st_uid != euid and (is_spool or st.st_uid != 0):
        raise UnsafeSpool(f"unsafe spool {spool}: {here} is owned by uid {st.st_uid}, not {owners}")
    if st.st_mode & _WRITABLE_BY_OTHERS and (is_spool or not st.st_mode & stat.S_ISVTX):
        where = "the spool itself" if is_spool else "not sticky"
        raise UnsafeSpool(f"unsafe spool {spool}: {here} is writable by group or others "
                          f"(mode {stat.S_IMODE(st.st_mode):04o}, {where})")


def _open_private(spool_fd: int, name: str, spool: str) -> int:
    """Open (or make) the root-only directory `name` of the spool. Nobody but
    the agent has ever been able to write it. If it is merely readable by
    others, it is tightened to PRIVATE_MODE."""
    here = os.path.join(spool, name)
    try:
        os.mkdir(name, PRIVATE_MODE, dir_fd=spool_fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SpoolError(f"cannot create spool directory {here}: {exc.strerror}") from None
    try:
        fd = os.open(name, _DIR, dir_fd=spool_fd)
    except OSError:
        raise UnsafeSpool(f"unsafe spool {spool}: {here} is {_what_is(name, spool_fd)}") from None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & _WRITABLE_BY_OTHERS:
        os.close(fd)
        raise UnsafeSpool(f"unsafe spool {spool}: {here} is owned by uid {st.st_uid} with mode "
                          f"{stat.S_IMODE(st.st_mode):04o}; it must be the agent's and writable by it alone")
    if stat.S_IMODE(st.st_mode) != PRIVATE_MODE:
        os.fchmod(fd, PRIVATE_MODE)
    return fd


def _warn_if_untraversable(path: str) -> None:
    """A root agent runs other users' scripts by their spool path, so every
    directory on it must let others through. This only warns: a spool that
    runs root's jobs alone (tests) needs no more."""
    if os.geteuid() != 0:
        return
    here = path
    while True:
        if not os.stat(here, follow_symlinks=False).st_mode & stat.S_IXOTH:
            log.warning("users cannot reach their job scripts: %s (on the spool path %s) is not "
                        "searchable by others", here, path)
            return
        if here == "/":
            return
        here = os.path.dirname(here)
