"""Job notifications' settings: `[mail]` (Slurm's MailProg and MailDomain) and `[webhook]` (job
events POSTed, signed, to a site's URL), and which job events a webhook names how.

Each section is checked at load (`check` raises ValueError naming the key); what needs the
host (the mail account, the secret file's owner and mode) is checked when the controller starts.
Times are seconds; sizes are counts of queued messages.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from jem.model.states import JobEvent

DEFAULT_MAIL_PROGRAM = "/bin/mail"          # Slurm's MailProg default (/usr/bin/mail where only it exists)
MAIL_PROGRAM_FALLBACK = "/usr/bin/mail"

# The webhook event each committed job event is sent as (the job events not named are not sent:
# internal ones such as a kill order or a record's update).
WEBHOOK_EVENT_OF = {
    JobEvent.SUBMIT: "submitted", JobEvent.START: "started", JobEvent.REQUEUE: "requeued",
    JobEvent.HOLD: "held", JobEvent.RELEASE: "released", JobEvent.SUSPEND: "suspended",
    JobEvent.RESUME: "resumed",
    **{event: "ended" for event in (JobEvent.COMPLETE, JobEvent.FAIL, JobEvent.CANCEL, JobEvent.TIMEOUT,
                                    JobEvent.OUT_OF_MEMORY, JobEvent.NODE_FAIL, JobEvent.PREEMPT)},
}
WEBHOOK_EVENTS = ("submitted", "started", "ended", "requeued", "held", "released", "suspended", "resumed")


@dataclass(frozen=True, slots=True)
class MailConfig:
    """[mail]: the program that mails a job's user (`program -s SUBJECT RECIPIENT`, as slurmctld
    runs MailProg), run as `run_as` when the controller is root, never as root."""

    program: str = DEFAULT_MAIL_PROGRAM     # MailProg, an absolute path; "": no job mail
    domain: str = ""                        # MailDomain: appended to a user name mailed without --mail-user
    run_as: str = "nobody"                  # the unprivileged account the program runs as
    timeout_s: int = 120                    # killed after this long (Slurm's MAIL_PROG_TIMEOUT)
    queue_size: int = 1000                  # mails waiting at most; more are dropped, logged and counted

    def check(self) -> None:
        if self.program and not self.program.startswith("/"):
            raise ValueError(f"program: expected an absolute path (or \"\" for no mail), got {self.program!r}")
        if self.run_as in ("", "root", "0"):
            raise ValueError(f"run_as: expected an unprivileged account, got {self.run_as!r}")
        if self.domain and (self.domain.startswith(("-", ".")) or
                            not all(c.isalnum() or c in ".-" for c in self.domain)):
            raise ValueError(f"domain: expected a host name such as example.org, got {self.domain!r}")
        _check_positive("timeout_s", self.timeout_s)
        _check_positive("queue_size", self.queue_size)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """[webhook]: each job event in `events` is POSTed as JSON to `url`, signed with the key in
    `secret_file` (docs/configuration.md shows how a receiver checks it)."""

    url: str = ""                           # http:// or https://; "": no webhooks
    secret_file: str = ""                   # the HMAC key; readable by the controller's user alone
    events: tuple[str, ...] = WEBHOOK_EVENTS
    timeout_s: float = 5.0                  # one delivery attempt, at most
    max_attempts: int = 5                   # attempts of one event before it is dropped (logged, counted)
    retry_delay_s: float = 1.0              # before the second attempt; doubled for each later one ...
    max_retry_delay_s: float = 60.0         # ... up to this
    queue_size: int = 1000                  # events waiting at most; more are dropped (logged, counted)

    @property
    def is_on(self) -> bool:
        return bool(self.url)

    def check(self) -> None:
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"url: expected an http:// or https:// URL, got {self.url!r}")
            if not self.secret_file:
                raise ValueError("secret_file: required with url (the key the events are signed with)")
        if self.secret_file and not self.secret_file.startswith("/"):
            raise ValueError(f"secret_file: expected an absolute path, got {self.secret_file!r}")
        unknown = [e for e in self.events if e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"events: expected some of {', '.join(WEBHOOK_EVENTS)}, got {unknown[0]!r}")
        for key in ("timeout_s", "max_attempts", "retry_delay_s", "max_retry_delay_s", "queue_size"):
            _check_positive(key, getattr(self, key))


def _check_positive(key: str, value) -> None:
    if value <= 0:
        raise ValueError(f"{key}: expected a positive number, got {value}")
