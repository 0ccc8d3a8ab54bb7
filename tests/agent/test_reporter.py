"""The agent's reporter: batches, resends until acknowledged, and survives an agent restart."""

import threading

from jem.agent.reporter import Reporter
from jem.model.execution import JobEnd, JobReport
from jem.model.job import JobUsage


class FlakyTransport:
    """The reporter's send callable (the ReportJobEvents RPC in the agent): fails while `is_down`."""

    def __init__(self):
        self.is_down = True
        self.received: list[JobReport] = []
        self.lock = threading.Lock()

    def send(self, batch: list[JobReport]) -> None:
        with self.lock:
            if self.is_down:
                raise ConnectionError("controller unreachable")
            self.received.extend(batch)


def report(job_id: int) -> JobReport:
    return JobReport(job_id, has_ended=True, end=JobEnd.EXITED, exit_code=job_id % 3, start_time=1.5,
                     end_time=2.5, usage=JobUsage(1, 2, 3), detail="d")


def test_undelivered_reports_survive_a_restart_and_are_sent_once(tmp_path):
    down = FlakyTransport()
    first = Reporter(down.send, keep_dir=str(tmp_path))
    first.start()
    for job_id in (1, 2, 3):
        first.put(report(job_id))
    assert not first.flush(timeout_s=0.3)
    first.stop()                                   # the agent dies with three reports unsent
    assert len(list(tmp_path.iterdir())) == 3

    up = FlakyTransport()
    up.is_down = False
    second = Reporter(up.send, keep_dir=str(tmp_path))
    assert second.unreported_ids() == [1, 2, 3]
    second.start()
    second.put(report(4))
    assert second.flush(timeout_s=5)
    second.stop()
    assert up.received == [report(1), report(2), report(3), report(4)]
    assert list(tmp_path.iterdir()) == []


def test_reports_are_resent_until_the_controller_answers():
    controller = FlakyTransport()
    reporter = Reporter(controller.send)
    reporter.start()
    reporter.put(report(7))
    assert reporter.unreported_ids() == [7]
    controller.is_down = False
    assert reporter.flush(timeout_s=5)
    reporter.stop()
    assert controller.received == [report(7)]
