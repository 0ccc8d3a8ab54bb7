"""sstat against a `jem up` cluster, its layout checked against what Slurm 22.05.8's sstat
printed on a real cluster (captured below): the default header and its dashes, -o with
widths, -p/-P/-n, --noconvert, -e, an unknown, ended or unstarted job's messages (exit
code 0, as sstat), and usage errors (exit code 1)."""

import re

import pytest
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for, wait_for_state

# Real sstat 22.05.8's default header and dashes (each cell followed by one space).
HEADER = 'JobID         MaxVMSize  MaxVMSizeNode  MaxVMSizeTask  AveVMSize     MaxRSS MaxRSSNode MaxRSSTask     AveRSS MaxPages MaxPagesNode   MaxPagesTask   AvePages     MinCPU MinCPUNode MinCPUTask     AveCPU   NTasks AveCPUFreq ReqCPUFreqMin ReqCPUFreqMax ReqCPUFreqGov ConsumedEnergy  MaxDiskRead MaxDiskReadNode MaxDiskReadTask  AveDiskRead MaxDiskWrite MaxDiskWriteNode MaxDiskWriteTask AveDiskWrite TRESUsageInAve TRESUsageInMax TRESUsageInMaxNode TRESUsageInMaxTask TRESUsageInMin TRESUsageInMinNode TRESUsageInMinTask TRESUsageInTot TRESUsageOutAve TRESUsageOutMax TRESUsageOutMaxNode TRESUsageOutMaxTask TRESUsageOutMin TRESUsageOutMinNode TRESUsageOutMinTask TRESUsageOutTot '
DASHES = '------------ ---------- -------------- -------------- ---------- ---------- ---------- ---------- ---------- -------- ------------ -------------- ---------- ---------- ---------- ---------- ---------- -------- ---------- ------------- ------------- ------------- -------------- ------------ --------------- --------------- ------------ ------------ ---------------- ---------------- ------------ -------------- -------------- ------------------ ------------------ -------------- ------------------ ------------------ -------------- --------------- --------------- ------------------- ------------------- --------------- ------------------- ------------------- --------------- '
HELPFORMAT = 'AveCPU              AveCPUFreq          AveDiskRead         AveDiskWrite       \nAvePages            AveRSS              AveVMSize           ConsumedEnergy     \nConsumedEnergyRaw   JobID               MaxDiskRead         MaxDiskReadNode    \nMaxDiskReadTask     MaxDiskWrite        MaxDiskWriteNode    MaxDiskWriteTask   \nMaxPages            MaxPagesNode        MaxPagesTask        MaxRSS             \nMaxRSSNode          MaxRSSTask          MaxVMSize           MaxVMSizeNode      \nMaxVMSizeTask       MinCPU              MinCPUNode          MinCPUTask         \nNodelist            NTasks              Pids                ReqCPUFreq         \nReqCPUFreqMin       ReqCPUFreqMax       ReqCPUFreqGov       TRESUsageInAve     \nTRESUsageInMax      TRESUsageInMaxNode  TRESUsageInMaxTask  TRESUsageInMin     \nTRESUsageInMinNode  TRESUsageInMinTask  TRESUsageInTot      TRESUsageOutAve    \nTRESUsageOutMax     TRESUsageOutMaxNode TRESUsageOutMaxTask TRESUsageOutMin    \nTRESUsageOutMinNode TRESUsageOutMinTask TRESUsageOutTot    \n'
BURN = ("import time; x = bytearray(50 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); t = time.time()\n"
        "while time.time() - t < 60: pass")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("sstat")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def job(cluster):
    """A running job whose step 0 holds 50 MB and burns CPU."""
    done = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", f'srun python3 -c "{BURN}"')
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    wait_for_state(cluster, job_id, {"RUNNING"})
    wait_for(lambda: _max_rss_kib(sstat(cluster, "-j", job_id, "-n", "-o", "MaxRSS").stdout) >= 45 * 1024,
             what="step 0's 50 MB held", timeout_s=60)
    yield job_id
    slurm(cluster, "scancel", job_id)


def _max_rss_kib(text: str) -> int:
    """The KiB of `sstat -n -o MaxRSS`'s one value (0 before the step has one). sstat shows K, or a
    larger unit where the value divides exactly."""
    found = re.search(r"(\d+)([KMG])", text)
    return int(found[1]) * 1024 ** "KMG".index(found[2]) if found else 0


def sstat(cluster, *argv: str):
    return slurm(cluster, "sstat", *argv)


def test_default_layout_is_slurms(cluster, job):
    done = sstat(cluster, "-j", job)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[:2] == [HEADER, DASHES] and len(lines) == 3
    widths = [len(d) for d in DASHES.split()]
    cells, at = [], 0
    for width in widths:
        cells.append(lines[2][at:at + width])
        assert lines[2][at + width] == " "
        at += width + 1
    assert cells[0] == f"{job}.0".ljust(12)
    values = dict(zip(HEADER.split(), (c.strip() for c in cells)))
    assert re.fullmatch(r"\d+[KMG]", values["MaxRSS"]) and _max_rss_kib(values["MaxRSS"]) >= 45 * 1024
    assert values["MaxRSSNode"] == "n1" and values["MaxRSSTask"] == "0" and values["NTasks"] == "1"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", values["AveCPU"]) and values["MinCPUNode"] == "n1"
    assert [values[k] for k in ("AveCPUFreq", "ReqCPUFreqMin", "ReqCPUFreqGov", "ConsumedEnergy")] == [
        "0", "Unknown", "Unknown", "0"]
    assert values["TRESUsageInAve"].startswith("cpu=") and values["TRESUsageInAve"].endswith("+")
    assert values["TRESUsageOutMaxTask"] == "fs/disk=0"


def test_fields_widths_and_parsable_forms(cluster, job):
    done = sstat(cluster, "-j", job, "-o", "JobID,MaxRSS,AveCPU,NTasks")
    assert done.stdout.splitlines()[:2] == ["JobID            MaxRSS     AveCPU   NTasks ",
                                            "------------ ---------- ---------- -------- "]
    assert re.fullmatch(rf"{job}\.0 +\d+[KMG] +\d\d:\d\d:\d\d +1 ", done.stdout.splitlines()[2])
    p = sstat(cluster, "-j", job, "-p", "-o", "JobID,MaxRSS,AveCPU,NTasks").stdout.splitlines()
    assert p[0] == "JobID|MaxRSS|AveCPU|NTasks|" and re.fullmatch(rf"{job}\.0\|\d+[KMG]\|[\d:]+\|1\|", p[1])
    big_p = sstat(cluster, "-j", job, "-P", "-o", "JobID,MaxRSS,AveCPU,NTasks").stdout.splitlines()
    assert big_p[0] == "JobID|MaxRSS|AveCPU|NTasks" and big_p[1].count("|") == 3
    n = sstat(cluster, "-j", job, "-n", "-o", "JobID,NTasks").stdout
    assert n == f"{job}.0".ljust(12) + " " + "1".rjust(8) + " \n"
    width = sstat(cluster, "-j", job, "-o", "JobID%20,MaxRSS%5,AveCPU").stdout.splitlines()
    assert width[0] == "               JobID MaxRS     AveCPU "
    assert width[2].startswith(f"{job}.0".rjust(20) + " ") and width[2][25] == "+"
    raw = sstat(cluster, "-j", job, "--noconvert", "-n", "-P", "-o", "MaxRSS,MaxRSSNode").stdout.strip()
    assert re.fullmatch(r"\d+\|n1", raw) and int(raw.split("|")[0]) % 1024 == 0
    every = sstat(cluster, "-a", "-j", job, "-n", "-P", "-o", "JobID,NTasks,Nodelist").stdout.splitlines()
    assert every == [f"{job}.batch|1|n1", f"{job}.0|1|n1"]
    assert sstat(cluster, "-j", f"{job}.batch", "-n", "-P", "-o", "JobID").stdout == f"{job}.batch\n"


def test_helpformat_is_slurms(cluster):
    for flag in ("-e", "--helpformat"):
        done = sstat(cluster, flag)
        assert (done.returncode, done.stdout) == (0, HELPFORMAT)


def test_jobs_without_rows_say_why_with_exit_code_0(cluster, job):
    done = sstat(cluster, "-j", "999999", "-o", "JobID,MaxRSS")
    assert done.returncode == 0
    assert done.stdout == "JobID            MaxRSS \n------------ ---------- \n"
    assert done.stderr == "sstat: error: couldn't get steps for job 999999\n"
    done = sstat(cluster, "-j", f"{job}.5", "-o", "JobID,MaxRSS")
    assert done.returncode == 0 and done.stderr == f"sstat: error: StepId={job}.5 not found running.\n"
    ended = slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true").stdout.strip()
    wait_for_state(cluster, ended, {"COMPLETED"})
    done = sstat(cluster, "-j", ended, "-o", "JobID,MaxRSS")
    assert done.returncode == 0 and done.stderr == f"sstat: error: No steps running for job {ended}\n"


@pytest.mark.parametrize("argv, message", [
    ((), "sstat: error: You didn't give me any jobs to stat.\n"),
    (("-j", "abc"), "sstat: fatal: Bad job/step specified: abc\n"),
    (("-j", "1", "-o", "Foo"), 'sstat: error: Invalid field requested: "Foo"\n'),
    (("--bogus",), "sstat: unrecognized option '--bogus'\n"),
    (("-j",), "sstat: option requires an argument -- 'j'\n"),
])
def test_usage_errors_exit_1(cluster, argv, message):
    done = sstat(cluster, *argv)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message)
