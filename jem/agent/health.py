"""The node's optional health check: a program run every so often; a failure drains the node.

The program passes by exiting 0. Otherwise its output (first line, or the exit
status) is the reason the controller shows for the drain, as with Slurm's
HealthCheckProgram. A program that hangs past its timeout fails.
"""

import logging
import subprocess
import threading

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0


class HealthCheck:
    def __init__(self, program: str, *, interval_s: float):
        self.program = program
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._error = ""
        self._stopping = threading.Event()

    @property
    def error(self) -> str:
        """Why the last run failed; empty when it passed."""
        with self._lock:
            return self._error

    def run_once(self) -> str:
        try:
            result = subprocess.run([self.program], capture_output=True, text=True, timeout=TIMEOUT_S,
                                    stdin=subprocess.DEVNULL)
            if result.returncode == 0:
                error = ""
            else:
                output = (result.stdout.strip() or result.stderr.strip()).splitlines()
                error = output[0] if output else f"{self.program} exited with status {result.returncode}"
        except subprocess.TimeoutExpired:
            error = f"{self.program} did not finish within {TIMEOUT_S:.0f} s"
        except OSError as exc:
            error = f"cannot run {self.program}: {exc.strerror}"
        with self._lock:
            if error != self._error:
                (log.warning if error else log.info)("health check %s node_health=%r", "failed" if error else "passed",
                                                     error)
            self._error = error
        return error

    def start(self) -> None:
        def loop() -> None:
            while not self._stopping.is_set():
                self.run_once()
                self._stopping.wait(self.interval_s)
        threading.Thread(target=loop, name="health-check", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
