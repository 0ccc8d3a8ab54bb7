"""A scrontab entry's signature (jem-cron) on a real controller and agent: an entry whose next run
its signature would not reach (`auth.cron_signature_lifetime_s`, short here) is never launched: its
job is held saying why, in squeue, scontrol and the controller's log, and the crontab stays as
installed. (That an entry runs and recurs while its signature lasts: tests/e2e/test_scrontab.py with
the default lifetime, and tests/unit/test_crontab.py with a clock of its own.)"""

import os
import re
import subprocess
import sys
import time

from harness import command, wait_until
from jem.model.reasons import JobReason

LIFETIME_S = 60   # (the least the config takes: the entry's run, minutes away, is beyond it)


def scrontab(cluster, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    return subprocess.run([sys.executable, "-c", "import sys; from jem_slurm.scrontab import main; sys.exit(main())",
                           *argv], capture_output=True, text=True, env=env, timeout=60, cwd=cluster.workdir)


def test_an_entry_its_signature_would_not_reach_is_held_not_launched(make_cluster):
    cluster = make_cluster(n_nodes=1, auth_config=f"cron_signature_lifetime_s = {LIFETIME_S}").start()
    out = os.path.join(cluster.workdir, "runs")
    minute = (time.localtime().tm_min + 5) % 60   # (at least four minutes away: past the signature's 60 s)
    text = f"#SCRON -t 1\n#SCRON -o {cluster.workdir}/cron-%j.out\n{minute} * * * * echo ran >> {out}\n"
    path = os.path.join(cluster.workdir, "crontab.txt")
    with open(path, "w") as f:
        f.write(text)
    installed = scrontab(cluster, path)
    assert (installed.returncode, installed.stderr) == (0, ""), installed.stdout
    with cluster.client() as client:
        job_id = client.get_crontab().entries[0].job_id
        held = wait_until(lambda: (job := client.get_job(job_id)).held_by and job, timeout_s=30,
                          what="the entry's job held")
        assert (held.reason, held.restart_count, held.start_time) == (JobReason.JOB_HELD_ADMIN, 0, None)
        assert held.reason_detail.startswith("scrontab: its user's signature expires at ")
        assert held.reason_detail.endswith(": install the crontab again to renew it")

    squeue = command(cluster, "squeue", "-h", "-j", str(job_id), "-o", "%T %r")
    assert squeue.stdout.split() == ["PENDING", "JobHeldAdmin"], squeue.stderr
    shown = command(cluster, "scontrol", "show", "job", str(job_id)).stdout
    assert f"Reason=JobHeldAdmin ({held.reason_detail})" in shown
    listed = scrontab(cluster, "-l")
    assert (listed.returncode, listed.stdout) == (0, text)
    with open(os.path.join(cluster.root, "controller.log"), errors="replace") as f:
        assert re.search(rf"cron job held job_id={job_id} user=root why=", f.read())
    assert not os.path.exists(out)   # (never launched)
