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

Before that it takes on what the submitter propagated (`propagation.py`: the umask, so the
output files get it too, and soft resource limits), runs srun's --task-prolog if any, and
checks that the program can be run (else Slurm's `execve(): PROG: No such file or directory`
line and exit 2). Its own variables are named `_jem_*`, so none of the job's environment is
changed; a SLURM_TASK_PID in the environment (a step task's) becomes its pid.

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
from jem.agent.propagation import NOTHING, Propagated

_SETPRIV = shutil.which("setpriv")   # util-linux; without it the child of the fork changes user
# srun --task-prolog (`$_jem_p`, an absolute path): run it in the task's environment; its stdout's
# `export NAME=VALUE`, `unset NAME` and `print TEXT` lines change the environment the program gets,
# or print (even when it fails, as Slurm's); a failure then ends the task with Slurm's lines and its status.
_PROLOG = ("{ case $_jem_p in /*) if [ -f \"$_jem_p\" ] && [ -x \"$_jem_p\" ]; then "
           "_jem_out=$(\"$_jem_p\" </dev/null 2>/dev/null); _jem_r=$?; else _jem_w='No such file or directory'; "
           "[ ! -e \"$_jem_p\" ] || _jem_w='Permission denied'; "
           "echo \"$_jem_h run_command: user task_prolog can not be executed ($_jem_p) $_jem_w\" >&2; _jem_r=-1; fi;; "
           "*) echo \"$_jem_h run_command: user task_prolog is not fully qualified pathname ($_jem_p)\" >&2; "
           "_jem_r=-1;; esac; "
           "if [ \"$_jem_r\" = -1 ]; then _jem_r=1; echo \"$_jem_h user task_prolog did not exit normally. reason: "
           "Run command failed - configuration error\" >&2; fi; "
           "set -f; IFS='\n'; for _jem_x in $_jem_out; do case $_jem_x in "
           "'export '*) _jem_v=${_jem_x#export }; _jem_k=${_jem_v%%=*}; case $_jem_v in *=*) case $_jem_k in "
           "''|[!A-Za-z_]*|*[!A-Za-z0-9_]*) ;; *) export \"$_jem_v\";; esac;; esac;; "
           "'unset '*) _jem_k=${_jem_x#unset }; case $_jem_k in ''|[!A-Za-z_]*|*[!A-Za-z0-9_]*) ;; "
           "*) unset \"$_jem_k\";; esac;; "
           "'print '*) printf '%s\\n' \"${_jem_x#print }\";; esac; done; unset IFS; set +f; "
           "if [ \"$_jem_r\" != 0 ]; then echo \"$_jem_h --task-prolog failed status=$_jem_r\" >&2; "
           "exit \"$_jem_r\"; fi; }")
# The program must exist and be executable, or the task ends as Slurm's does: `slurmstepd-NODE: error:
# execve(): PROG: No such file or directory` and exit 2 (ENOENT), or Permission denied and 13 (EACCES).
_EXEC_CHECK = ("case $1 in */*) if [ ! -f \"$1\" ] || [ ! -x \"$1\" ]; then _jem_w=2; fi;; "
               "*) command -v -- \"$1\" >/dev/null || _jem_w=2;; esac; "
               "if [ \"$_jem_w\" = 2 ]; then if [ -e \"$1\" ]; then _jem_w=13 _jem_t='Permission denied'; "
               "else _jem_t='No such file or directory'; fi; echo \"$_jem_h execve(): $1: $_jem_t\" >&2; "
               "exit \"$_jem_w\"; fi")
_START = ("_jem_d=$1 _jem_i=$2 _jem_o=$3 _jem_e=$4 _jem_s=$5 _jem_m=$6 _jem_u=$7 _jem_l=$8 _jem_p=$9 _jem_w=; "
          "shift 9; if [ \"$_jem_s\" = 1 ]; then read -r _jem_go; [ \"$_jem_go\" = go ] || exit 1; fi; "
          "[ -z \"$_jem_u\" ] || umask \"$_jem_u\"; [ -z \"$_jem_l\" ] || prlimit --pid $$ $_jem_l; "
          "cd -- \"$_jem_d\" || exit 1; "
          "for _jem_f in \"$_jem_o\" \"$_jem_e\"; do case $_jem_f in */*) [ -d \"${_jem_f%/*}/\" ] || "
          "mkdir -p -- \"${_jem_f%/*}/\"; esac; done; "
          "if [ -n \"$_jem_o\" ] && [ \"$_jem_m\" = append ]; then exec >>\"$_jem_o\" || exit 1; "
          "elif [ -n \"$_jem_o\" ]; then exec >\"$_jem_o\" || exit 1; fi; "
          "if [ -n \"$_jem_o\" ] && [ \"$_jem_e\" = \"$_jem_o\" ]; then exec 2>&1; "
          "elif [ -n \"$_jem_e\" ] && [ \"$_jem_m\" = append ]; then exec 2>>\"$_jem_e\" || exit 1; "
          "elif [ -n \"$_jem_e\" ]; then exec 2>\"$_jem_e\" || exit 1; fi; "
          "[ -z \"${SLURM_TASK_PID+x}\" ] || SLURM_TASK_PID=$$; _jem_h=\"slurmstepd-${SLURMD_NODENAME-}: error:\"; "
          "[ -z \"$_jem_p\" ] || " + _PROLOG + "; " + _EXEC_CHECK + "; "
          "if [ \"$_jem_i\" = - ]; then exec \"$@\"; fi; exec \"$@\" <\"$_jem_i\"")


INHERITED_STDIN = "-"   # StartFiles.stdin_path: the program reads the start-up shell's stdin (a pipe)


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


def start_line(command: list[str], *, working_dir: str, files: StartFiles, waits_for_go: bool,
               propagated: Propagated = NOTHING, prolog: str = "") -> list[str]:
    """The start-up shell's argv for `command` (see the module docstring); with `waits_for_go`
    it first waits for "go" on its stdin (it is not in its cgroup yet). `propagated`: the
    submitter's umask and soft limits to set first; `prolog`: srun's --task-prolog."""
    return ["/bin/sh", "-c", _START, "jem-job-start", working_dir, files.stdin_path or os.devnull,
            files.stdout_path, files.stderr_path, "1" if waits_for_go else "0", files.open_mode or "truncate",
            propagated.umask_text(), propagated.prlimit_args(), prolog, *command]


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
                   env: dict[str, str], cgroup: JobCgroup | None, propagated: Propagated = NOTHING,
                   prolog: str = "", stdin_pipe: tuple[int, int] | None = None) -> subprocess.Popen:
    """Start `command` confined as described above. The caller serializes calls
    with any writing of files `command` may exec (ETXTBSY). With `stdin_pipe` (read end,
    write end; `files.stdin_path` INHERITED_STDIN) the program reads the pipe: "go" goes
    first, and the caller keeps the write end (this closes the read end)."""
    argv = start_line(command, working_dir=working_dir, files=files, waits_for_go=cgroup is not None,
                      propagated=propagated, prolog=prolog)
    run_as = credentials.run_as
    as_user = as_user_argv(argv, credentials)
    if as_user is not None:
        argv, run_as = as_user, {}
    if stdin_pipe is not None:
        go_read, go_write = stdin_pipe
    else:
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
            if stdin_pipe is None:
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
