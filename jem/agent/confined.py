"""The confined start of a user's program on this node: as the user, in a new
session, inside a cgroup before its first instruction. Step tasks (`steps.py`)
start here; batch scripts run the same start-up line under their keeper
(`keeper.py`), which moves it into the cgroup and says "go" as the agent does here.

The agent (root) runs one `/bin/sh -c` start-up line, already as the user (uid,
gid, supplementary groups): when asked, it waits until the agent has put it in
the cgroup (the agent writes "go" on its stdin; a closed pipe means the agent
gave up or died), then changes to the working directory, opens the program's
files with the user's own permissions (an agent running as root must not open
them: `-o /etc/shadow` would be honoured), and becomes the program. An empty
stdout or stderr path keeps the descriptor the agent gave (a pipe back to it).

A missing directory of the stdout or stderr path is made first, by the user
(`mkdir -p`, so only where the user may): tools that make a job's log
directory just after sbatch returns (submitit's `logs/<job id>/`) count on
Slurm's start latency of a second or more, and JEM starts a job within
milliseconds. Slurm itself fails such a job.
"""

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from typing import IO

from jem.agent.cgroups import JobCgroup

_SETPRIV = shutil.which("setpriv")   # util-linux; without it the child of the fork changes user
_START = ("d=$1 i=$2 o=$3 e=$4 s=$5 m=$6; shift 6; "
          "if [ \"$s\" = 1 ]; then read -r go; [ \"$go\" = go ] || exit 1; fi; cd -- \"$d\" || exit 1; "
          "for f in \"$o\" \"$e\"; do case $f in */*) [ -d \"${f%/*}/\" ] || mkdir -p -- \"${f%/*}/\"; esac; done; "
          "if [ -n \"$o\" ] && [ \"$m\" = append ]; then exec >>\"$o\" || exit 1; "
          "elif [ -n \"$o\" ]; then exec >\"$o\" || exit 1; fi; "
          "if [ -n \"$o\" ] && [ \"$e\" = \"$o\" ]; then exec 2>&1; "
          "elif [ -n \"$e\" ] && [ \"$m\" = append ]; then exec 2>>\"$e\" || exit 1; "
          "elif [ -n \"$e\" ]; then exec 2>\"$e\" || exit 1; fi; "
          "exec \"$@\" <\"$i\"")


class LaunchError(Exception):
    """The program could not be started; the message says why."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who a program runs as: the Popen arguments that change user (empty: as the
    agent) and the user's passwd entry (None when unknown here)."""

    run_as: dict
    entry: pwd.struct_passwd | None


def credentials_for(uid: int, gid: int, user: str, *, node_name: str) -> Credentials:
    """The credentials to run a program of `user` (uid, gid) with; raises LaunchError
    when this agent cannot run it (an unknown user, or not root and not that user)."""
    entry = _passwd(uid)
    if os.geteuid() == 0 and (uid, gid) != (os.getuid(), os.getgid()):
        if entry is None:
            raise LaunchError(f"user {user} (uid {uid}) does not exist on node {node_name}")
        return Credentials({"user": uid, "group": gid, "extra_groups": os.getgrouplist(entry.pw_name, gid)}, entry)
    if uid != os.getuid():  # not root: only our own user's programs
        raise LaunchError(f"agent on {node_name} runs as uid {os.getuid()} and cannot run jobs of uid {uid}")
    return Credentials({}, entry)


@dataclass(frozen=True, slots=True)
class StartFiles:
    """Where the program's stdin, stdout and stderr go (paths opened as the user;
    empty stdout/stderr: the descriptors `out`/`err` the agent passes), and where
    the start-up shell's own complaints go before that."""

    stdin_path: str
    stdout_path: str
    stderr_path: str
    out: IO | int
    err: IO | int
    open_mode: str = "truncate"     # or "append" (sbatch --open-mode)


def start_line(command: list[str], *, working_dir: str, files: StartFiles, waits_for_go: bool) -> list[str]:
    """The start-up shell's argv for `command` (see the module docstring); with `waits_for_go`
    it first waits for "go" on its stdin (it is not in its cgroup yet)."""
    return ["/bin/sh", "-c", _START, "jem-job-start", working_dir, files.stdin_path or os.devnull,
            files.stdout_path, files.stderr_path, "1" if waits_for_go else "0", files.open_mode or "truncate",
            *command]


def as_user_argv(argv: list[str], credentials: Credentials) -> list[str] | None:
    """`argv` run as the credentials' user by a small exec'd helper (setpriv): `argv` itself when
    no change of user is needed, None when one is and there is no setpriv. A helper rather than
    a change of user in a forked child: the agent (a large process) can then start step tasks
    with vfork (or posix_spawn), which costs a fraction of a fork of itself. (Batch scripts
    start from the small keeper, whose forked child changes user itself.)"""
    run_as = credentials.run_as
    if not run_as:
        return argv
    if not _SETPRIV:
        return None
    return [_SETPRIV, f"--reuid={run_as['user']}", f"--regid={run_as['group']}",
            f"--groups={','.join(map(str, run_as['extra_groups']))}", "--", *argv]


def start_confined(command: list[str], *, credentials: Credentials, working_dir: str, files: StartFiles,
                   env: dict[str, str], cgroup: JobCgroup | None) -> subprocess.Popen:
    """Start `command` confined as described above. The caller serializes calls
    with any writing of files `command` may exec (ETXTBSY)."""
    argv = start_line(command, working_dir=working_dir, files=files, waits_for_go=cgroup is not None)
    run_as = credentials.run_as
    as_user = as_user_argv(argv, credentials)
    if as_user is not None:
        argv, run_as = as_user, {}
    go_read, go_write = os.pipe() if cgroup is not None else (subprocess.DEVNULL, None)
    try:
        try:
            process = subprocess.Popen(argv, cwd="/", stdin=go_read, stdout=files.out, stderr=files.err, env=env,
                                       start_new_session=True, close_fds=True, **run_as)
        except OSError as exc:
            raise LaunchError(f"cannot start job: {exc.strerror or exc}") from None
        except (ValueError, UnicodeError) as exc:   # an argument or variable exec cannot take (a NUL byte)
            raise LaunchError(f"cannot start job: {exc}") from None
        if cgroup is not None:
            _confine(process, cgroup, go_write)
    finally:
        if go_write is not None:
            os.close(go_read)
            os.close(go_write)
    return process


def _confine(process: subprocess.Popen, cgroup: JobCgroup, go_write: int) -> None:
    """Move the waiting start-up shell into the cgroup, then let it go on."""
    try:
        cgroup.attach(process.pid)
    except OSError as exc:
        process.kill()  # closing the pipe unanswered would stop it too; be sure
        process.wait()
        raise LaunchError(f"cannot move the job into its cgroup: {exc}") from None
    os.write(go_write, b"go\n")


def _passwd(uid: int) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        return None
