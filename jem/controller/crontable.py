"""The installed crontabs in memory (scrontab): each user's, and which entries' jobs recur.

The store holds the crontabs (jem.controller.crontab writes them before changing this table);
this is the controller's view of them, rebuilt at start. Read and changed under the
controller's lock only.
"""

from jem.model.cron import Schedule, parse_schedule
from jem.model.crontab import Crontab
from jem.model.errors import BadUserSignature
from jem.security.signatures import SignatureTerms, signature_terms


class CronTable:
    """Every user's installed crontab, the schedule of each entry's job that still recurs
    (not cancelled), and the terms of those jobs' signatures. Read and changed under the
    controller's lock only."""

    def __init__(self):
        self._by_user: dict[str, Crontab] = {}
        self._recurring: dict[int, tuple[str, Schedule]] = {}   # job id -> (user, its entry's schedule)
        # job id -> its signature's terms (None: unreadable), read once: a job keeps the signature it was
        # admitted with (installing again makes new jobs), and a cycle looks at every entry's.
        self._signature_terms: dict[int, SignatureTerms | None] = {}

    def get(self, user: str) -> Crontab | None:
        return self._by_user.get(user)

    def put(self, crontab: Crontab) -> None:
        self.drop(crontab.user)
        self._by_user[crontab.user] = crontab
        for entry in crontab.entries:
            if entry.first_line not in crontab.disabled_lines:
                self._recurring[entry.job_id] = (crontab.user, parse_schedule(entry.schedule))

    def drop(self, user: str) -> None:
        old = self._by_user.pop(user, None)
        for entry in old.entries if old is not None else ():
            self._recurring.pop(entry.job_id, None)
            self._signature_terms.pop(entry.job_id, None)

    def stop_recurring(self, job_id: int) -> None:
        self._recurring.pop(job_id, None)
        self._signature_terms.pop(job_id, None)

    def signature_terms(self, job_id: int, signature: str) -> SignatureTerms | None:
        """The audience and expiry of `signature`, the one job `job_id` carries; None when unreadable."""
        if job_id not in self._signature_terms:
            try:
                self._signature_terms[job_id] = signature_terms(signature)
            except BadUserSignature:
                self._signature_terms[job_id] = None
        return self._signature_terms[job_id]

    def recurring(self) -> list[tuple[int, str, Schedule]]:
        """(job id, user, schedule) of each entry whose job recurs."""
        return [(job_id, user, schedule) for job_id, (user, schedule) in self._recurring.items()]

    def job_ids(self) -> set[int]:
        """The jobs of every installed entry, cancelled ones included."""
        return {entry.job_id for crontab in self._by_user.values() for entry in crontab.entries}
