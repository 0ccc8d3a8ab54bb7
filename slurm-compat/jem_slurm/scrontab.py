"""scrontab: install, list, edit and remove a user's crontab of recurring batch jobs, with Slurm
22.05's options, messages and exit codes (JobService.SetCrontab and GetCrontab).

    scrontab [-u user] [file | -]       install (stdin when no file and stdin is not a terminal)
    scrontab [-u user] -e | -l | -r     edit (in $VISUAL, $EDITOR or vi), list, remove

The file's lines are read by jem.model.crontab; each #SCRON line's options are sbatch's,
read and checked by sbatch's own option table (the options Slurm's scrontab refuses, such as
--array, --begin and --hold, are refused too), and each entry becomes the job Slurm's
scrontab builds: a /bin/sh script of the #SCRON lines and the command, named after the
command's first word, run in the user's home directory (or --chdir) with a login-like
environment (HOME, USER, LOGNAME, SHELL, PATH) and the caller's umask (SLURM_UMASK, as sbatch
carries it): the caller's own environment and resource limits are not used.
Slurm prints its crontab problems on stdout ("There are errors in your crontab.") and JEM
adds, on stderr, the line and what is wrong with it.
"""

import os
import pwd
import subprocess
import sys
import tempfile

from jem.model.crontab import (BAD_PREFIX, DISABLED_PREFIX, Entry, EntryRequest, line_numbers, parse_crontab,
                               scron_arguments, with_marked_lines)
from jem.model.errors import CrontabEntryRefused, InvalidCrontab, JemError, PermissionDenied
from jem_slurm import sbatch, sbatch_options as opts
from jem_slurm.command import Failure, connect, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable, UsageError

PROG = "scrontab"
USAGE = """usage:\tscrontab [-u user] file
\tscrontab [-u user] [ -e | -l | -r | -v]
\t-e\tEdit user's crontab (default action if stdin is a TTY)
\t-l\tList user's crontab
\t-r\tDelete user's crontab
\t-u\tUser to edit crontab for
"""
OPTIONS = OptionTable([Option("edit", "e", NONE), Option("list", "l", NONE), Option("remove", "r", NONE),
                       Option("user", "u", REQUIRED), Option("verbose", "v", NONE)])
# What an #SCRON line may not hold: sbatch's options that Slurm's scrontab does not take.
NOT_IN_SCRON = {"array", "begin", "get_user_env", "hold", "kill_on_invalid_dep", "no_requeue", "requeue",
                "parsable", "test_only", "wait", "wrap", "propagate", "help", "usage", "version"}
SCRIPT_HEADER = "#!/bin/sh\n# This job was submitted through scrontab\n"
LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_CRONTAB = """# scrontab: recurring batch jobs on JEM.
#
# Each entry is a schedule and a command: minute, hour, day of month, month,
# day of week (or @hourly, @daily, @weekly, @monthly, @yearly), then the command.
# Times are the controller's local time. Lines starting with #SCRON give sbatch
# options to the next entry only, e.g. "#SCRON -t 10" for a 10-minute limit.
#
# For example, to run a script at 05:00 every day:
# 0 5 * * * /path/to/script
#
# min hour day-of-month month day-of-week command
"""
RETRY_PROMPT = "Do you want to retry the edit? (y/n) "


def entry_requests(text: str, owner: pwd.struct_passwd) -> list[EntryRequest]:
    """The job of each entry of `text`, for `owner`; InvalidCrontab (its `line` set) at the first
    line that is not valid, an #SCRON option included."""
    return [_entry_request(entry, owner) for entry in parse_crontab(text)]


def _entry_request(entry: Entry, owner: pwd.struct_passwd) -> EntryRequest:
    settings: dict = {}
    for number, line in entry.option_lines:   # (each line a source: a later one overrides)
        arguments = scron_arguments(line)
        try:
            found, operands = opts.OPTIONS.parse(arguments, stop_at_operand=False)
        except UsageError as exc:
            raise InvalidCrontab(f"line {number}: Invalid option found in #SCRON line ({exc})", line=number) from None
        refused = [f"--{option.long}" for option, _ in found if option.name in NOT_IN_SCRON] + operands
        if refused:
            raise InvalidCrontab(f"line {number}: Invalid option found in #SCRON line: {refused[0]}", line=number)
        try:
            opts.apply_settings(settings, found)
        except Failure as exc:
            raise InvalidCrontab(f"line {number}: {' '.join(exc.lines)}", line=number) from None
    settings.setdefault("chdir", owner.pw_dir)
    settings["propagate"] = "NONE"   # (no resource limits of this process: --propagate is sbatch's alone)
    script = (SCRIPT_HEADER + "".join(f"{line}\n" for _, line in entry.option_lines)
              + f"# crontab time request was: '{entry.schedule_text}'\n{entry.command}\n")
    spec = sbatch.build_spec(settings, script, entry.command.split(" ")[0], [], _login_environment(owner))
    return EntryRequest(entry.schedule_text, spec)


def _login_environment(owner: pwd.struct_passwd) -> dict[str, str]:
    """What a cron job starts with (Slurm asks for the user's login environment instead)."""
    return {"HOME": owner.pw_dir, "USER": owner.pw_name, "LOGNAME": owner.pw_name,
            "SHELL": owner.pw_shell or "/bin/sh", "PATH": LOGIN_PATH}


def _owner(name: str | None) -> pwd.struct_passwd:
    try:
        if name is None:
            return pwd.getpwuid(os.getuid())
        return pwd.getpwuid(int(name)) if name.isascii() and name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise Failure(f"Could not find user {name}", prefix="fatal: ") from None


def _parse(argv: list[str]) -> tuple[str, str | None, list[str]]:
    """(mode: install, edit, list or remove; the -u user or None; operands), as Slurm's getopt
    "elru:v" reads them: a bad option or operand prints the usage and exits 1."""
    if any(arg.startswith("--") and arg != "--" for arg in argv):   # (short options only)
        raise UsageError("")
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    names = [option.name for option, _ in found]
    users = [value for option, value in found if option.name == "user"]
    modes = [name for name in names if name in ("edit", "list", "remove")]
    mode = modes[-1] if modes else "install"
    if (modes and operands) or len(operands) > 1:
        raise UsageError("")
    if mode == "install" and not operands and sys.stdin.isatty():
        mode = "edit"
    return mode, users[-1] if users else None, operands


def _scrontab(argv: list[str]) -> int:
    try:
        mode, user, operands = _parse(argv)
    except UsageError:
        print(USAGE, end="", file=sys.stderr)
        return 1
    if mode == "edit" and not sys.stdin.isatty():
        raise Failure("Standard input is not a TTY", prefix="fatal: ")
    owner = _owner(user)
    target = owner.pw_name if owner.pw_uid != os.getuid() else ""   # ("": one's own, which one signs)
    if mode == "install":
        text = _read_input(operands[0] if operands else "-")
    with connect() as client:
        if mode == "remove":
            try:
                client.remove_crontab(user=target)
            except JemError as exc:
                raise Failure(f"slurm_remove_crontab failed: {_slurm_words(exc)}", prefix="fatal: ") from None
            return 0
        if mode == "install":
            return _install(client, text, owner, target)
        try:
            crontab = client.get_crontab(target)
        except JemError as exc:
            raise Failure(f"slurm_request_crontab failed: {_slurm_words(exc)}", prefix="fatal: ") from None
        current = with_marked_lines(crontab.text, crontab.disabled_lines, DISABLED_PREFIX) if crontab else None
        if mode == "list":
            if current is None:
                print(f"no crontab for {owner.pw_name}")
                return 1
            sys.stdout.write(current)
            return 0
        return _edit(client, current if current is not None else DEFAULT_CRONTAB, owner, target)


def _read_input(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, errors="surrogateescape") as f:
            return f.read()
    except OSError:
        raise Failure(f"failed to open {path}", prefix="fatal: ") from None


def _install(client, text: str, owner: pwd.struct_passwd, target: str) -> int:
    """scrontab FILE: install, or say what is wrong and exit 1 (Slurm's words on stdout)."""
    try:
        entries = entry_requests(text, owner)
    except InvalidCrontab as exc:
        print(f"{PROG}: error: {exc.detail}", file=sys.stderr)
        print("There are errors in your crontab.")
        return 1
    try:
        client.set_crontab(text, entries, user=target)
    except JemError as exc:
        if exc.reason == "ControllerUnreachable":
            raise
        print(_submission_problem(exc), end="")
        return 1
    return 0


def _edit(client, text: str, owner: pwd.struct_passwd, target: str) -> int:
    """scrontab -e: edit a copy, install it; on a problem, mark the lines and offer to edit again."""
    while True:
        text = _edited(text)
        try:
            entries = entry_requests(text, owner)
        except InvalidCrontab as exc:
            print(f"{PROG}: error: {exc.detail}", file=sys.stderr)
            if not _retry("There are errors in your crontab.\nThe failed line(s) is commented out with #BAD:\n"):
                return 0
            text = with_marked_lines(text, {exc.line} if exc.line else set(), BAD_PREFIX)
            continue
        try:
            client.set_crontab(text, entries, user=target)
            return 0
        except JemError as exc:
            if exc.reason == "ControllerUnreachable":
                raise
            if not _retry(_submission_problem(exc) + "The failed lines are commented out with #BAD:\n"):
                return 0
            text = with_marked_lines(text, _lines_of(exc), BAD_PREFIX)


def _edited(text: str) -> str:
    """`text` as the user left it in $VISUAL, $EDITOR or vi (run on a private temporary file
    in $TMPDIR or /tmp, with no shell); Failure if the editor fails."""
    fd, path = tempfile.mkstemp(prefix="scrontab-", dir=os.environ.get("TMPDIR") or "/tmp")
    try:
        with os.fdopen(fd, "w", errors="surrogateescape") as f:
            f.write(text)
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        try:
            status = subprocess.run([editor, path]).returncode
        except OSError:
            status = 127   # (Slurm's child exits 127 when the editor cannot be run)
        if status != 0:
            raise Failure("editor returned non-zero exit code", prefix="fatal: ")
        with open(path, errors="surrogateescape") as f:
            return f.read()
    finally:
        os.unlink(path)


def _retry(problem: str) -> bool:
    """Slurm's question after a problem with an edited crontab, asked until the answer is y or n
    (end of input: n)."""
    while True:
        print(problem + RETRY_PROMPT, end="", flush=True)
        answer = sys.stdin.read(1)
        if answer == "" or answer.lower() == "n":
            return False
        if answer.lower() == "y":
            return True


def _submission_problem(exc: JemError) -> str:
    """Slurm's lines for a crontab the controller refused."""
    lines = exc.lines if isinstance(exc, CrontabEntryRefused) and exc.lines else "(null)"
    if isinstance(exc, CrontabEntryRefused):
        code, message = exc.cause.message, exc.detail or "(null)"
    else:
        code, message = _slurm_words(exc), exc.detail or "(null)"
    return (f"There was an issue with the job submission on lines {lines}\n"
            f"The error code return was: {code}\nThe error message was: {message}\n")


def _lines_of(exc: JemError) -> set[int]:
    if not isinstance(exc, CrontabEntryRefused) or not exc.lines:
        return set()
    first, _, last = exc.lines.partition("-")
    return set(line_numbers(int(first), int(last or first)))


def _slurm_words(exc: JemError) -> str:
    """The error as Slurm names it: another user's crontab is "Invalid user id" there."""
    return "Invalid user id" if isinstance(exc, PermissionDenied) else exc.message


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _scrontab, argv)


if __name__ == "__main__":
    sys.exit(main())
