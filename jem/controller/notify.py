"""Job notifications: every committed job event handed on to job mail and to the webhook.

The event bus calls `Notifier.job_committed` right after each commit (the store has the event),
under the controller's lock: it copies what it needs of the job (jem.model.notice), decides
the mails (jem.model.mailplan) and queues them and the webhook event, each for its own worker
thread (jem.controller.mail, jem.controller.webhook). Nothing there waits on a program or a
network: a slow mail program or a webhook receiver that is down never slows a commit, an RPC
or a scheduling cycle; what no longer fits a queue is dropped, logged and counted.
"""

import logging

from jem.controller.mail import MailCounts, MailSender
from jem.controller.webhook import WebhookCounts, WebhookSender
from jem.model.config import Config
from jem.model.job import Job
from jem.model.mailplan import MailPlan
from jem.model.notice import notice_of
from jem.model.notification import WEBHOOK_EVENT_OF
from jem.model.states import JobEvent

log = logging.getLogger(__name__)


class Notifier:
    """Job mail and webhooks of one controller. ConfigError (at construction) when the webhook's
    secret file is unusable: the controller does not start."""

    def __init__(self, config: Config):
        self._plan = MailPlan()
        self.mail = MailSender(config.mail, cluster=config.cluster.name, plan=self._plan) \
            if config.mail.program else None
        self.webhook = WebhookSender(config.webhook, cluster=config.cluster.name) if config.webhook.is_on else None

    def start(self) -> None:
        for sender in (self.mail, self.webhook):
            if sender is not None:
                sender.start()

    def stop(self) -> None:
        for sender in (self.mail, self.webhook):
            if sender is not None:
                sender.stop()
        log.info("notifications mail=%s webhook=%s", self.mail_counts, self.webhook_counts)

    @property
    def mail_counts(self) -> MailCounts | None:
        return self.mail.counts if self.mail is not None else None

    @property
    def webhook_counts(self) -> WebhookCounts | None:
        return self.webhook.counts if self.webhook is not None else None

    def job_committed(self, seq: int, time: float, event_name: str, job: Job) -> None:
        """An EventBus commit hook: queue the mails and the webhook event this commit calls for.
        Lock held; quick; never raises (a notification must not undo or stop a commit)."""
        try:
            event = JobEvent(event_name)
            wants_mail = self.mail is not None and bool(job.spec.mail_type)
            webhook_event = WEBHOOK_EVENT_OF.get(event) if self.webhook is not None else None
            if webhook_event is not None and not self.webhook.wants(webhook_event):
                webhook_event = None
            if not wants_mail and webhook_event is None:
                return
            notice = notice_of(job, event, time, seq)
            if wants_mail:
                self.mail.submit(self._plan.plan(notice))
            if webhook_event is not None:
                self.webhook.submit(notice, webhook_event)
        except Exception:   # (a bug here must cost a notification, never the commit that was made)
            log.exception("job notification failed job_id=%d event=%s", job.job_id, event_name)
