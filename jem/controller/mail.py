"""Job mail out of the controller: the site's mail program (Slurm's MailProg) run once per mail,
as slurmctld runs it: `MailProg -s SUBJECT RECIPIENT`, standard input /dev/null, in a process
group of its own, with the job's SLURM_* variables as its whole environment, killed after
`[mail] timeout_s`.

Never through a shell, and never as root: a root controller runs it as `[mail] run_as`
(nobody by default) with no supplementary groups; an account that resolves to uid 0 turns job
mail off (logged). What the user chose cannot become an option or a header line: the recipient
is checked again here (jem.model.mail.check_mail_user: no leading '-', no spaces, no control
characters) and the subject has no control characters (jem.model.mailmessage).

Mails wait in a bounded queue for one worker thread: queuing never blocks the controller, and
a full queue drops the mail (logged, counted). The worker also sends the time-limit mails
that fall due (jem.model.mailplan).
"""

import contextlib
import grp
import logging
import os
import pwd
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from jem.model.mail import check_mail_user, mail_recipient
from jem.model.mailmessage import MailContext, MailMessage, job_mail, summary_mail
from jem.model.mailplan import MailPlan, PlannedMail
from jem.model.notification import DEFAULT_MAIL_PROGRAM, MAIL_PROGRAM_FALLBACK, MailConfig

log = logging.getLogger(__name__)

TICK_S = 1.0               # how often the worker looks for time-limit mails due
MAX_OUTPUT_LOGGED = 1000   # characters of the program's output kept in a log line
STOP_WAIT_S = 5.0          # how long stopping waits for the worker


@dataclass(frozen=True, slots=True)
class MailAccount:
    """Whom the program runs as (a root controller only: otherwise as the controller's user)."""

    name: str
    uid: int
    gid: int


@dataclass(slots=True)
class MailCounts:
    sent: int = 0          # the program exited 0
    failed: int = 0        # it could not run, exited non-zero or timed out
    dropped: int = 0       # the queue was full (or mail is off): counted by the committing thread ...
    refused: int = 0       # ... and by the worker: a recipient that is not a plain address


def mail_program(config: MailConfig) -> str:
    """The program to run: the configured one, where Slurm's default /bin/mail is missing but
    /usr/bin/mail exists that one (as slurmctld picks its default)."""
    if config.program == DEFAULT_MAIL_PROGRAM and not os.path.exists(DEFAULT_MAIL_PROGRAM) \
            and os.path.exists(MAIL_PROGRAM_FALLBACK):
        return MAIL_PROGRAM_FALLBACK
    return config.program


def mail_account(config: MailConfig) -> MailAccount | None:
    """The account a root controller runs the program as; None when the controller is not root.
    LookupError when it does not exist or is root's."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(config.run_as)
    if entry.pw_uid == 0:
        raise LookupError(f"mail.run_as {config.run_as!r} is uid 0: the mail program never runs as root")
    return MailAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)


class MailSender:
    """The queue of mails to send and the worker that runs the program for each."""

    def __init__(self, config: MailConfig, *, cluster: str, plan: MailPlan):
        self._config, self._cluster, self._plan = config, cluster, plan
        self._program = mail_program(config)
        self._queue: queue.Queue[PlannedMail] = queue.Queue(config.queue_size)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: subprocess.Popen | None = None   # the program running now
        self.counts = MailCounts()
        self._is_usable = True
        try:
            self._account = mail_account(config)
        except (KeyError, LookupError) as exc:
            log.error("job mail is off: the mail program's account is unusable run_as=%s (%s)", config.run_as, exc)
            self._account, self._is_usable = None, False
        if not os.access(self._program, os.X_OK):
            log.warning("MailProg %s is not an executable file: job mail will fail until it is", self._program)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="mail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker; a mail program still running is killed (the controller stops now)."""
        self._stopping.set()
        running = self._running
        if running is not None and running.poll() is None:
            _kill_group(running)
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        left = self._queue.qsize()
        if left:
            log.warning("controller stopping: job mail not sent mails=%d", left)

    def submit(self, mails: list[PlannedMail]) -> None:
        """Queue `mails` (never blocks: a full queue drops them, logged and counted)."""
        for mail in mails:
            if not self._is_usable:
                self.counts.dropped += 1
                continue
            try:
                self._queue.put_nowait(mail)
            except queue.Full:
                self.counts.dropped += 1
                log.warning("job mail dropped: queue full job_id=%d kind=%s queue_size=%d dropped=%d",
                            mail.notice.job_id, mail.kind.value, self._config.queue_size, self.counts.dropped)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                mail = self._queue.get(timeout=TICK_S)
            except queue.Empty:
                mail = None
            due = self._plan.due(time.time()) if self._plan.has_runs() else []
            for planned in ([mail] if mail is not None else []) + due:
                if self._stopping.is_set():
                    return
                message = self._message(planned)
                if message is not None:
                    self._run(message)

    def _message(self, planned: PlannedMail) -> MailMessage | None:
        notice = planned.notice
        recipient = mail_recipient(notice.mail_user, notice.user, self._config.domain)
        try:
            check_mail_user(recipient)
        except ValueError as exc:
            self.counts.refused += 1
            log.warning("job mail not sent: recipient is not a plain address job_id=%d (%s)", notice.job_id, exc)
            return None
        context = MailContext(recipient, self._cluster, _group_name(notice.gid), planned.now or time.time())
        if planned.is_summary:
            return summary_mail(notice, planned.kind, summary=planned.summary, context=context)
        return job_mail(notice, planned.kind, context=context, started=planned.started, ended=planned.ended)

    def _run(self, message: MailMessage) -> None:
        argv = [self._program, "-s", message.subject, message.recipient]
        account = self._account
        privileges = {} if account is None else {"user": account.uid, "group": account.gid, "extra_groups": []}
        try:
            process = subprocess.Popen(argv, env=message.environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, cwd="/", close_fds=True, start_new_session=True,
                                       **privileges)
        except OSError as exc:
            self.counts.failed += 1
            log.error("MailProg %s could not run job_id=%d: %s", self._program, message.job_id, exc)
            return
        self._running = process
        try:
            output, _ = process.communicate(timeout=self._config.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)   # (its own group: whatever it started goes too)
            process.communicate()
            self.counts.failed += 1
            log.error("MailProg %s timed out after %d s job_id=%d", self._program, self._config.timeout_s,
                      message.job_id)
            return
        finally:
            self._running = None
        text = output.decode(errors="replace")[:MAX_OUTPUT_LOGGED]
        if process.returncode != 0:
            self.counts.failed += 1
            log.error("MailProg returned error %d job_id=%d, its output was %r", process.returncode, message.job_id,
                      text)
            return
        self.counts.sent += 1
        log.debug("email msg to %s: %s job_id=%d", message.recipient, message.subject, message.job_id)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):   # (gone meanwhile)
        os.killpg(process.pid, signal.SIGKILL)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
