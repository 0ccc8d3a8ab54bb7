"""sprio and sshare against `jem up` clusters, byte for byte: the columns, widths and values of Slurm
22.05's commands (the transcripts of ../shared/slurm-ref's real Slurm set the layouts), their options
and exit codes.

Two clusters: one with priority weights (age, fair-share, job size, partition, QOS), a QOS `high`,
accounts `physics` (3 shares) and `chem` (1) and a DOWN partition `hold`, where every job stays
pending; one with every weight 0 and the Classic fair-share algorithm. `max_age` is so long that a
job's age factor stays 0.0000000 for the tests' minutes, so that every printed value is exact.
The pending jobs never run, so there is no usage until the last test runs one job.
"""

import json
import os
import re
import subprocess

import psutil
import pytest
from slurm_cluster import JEM, slurm, start_cluster, stop_cluster, wait_for, wait_for_state

WEIGHTED = """
[priority]
weight_age = 1000
weight_fairshare = 10000
weight_job_size = 100
weight_partition = 200
weight_qos = 5000
max_age = "100000-0"

[[qos]]
name = "high"
priority = 100

[[accounts]]
name = "root"
qos = ["normal", "high"]

[[accounts]]
name = "physics"
shares = 3

[[accounts]]
name = "chem"
shares = 1

[[partitions]]
name = "hold"
nodes = "ALL"
state = "DOWN"
"""

UNWEIGHTED = """
[fairshare]
algorithm = "classic"
"""


def _configured_cluster(root: str, extra: str) -> dict:
    """A `jem up` cluster of 2 nodes x 4 CPUs whose controller was restarted with `extra` added to
    its jem.toml (`jem up` writes its own config; a second `jem up` resumes the killed controller)."""
    cluster = start_cluster(root, n_nodes=2)
    try:
        with open(os.path.join(cluster["state_dir"], "pids")) as f:
            controller = psutil.Process(json.load(f)["controller"])
        controller.kill()
        controller.wait(30)
        with open(os.path.join(cluster["state_dir"], "jem.toml"), "a") as f:
            f.write(extra)
        resumed = subprocess.run([*JEM, "up", "--state-dir", cluster["state_dir"]], capture_output=True, text=True,
                                 timeout=120)
        assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    cluster = _configured_cluster(str(tmp_path_factory.mktemp("sprio_weighted")), WEIGHTED)
    try:
        jobs = {
            "p1": _submit(cluster, "-A", "physics", "-p", "hold", "-n", "1"),
            "p2": _submit(cluster, "-A", "physics", "-p", "hold", "-n", "2", "--qos", "high"),
            "c1": _submit(cluster, "-A", "chem", "-p", "hold", "-n", "1", "--nice=100"),
            "held": _submit(cluster, "-A", "chem", "-p", "hold", "-H"),
        }
        # Until its first cycle a job has JEM's basic priority (1,000,000): wait for the multifactor one.
        wait_for(lambda: _priorities(cluster) == {jobs["p1"]: "5212", jobs["p2"]: "10225", jobs["c1"]: "10112"},
                 what="the multifactor priorities")
        cluster["jobs"] = jobs
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def unweighted(tmp_path_factory):
    cluster = _configured_cluster(str(tmp_path_factory.mktemp("sprio_unweighted")), UNWEIGHTED)
    try:
        held = _submit(cluster, "-A", "bio", "-H")
        waiting = _submit(cluster, "-A", "bio", f"--dependency=afterok:{held}", "--nice=5")
        wait_for_state(cluster, waiting, {"PENDING"})
        cluster["jobs"] = {"held": held, "waiting": waiting}
        yield cluster
    finally:
        stop_cluster(cluster)


def _submit(cluster, *args: str) -> str:
    result = slurm(cluster, "sbatch", "--parsable", *args, "--wrap", "sleep 600")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout.strip()


def _priorities(cluster) -> dict[str, str]:
    out = slurm(cluster, "sprio", "-h", "-o", "%i %Y").stdout
    return dict(line.split() for line in out.splitlines())


def _run(cluster, *argv: str) -> tuple[int, str, str]:
    result = slurm(cluster, *argv)
    return result.returncode, result.stdout, result.stderr


def _ids(cluster, text: str) -> str:
    """`text` with the job names {p1} {p2} {c1} ... replaced by the cluster's job ids."""
    return text.format(**cluster["jobs"])


# ---------------------------------------------------------------- sprio, weighted

def test_sprio_default_shows_the_weighted_factors(weighted):
    # physics' and chem's users have no usage: Fair Tree visits chem first (a tie broken by name),
    # so chem's user has factor 2/2 and physics' 1/2. Job size is CPUs / 8; 12.5 prints as 12 (%.0f).
    assert _run(weighted, "sprio") == (0, _ids(weighted, (
        "          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  PARTITION        QOS\n"
        "          {p1:>5} hold            5212          0          0       5000         12        200          0\n"
        "          {p2:>5} hold           10225          0          0       5000         25        200       5000\n"
        "          {c1:>5} hold           10112          0          0      10000         12        200          0\n")),
        "")


def test_sprio_long_shows_every_factor_user_and_nice(weighted):
    assert _run(weighted, "sprio", "-l") == (0, _ids(weighted, (
        "          JOBID PARTITION     USER   PRIORITY       SITE        AGE      ASSOC  FAIRSHARE    JOBSIZE"
        "  PARTITION        QOS        NICE                 TRES\n"
        "          {p1:>5} hold          root       5212          0          0          0       5000         12"
        "        200          0           0                     \n"
        "          {p2:>5} hold          root      10225          0          0          0       5000         25"
        "        200       5000           0                     \n"
        "          {c1:>5} hold          root      10112          0          0          0      10000         12"
        "        200          0         100                     \n")), "")


def test_sprio_norm_prints_normalized_factors_left_justified(weighted):
    rows = {"p1": ("0.00000121", "0.5000000", "0.1250000", "0.0000000"),
            "p2": ("0.00000238", "0.5000000", "0.2500000", "1.0000000"),
            "c1": ("0.00000235", "1.0000000", "0.1250000", "0.0000000")}
    expected = "          JOBID PARTITION PRIORITY   AGE        FAIRSHARE  JOBSIZE    PARTITION  QOS       \n"
    for name, (prio, fairshare, size, qos) in rows.items():
        expected += (f"          {weighted['jobs'][name]:>5} hold      {prio} 0.0000000  {fairshare}  {size}  "
                     f"1.0000000  {qos} \n")
    assert _run(weighted, "sprio", "-n") == (0, expected, "")
    long_norm = _run(weighted, "sprio", "-n", "-l")[1].splitlines()
    assert long_norm[0] == ("          JOBID PARTITION     USER PRIORITY   AGE        ASSOC      FAIRSHARE  JOBSIZE    "
                            "PARTITION  QOS        TRES                ")
    assert long_norm[3] == _ids(weighted, "          {c1:>5} hold          root 0.00000235 0.0000000  0.0000000  "
                                          "1.0000000  0.1250000  1.0000000  0.0000000                      ")


def test_sprio_weights_row(weighted):
    assert _run(weighted, "sprio", "-w") == (0, (
        "          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  PARTITION        QOS\n"
        "        Weights                               1       1000      10000        100        200       5000\n"),
        "")
    assert _run(weighted, "sprio", "-w", "-h") == (0, (
        "        Weights                               1       1000      10000        100        200       5000\n"), "")


def test_sprio_selects_jobs_users_and_partitions(weighted):
    code, out, err = _run(weighted, "sprio", "-j", weighted["jobs"]["p2"])
    assert (code, err) == (0, "") and out.splitlines()[1:] == [_ids(weighted, (
        "          {p2:>5} hold           10225          0          0       5000         25        200       5000"))]
    # -j's list may also follow it as an operand (getopt's optional argument), comma-separated.
    assert _run(weighted, "sprio", "-h", "-o", "%i", "-j", _ids(weighted, "{c1},{p1}")) == (
        0, _ids(weighted, "{p1}\n{c1}\n"), "")
    assert _run(weighted, "sprio", "-j", "999999") == (0, "Unable to find jobs matching user/id(s) specified\n", "")
    assert _run(weighted, "sprio", "-j", weighted["jobs"]["held"]) == (
        0, "Unable to find jobs matching user/id(s) specified\n", "")          # (a held job is never listed)
    # -u adds the USER column; a user without pending jobs gets the header alone (3.29).
    assert _run(weighted, "sprio", "-u", "nobody") == (0, (
        "          JOBID PARTITION     USER   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  PARTITION"
        "        QOS\n"), "")
    assert _run(weighted, "sprio", "-u", "root", "-h", "-o", "%i")[1].split() == [
        weighted["jobs"][n] for n in ("p1", "p2", "c1")]
    assert _run(weighted, "sprio", "-p", "debug", "-h") == (0, "", "")
    assert _run(weighted, "sprio", "-p", "debug,hold", "-h", "-o", "%i")[1].count("\n") == 3


def test_sprio_format_sort_and_noheader(weighted):
    # As transcript 3.16: -o with literal text between the fields, no widths.
    assert _run(weighted, "sprio", "-u", "root", "-o", "%i %u %Y %F %Q %A") == (0, _ids(weighted, (
        "JOBID USER PRIORITY FAIRSHARE QOS AGE\n"
        "{p1} root 5212 5000 0 0\n{p2} root 10225 5000 5000 0\n{c1} root 10112 10000 0 0\n")), "")
    assert _run(weighted, "sprio", "-h", "-o", "<%.7i|%6r|%N>", "-S", "-y") == (0, _ids(weighted, (
        "<  {p2:>5}|hold  |0>\n<  {c1:>5}|hold  |100>\n<  {p1:>5}|hold  |0>\n")), "")
    code, out, err = _run(weighted, "sprio", "-o", "%i %Z %u", "-j", weighted["jobs"]["p1"])
    assert (code, out, err) == (0, _ids(weighted, "JOBID USER\n{p1} root\n"),
                                "sprio: error: Invalid job format specification: Z\n")
    env = dict(weighted["env"], SPRIO_FORMAT="%.6i")
    assert slurm(weighted, "sprio", "-h", "-S", "-i", env=env).stdout == _ids(weighted,
                                                                              " {c1:>5}\n {p2:>5}\n {p1:>5}\n")


def test_sprio_errors_and_help(weighted):
    assert _run(weighted, "sprio", "-x") == (
        1, "", "sprio: invalid option -- 'x'\nTry \"sprio --help\" for more information\n")
    assert _run(weighted, "sprio", "-l", "-o", "%i") == (1, "", (
        "sprio: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.\n"))
    assert _run(weighted, "sprio", "-j", "abc") == (1, "", "sprio: error: Invalid job id: abc\n")
    assert _run(weighted, "sprio", "-S", "z") == (1, _ids(weighted, (
        "          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  PARTITION        QOS\n")),
        "sprio: error: Invalid sort specification: z\n")
    usage = ("Usage: sprio [-j jid[s]] [-u user_name[s]] [-o format] [-p partitions]\n"
             "   [--federation] [--local] [--usage] [-hlnvVw]\n")
    assert _run(weighted, "sprio", "stray") == (1, usage, "sprio: error: Unrecognized option: stray\n")
    assert _run(weighted, "sprio", "--usage") == (0, usage, "")
    code, out, _ = _run(weighted, "sprio", "--help")
    assert code == 0 and out.startswith("Usage: sprio [OPTIONS]\n") and "  -w, --weights " in out
    assert _run(weighted, "sprio", "-V")[:2] == (0, "slurm 22.05.8\n")


# ---------------------------------------------------------------- sshare, no usage

SSHARE_HEADER = (
    "Account                    User  RawShares  NormShares    RawUsage  EffectvUsage  FairShare \n"
    "-------------------- ---------- ---------- ----------- ----------- ------------- ---------- \n")


def test_sshare_default_and_all(weighted):
    expected = SSHARE_HEADER + (
        "root                                          0.000000           0      1.000000            \n"
        " chem                                    1    0.250000           0      0.000000            \n"
        "  chem                     root          1    1.000000           0      0.000000   1.000000 \n"
        " physics                                 3    0.750000           0      0.000000            \n"
        "  physics                  root          1    1.000000           0      0.000000   0.500000 \n")
    assert _run(weighted, "sshare") == (0, expected, "")
    assert _run(weighted, "sshare", "-a") == (0, expected, "")
    # Another user's view: every account, no user lines of theirs here.
    assert _run(weighted, "sshare", "-u", "nobody") == (0, "\n".join(
        line for line in expected.split("\n") if " root " not in line[20:32]), "")


# sshare -l's widths (transcript 3.01): Account left-justified in 20, the others right-justified.
LONG_WIDTHS = (-20, 10, 10, 11, 11, 11, 13, 10, 10, 30, 30)
LONG_NAMES = ("Account", "User", "RawShares", "NormShares", "RawUsage", "NormUsage", "EffectvUsage", "FairShare",
              "LevelFS", "GrpTRESMins", "TRESRunMins")


def fixed(widths, *cells: str) -> str:
    """One line of fixed-width cells, each followed by a space, as print_fields.c prints them."""
    return "".join(f"{cell:<{-width}} " if width < 0 else f"{cell:>{width}} "
                   for width, cell in zip(widths, cells)) + "\n"


def test_sshare_long_parsable_and_selections(weighted):
    assert _run(weighted, "sshare", "-a", "-l") == (0, (
        fixed(LONG_WIDTHS, *LONG_NAMES) + fixed(LONG_WIDTHS, *("-" * abs(w) for w in LONG_WIDTHS))
        + fixed(LONG_WIDTHS, "root", "", "", "0.000000", "0", "", "1.000000", "", "", "", "")
        + fixed(LONG_WIDTHS, " chem", "", "1", "0.250000", "0", "0.000000", "0.000000", "", "inf", "", "")
        + fixed(LONG_WIDTHS, "  chem", "root", "1", "1.000000", "0", "0.000000", "0.000000", "1.000000", "inf", "", "")
        + fixed(LONG_WIDTHS, " physics", "", "3", "0.750000", "0", "0.000000", "0.000000", "", "inf", "", "")
        + fixed(LONG_WIDTHS, "  physics", "root", "1", "1.000000", "0", "0.000000", "0.000000", "0.500000", "inf", "",
                "")), "")
    assert _run(weighted, "sshare", "-a", "-l", "-P") == (0, (
        "Account|User|RawShares|NormShares|RawUsage|NormUsage|EffectvUsage|FairShare|LevelFS|GrpTRESMins|TRESRunMins\n"
        "root|||0.000000|0||1.000000||||\n"
        " chem||1|0.250000|0|0.000000|0.000000||inf||\n"
        "  chem|root|1|1.000000|0|0.000000|0.000000|1.000000|inf||\n"
        " physics||3|0.750000|0|0.000000|0.000000||inf||\n"
        "  physics|root|1|1.000000|0|0.000000|0.000000|0.500000|inf||\n"), "")
    assert _run(weighted, "sshare", "-p", "-n", "-A", "physics") == (0, (
        "physics||3|0.750000|0|0.000000||\n"
        " physics|root|1|1.000000|0|0.000000|0.500000|\n"), "")
    assert _run(weighted, "sshare", "-P", "-U", "-o", "User,Account,RawShares") == (0, (
        "User|Account|RawShares\nroot|chem|1\nroot|physics|1\n"), "")
    assert _run(weighted, "sshare", "-n", "-A", "CHEM,nosuch", "-o", "acc%-10,fairshare%6") == (0, (
        "chem       " "       \n"
        " chem      " "1e+00 \n"), "")   # (a number too wide for its field: exponent form, cut to fit)


def test_sshare_errors_and_help(weighted):
    assert _run(weighted, "sshare", "-o", "bogus") == (1, "", 'sshare: error: Invalid field requested: "bogus"\n')
    assert _run(weighted, "sshare", "-x") == (
        1, "", "sshare: invalid option -- 'x'\nTry \"sshare --help\" for more information\n")
    assert _run(weighted, "sshare", "-q") == (1, "", "getopt error, returned q\n")
    code, out, err = _run(weighted, "sshare", "--help")
    assert (code, err) == (0, "") and out.splitlines()[0].rstrip() == "Usage:  sshare [OPTION]"
    assert _run(weighted, "sshare", "-e") == (0, (
        "Account           Cluster           EffectvUsage      FairShare        \n"
        "GrpTRESMins       GrpTRESRaw        ID                LevelFS          \n"
        "NormShares        NormUsage         Partition         RawShares        \n"
        "RawUsage          TRESRunMins       User             \n"), "")


# ---------------------------------------------------------------- every weight 0, Classic fair-share

def test_sprio_without_weights_shows_jobid_partition_priority_site(unweighted):
    # (as transcripts 3.05 and 3.07; the priority is JEM's basic one, 1,000,000 less nice)
    assert _run(unweighted, "sprio") == (0, _ids(unweighted, (
        "          JOBID PARTITION   PRIORITY       SITE\n"
        "          {waiting:>5} debug         999995          0\n")), "")
    assert _run(unweighted, "sprio", "-w") == (0, (
        "          JOBID PARTITION   PRIORITY       SITE\n"
        "        Weights                               1\n"), "")
    # -l shows every factor, 0; with -w the unset TRES weights print as Slurm's NULL does (glibc's
    # "(null)"), and the columns without a weight (PARTITION, USER, PRIORITY, NICE) blank.
    assert _run(unweighted, "sprio", "-l", "-w", "-h") == (0, (
        # JOBID, then PARTITION, USER and PRIORITY blank; SITE's weight 1 and six 0 weights; NICE blank
        "        Weights" + " " * (1 + 9 + 1 + 8 + 1 + 10 + 1) + "         1" + " " + " ".join(["         0"] * 6)
        + " " + " " * 11 + " " + "              (null)\n"), "")
    assert _run(unweighted, "sprio", "-n", "-h") == (0, _ids(unweighted, (     # 999995 / (2^32 - 1)
        "          {waiting:>5} debug     0.00023282\n")), "")


def test_sshare_classic(unweighted):
    # Classic: no LevelFS column; NormShares the product of the fractions (the root's 1); an
    # account's FairShare 2^(-EffectvUsage / NormShares); nothing used yet, so EffectvUsage is 0.
    widths = LONG_WIDTHS[:8] + LONG_WIDTHS[9:]
    names = LONG_NAMES[:8] + LONG_NAMES[9:]
    assert _run(unweighted, "sshare", "-l") == (0, (
        fixed(widths, *names) + fixed(widths, *("-" * abs(w) for w in widths))
        + fixed(widths, "root", "", "", "1.000000", "0", "", "0.000000", "1.000000", "", "")
        + fixed(widths, " bio", "", "1", "1.000000", "0", "0.000000", "0.000000", "1.000000", "", "")
        + fixed(widths, "  bio", "root", "1", "1.000000", "0", "0.000000", "0.000000", "1.000000", "", "")), "")


# ---------------------------------------------------------------- usage (last: it changes the factors)

def test_sshare_with_usage(weighted):
    job = slurm(weighted, "sbatch", "--parsable", "-A", "chem", "--wrap", "sleep 2").stdout.strip()
    wait_for_state(weighted, job, {"COMPLETED"})

    def usage() -> str:
        raw = _run(weighted, "sshare", "-P", "-n", "-A", "root", "-o", "RawUsage")[1].strip()
        return raw if raw not in ("", "0") else ""

    wait_for(usage, what="the job's usage")
    out = _run(weighted, "sshare", "-l", "-a", "-o", "Account,User,RawUsage,NormUsage,EffectvUsage,LevelFS,FairShare")
    used = re.match(r"root\s+(\d+)", out[1].splitlines()[2]).group(1)
    # chem holds all the usage: its level fair-share is (1/4 of the shares) / (all the usage) = 0.25,
    # so Fair Tree now visits physics first, whose user gets 2/2, and chem's 1/2.
    widths = (-20, 10, 11, 11, 13, 10, 10)
    assert out == (0, (
        fixed(widths, "Account", "User", "RawUsage", "NormUsage", "EffectvUsage", "LevelFS", "FairShare")
        + fixed(widths, *("-" * abs(w) for w in widths))
        + fixed(widths, "root", "", used, "", "1.000000", "", "")
        + fixed(widths, " chem", "", used, "1.000000", "1.000000", "0.250000", "")
        + fixed(widths, "  chem", "root", used, "1.000000", "1.000000", "1.000000", "0.500000")
        + fixed(widths, " physics", "", "0", "0.000000", "0.000000", "inf", "")
        + fixed(widths, "  physics", "root", "0", "0.000000", "0.000000", "inf", "1.000000")), "")
