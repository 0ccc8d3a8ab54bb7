"""What an agent under test reports, collected for its tests to wait on."""

import threading

from jem.model.execution import JobReport


class Reports:
    """The agent's report callback: keeps each report and wakes whoever waits for one."""

    def __init__(self):
        self.items: list[JobReport] = []
        self.arrived = threading.Condition()

    def __call__(self, report: JobReport) -> None:
        with self.arrived:
            self.items.append(report)
            self.arrived.notify_all()

    def wait(self, n: int = 1, timeout_s: float = 20.0) -> list[JobReport]:
        """The reports once there are at least `n`."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.items) >= n, timeout_s), self.items
            return list(self.items)

    def wait_for(self, job_id: int, timeout_s: float = 20.0) -> JobReport:
        """The first report of `job_id`, once it came."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: any(r.job_id == job_id for r in self.items), timeout_s), self.items
            return next(r for r in self.items if r.job_id == job_id)
