"""salloc: get an allocation, run a command (the user's shell by default) here
with the allocation's SLURM_* variables, and give the allocation back when it ends.

The allocation is a job whose batch script only holds its nodes (as srun makes
outside a job). salloc says `salloc: Granted job allocation N`, or first
`Pending job allocation N` and `job N queued and waiting for resources` when it
has to wait; `-I[=S]` gives up after S seconds (Slurm's "Connection timed out").
When the command exits, salloc says `Relinquishing job allocation N` and ends
the job with the command's status (CompleteAllocation, Slurm's
slurm_complete_job), so the job ends COMPLETED or FAILED as Slurm's does, with
no step of its own. `--no-shell` returns at once and leaves the allocation to scancel
or its time limit. A job that ends meanwhile (scancel, time limit) is "revoked":
the command gets SIGHUP and salloc returns 0, as Slurm 22.05's does.

srun in the command (SLURM_JOB_ID is set) runs its steps in the allocation.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from jem_slurm import sbatch_options
from jem_slurm.command import SLURM_VERSION, Failure, Interrupted, connect, raise_interrupted, run
from jem_slurm.getopt import NONE, OPTIONAL, REQUIRED, Option, OptionTable

PROG = "salloc"
WAIT_QUIET_S = 0.5     # an allocation granted within this is not "pending"
POLL_S = 0.2           # how often salloc looks at its job while the command runs (or polls for the grant)
FIRST_POLL_S = 0.002   # the first pause between polls for the grant, doubled up to POLL_S
GRANT_WAIT_S = 5.0     # one GetJob's wait for the grant at most (the controller has its own cap)
_O = Option
OPTIONS = OptionTable([
    _O("nodes", "N", REQUIRED), _O("ntasks", "n", REQUIRED), _O("cpus-per-task", "c", REQUIRED),
    _O("ntasks-per-node", "", REQUIRED), _O("mem", "", REQUIRED), _O("mem-per-cpu", "", REQUIRED),
    _O("time", "t", REQUIRED), _O("partition", "p", REQUIRED), _O("account", "A", REQUIRED),
    _O("qos", "q", REQUIRED), _O("job-name", "J", REQUIRED), _O("exclusive", "", OPTIONAL),
    _O("constraint", "C", REQUIRED), _O("gres", "", REQUIRED), _O("gpus", "G", REQUIRED),
    _O("gpus-per-node", "", REQUIRED), _O("chdir", "D", REQUIRED), _O("reservation", "", REQUIRED),
    _O("immediate", "I", OPTIONAL), _O("no-shell", "", NONE), _O("quiet", "Q", NONE), _O("verbose", "v", NONE),
    _O("help", "h", NONE), _O("usage", "", NONE), _O("version", "V", NONE),
])
_OWN = {"immediate", "no_shell", "quiet", "verbose", "help", "usage", "version"}
USAGE = """Usage: salloc [OPTIONS(0)...] [ : [OPTIONS(N)...]] [command(0) [args(0)...]]

JEM's salloc takes sbatch's resource options: -N -n -c --ntasks-per-node --mem --mem-per-cpu
-t -p -A -q -J --exclusive -C --gres -G --gpus-per-node -D --reservation, and
-I/--immediate[=secs], --no-shell, -Q, -v.
"""


def _settings(found) -> dict:
    settings: dict = {}
    own = [(option, value) for option, value in found if option.name in _OWN]
    sbatch_options.apply_settings(settings, [(sbatch_options.OPTIONS.by_long(option.long), value)
                                             for option, value in found if option.name not in _OWN])
    for option, value in own:
        if option.name == "immediate":
            try:
                settings["immediate"] = max(int(value), 1) if value else 1
            except ValueError:
                raise Failure("Invalid --immediate specification", code=sbatch_options.PARSE_ERROR) from None
        else:
            settings[option.name] = True
    return settings


def _say(settings: dict, text: str) -> None:
    if "quiet" not in settings:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _allocate(client, settings: dict, name: str) -> int:
    """Submit the allocation's job and return its id once it runs (Failure when it never will)."""
    from jem.model.errors import JemError
    from jem.model.job import ALLOCATION_SCRIPT
    from jem_slurm.sbatch import build_spec

    spec = build_spec(settings | {"output": "/dev/null", "error": "/dev/null"}, ALLOCATION_SCRIPT, name, [],
                      dict(os.environ))
    try:
        job_id = client.submit(spec)
    except JemError as exc:
        raise Failure(f"Unable to allocate resources: {exc.message if exc.reason != 'InvalidJobSpec' else exc}")
    try:
        return _wait_for_grant(client, job_id, settings)
    except Interrupted:
        client.cancel(job_id)
        _say(settings, "Job aborted due to signal")
        raise Failure(f"Job allocation {job_id} has been revoked.", prefix="") from None


def _grant_wait_s(settings: dict, *, waited_s: float, has_waited: bool) -> float:
    """How long the next look at the job may wait for its start: until salloc must act next (say
    that it is pending; give up, with -I), and at most GRANT_WAIT_S."""
    moments_s = [GRANT_WAIT_S]
    if not has_waited:
        moments_s.append(WAIT_QUIET_S - waited_s)
    if "immediate" in settings:
        moments_s.append(settings["immediate"] - waited_s)
    return max(min(moments_s), 0.0)


def _wait_for_grant(client, job_id: int, settings: dict) -> int:
    """The job's id once it runs: each GetJob waits at the controller while the job is pending
    (a signal meanwhile raises Interrupted out of the call, as out of a sleep)."""
    from jem.model.states import JobState

    t_start, has_waited, pause_s = time.monotonic(), False, FIRST_POLL_S
    while True:
        wait_s = _grant_wait_s(settings, waited_s=time.monotonic() - t_start, has_waited=has_waited)
        t_asked = time.monotonic()
        job = client.get_job(job_id, wait_while_pending_s=wait_s)
        if job.state is JobState.RUNNING:
            if has_waited:
                _say(settings, f"job {job_id} has been allocated resources")
            _say(settings, f"Granted job allocation {job_id}")
            return job_id
        if job.state is not JobState.PENDING:
            raise Failure(f"Job allocation {job_id} has been revoked.", prefix="")
        waited_s = time.monotonic() - t_start
        if not has_waited and waited_s >= WAIT_QUIET_S:
            _say(settings, f"Pending job allocation {job_id}")
            _say(settings, f"job {job_id} queued and waiting for resources")
            has_waited = True
        if "immediate" in settings and waited_s >= settings["immediate"]:
            client.cancel(job_id)
            print(f"{PROG}: error: Unable to allocate resources: Connection timed out", file=sys.stderr)
            raise Failure(f"Job allocation {job_id} has been revoked.", prefix="")
        if time.monotonic() - t_asked < wait_s / 2:
            # The controller answered without waiting (this user holds all their stream slots): poll,
            # soon at first (an idle cluster starts a job ~5-15 ms after its submission), then every POLL_S.
            time.sleep(pause_s)
            pause_s = min(POLL_S, 2 * pause_s)


def allocation_environment(job, settings: dict, *, cluster_name: str) -> dict[str, str]:
    """The SLURM_* variables salloc's command sees (as Slurm 22.05's salloc sets them)."""
    import hostlist

    n_nodes = len(job.nodes)
    node_list = hostlist.collect_hostlist(list(job.nodes))
    cpus = job.shape.per_node.cpus
    slurm = {
        "JOB_ID": str(job.job_id), "JOBID": str(job.job_id), "JOB_NAME": job.spec.name,
        "JOB_NODELIST": node_list, "NODELIST": node_list, "JOB_NUM_NODES": str(n_nodes), "NNODES": str(n_nodes),
        "JOB_CPUS_PER_NODE": f"{cpus}(x{n_nodes})" if n_nodes > 1 else str(cpus),
        "TASKS_PER_NODE": _tasks_per_node(job.shape.n_tasks, n_nodes),
        "CPUS_PER_TASK": str(job.spec.cpus_per_task), "JOB_PARTITION": job.spec.partition,
        "SUBMIT_DIR": os.getcwd(), "SUBMIT_HOST": socket.gethostname().split(".")[0],
        "CLUSTER_NAME": cluster_name,
    }
    if job.spec.account:
        slurm["JOB_ACCOUNT"] = job.spec.account
    if job.spec.qos:
        slurm["JOB_QOS"] = job.spec.qos
    if "ntasks" in settings:
        slurm["NTASKS"] = slurm["NPROCS"] = str(settings["ntasks"])
    if "ntasks_per_node" in settings:
        slurm["NTASKS_PER_NODE"] = str(settings["ntasks_per_node"])
    if job.spec.mem_per_cpu_mib is not None:
        slurm["MEM_PER_CPU"] = str(job.spec.mem_per_cpu_mib)
    elif job.spec.mem_per_node_mib is not None:
        slurm["MEM_PER_NODE"] = str(job.spec.mem_per_node_mib)
    return {"SLURM_" + key: value for key, value in slurm.items()}


def _tasks_per_node(n_tasks: int, n_nodes: int) -> str:
    """SLURM_TASKS_PER_NODE: counts per node, runs compressed as 'N(xK)'.

    >>> _tasks_per_node(10, 3)
    '4,3(x2)'
    """
    base, extra = divmod(max(n_tasks, n_nodes), n_nodes)
    runs = [(base + 1, extra), (base, n_nodes - extra)]
    return ",".join(f"{count}(x{k})" if k > 1 else str(count) for count, k in runs if k)


class CommandRun:
    """The command running here, and the watch on its allocation that revokes it
    (SIGHUP) when the job ends under it."""

    def __init__(self, client, job_id: int, argv: list[str], env: dict[str, str], settings: dict):
        self.job_id, self.settings = job_id, settings
        self.is_revoked = False
        self._client = client
        self._done = threading.Event()
        try:
            self.process = subprocess.Popen(argv, env=env)
        except OSError as exc:
            self.process = None
            print(f"{PROG}: error: {argv[0]}: {exc.strerror}", file=sys.stderr)
        threading.Thread(target=self._watch, daemon=True, name=f"salloc-{job_id}").start()

    def _watch(self) -> None:
        from jem.model.errors import JemError
        from jem.model.states import JobState

        while not self._done.wait(POLL_S * 2):
            try:
                state = self._client.get_job(self.job_id).state
            except JemError:
                continue
            if state is not JobState.RUNNING and not self._done.is_set():
                self.is_revoked = True
                _say(self.settings, f"Job allocation {self.job_id} has been revoked.")
                self.forward(signal.SIGHUP)
                return

    def forward(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.kill(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        """The command's status as a shell reports it (128 + signal when killed)."""
        try:
            while True:
                try:
                    status = self.process.wait() if self.process is not None else 127
                    break
                except Interrupted as interrupt:
                    self.forward(interrupt.signum)
        finally:
            self._done.set()
        return 128 - status if status < 0 else status


def _relinquish(client, job_id: int, code: int) -> None:
    """End the allocation's job with the command's exit code (Slurm's slurm_complete_job): no step
    of its own, so sacct shows only the steps the command ran."""
    from jem.model.errors import JemError

    try:
        client.complete_allocation(job_id, min(code, 255))
    except JemError:
        client.cancel(job_id)   # the job is not running any more: cancel is idempotent


def _command(operands: list[str]) -> list[str]:
    return operands or [os.environ.get("SHELL") or "/bin/sh"]


def _salloc(argv: list[str]) -> int:
    found, operands = OPTIONS.parse(argv, stop_at_operand=True)
    names = {option.name for option, _ in found}
    if "help" in names or "usage" in names:
        print(USAGE, end="")
        return 0
    if "version" in names:
        print(SLURM_VERSION)
        return 0
    settings = _settings(found)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_interrupted)
    name = "no-shell" if "no_shell" in settings else "interactive"
    with connect() as client:
        job_id = _allocate(client, settings, name)
        if "no_shell" in settings:
            return 0
        job = client.get_job(job_id)
        env = dict(os.environ) | allocation_environment(job, settings, cluster_name=client.ping().cluster_name)
        command = CommandRun(client, job_id, _command(operands), env, settings)
        code = command.wait()
        if command.is_revoked:
            return 0
        _say(settings, f"Relinquishing job allocation {job_id}")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _relinquish(client, job_id, code)
    return code


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _salloc, argv, usage_code=sbatch_options.PARSE_ERROR)


if __name__ == "__main__":
    sys.exit(main())
