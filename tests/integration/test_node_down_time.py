"""A drained node's time out of service is the cluster's Down time in sreport (`-t seconds`),
also when the controller restarts while the node is drained. Each span is measured by the
test's own timestamps around the drain and the resume; event times count in whole seconds."""

import datetime as dt
import os
import re
import subprocess
import sys
import time

from harness import command, wait_until

_PERIOD = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) - (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")


def sreport(cluster, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    return subprocess.run([sys.executable, "-c", "import sys; from jem_slurm.sreport import main; sys.exit(main())",
                           *argv], capture_output=True, text=True, env=env, timeout=60, cwd=cluster.workdir)


def out_of_service(cluster, node: str, *, restart: bool = False) -> tuple[int, int, int, int]:
    """Drain `node`, (restart the controller,) resume it once a second or two has gone by:
    (before the drain, after it, before the resume, after it), in whole seconds."""
    before_drain = int(time.time())
    drained = command(cluster, "scontrol", "update", f"nodename={node}", "state=drain", "reason=x")
    after_drain = int(time.time())
    assert drained.returncode == 0, drained.stderr
    if restart:
        cluster.stop_process(cluster.controller)
        cluster.start_controller()
    wait_until(lambda: int(time.time()) > after_drain + 1, what="a second or two out of service")
    before_resume = int(time.time())
    resumed = command(cluster, "scontrol", "update", f"nodename={node}", "state=resume")
    after_resume = int(time.time())
    assert resumed.returncode == 0, resumed.stderr
    return before_drain, after_drain, before_resume, after_resume


def down_figures(cluster, since: int) -> tuple[int, int, int, int, int]:
    """(period start, period end, Down, Idle, Reported) of sreport's cluster utilization from
    the hour `since` falls in to now."""
    hour = dt.datetime.fromtimestamp(since).replace(minute=0, second=0, microsecond=0)
    done = sreport(cluster, "-t", "seconds", "cluster", "utilization", f"start={hour:%Y-%m-%dT%H:%M:%S}", "end=now",
                   "format=cl,al,d,i,pl,rep")
    assert done.returncode == 0, done.stderr
    first, last = (int(time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))) for s in
                   _PERIOD.search(done.stdout).groups())
    _, allocated, down, idle, planned, reported = done.stdout.strip().splitlines()[-1].split()
    assert int(allocated) == int(planned) == 0
    return first, last + 1, int(down), int(idle), int(reported)   # (the header's end is a second early)


def clipped(a: int, b: int, first: int, last: int) -> int:
    return max(0, min(b, last) - max(a, first))


def test_a_drained_nodes_span_times_its_cpus_is_down_time_across_a_controller_restart_too(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=2).start()
    spans = [out_of_service(cluster, "n1"), out_of_service(cluster, "n2", restart=True)]
    first, last, down, idle, reported = down_figures(cluster, spans[0][0])
    least = sum(cluster.cpus * clipped(after_drain, before_resume, first, last)
                for _, after_drain, before_resume, _ in spans)
    most = sum(cluster.cpus * clipped(before_drain, after_resume, first, last)
               for before_drain, _, _, after_resume in spans)
    assert 0 < least <= down <= most
    assert reported == down + idle
