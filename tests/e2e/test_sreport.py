"""sreport against a `jem up` cluster: Slurm 22.05's layouts (the real command's captures in
tests/e2e/golden/sreport.json are the reference) and figures that follow from the jobs' own
start and end times.

Jobs run in accounts phys, lab (under phys) and jem; one of 16 CPUs waits for all the others
to end. The reports' period is the hour the test runs in (sreport's periods are whole hours);
each expected figure is the jobs' CPUs times the part of their run within that period.

Recapture the golden file with the real Slurm first on PATH and JEM's shims off it, on a
cluster whose accounting holds jobs in the hour given (several accounts, a sub-account, some
waiting), e.g. after `bash ../shared/slurm-ref/up.sh` and a few `sbatch -A ...` jobs:

    python tests/e2e/test_sreport.py tests/e2e/golden/sreport.json 2026-12-07T15:00 2026-12-07T16:00 jemref
"""

import datetime as dt
import json
import os
import pwd
import re
import subprocess
import sys
import time

import pytest

ME = pwd.getpwuid(os.getuid()).pw_name   # (the golden file was captured as root)
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sreport.json")
N_CPUS = 16   # 4 nodes of 4 CPUs

# (name, argv before the period's words, stdin); argv with "{period}" gets the period's two words there.
CASES = [
    ("util", ["cluster", "utilization", "{period}"], None),
    ("util_seconds", ["-t", "seconds", "cluster", "utilization", "{period}"], None),
    ("util_percent", ["-t", "percent", "cluster", "utilization", "{period}"], None),
    ("util_minper", ["-t", "minper", "cluster", "utilization", "{period}"], None),
    ("util_hourper", ["-t", "hourper", "cluster", "utilization", "{period}"], None),
    ("util_format", ["cluster", "utilization", "{period}", "format=cl,al,d,pl,i,res,rep,over,count"], None),
    ("util_format_widths", ["cluster", "utilization", "{period}",
                            "format=cl%20,al%20,d%-12,over,count,tresname,planned,reserved,ac"], None),
    ("util_parsable2", ["-P", "cluster", "utilization", "{period}"], None),
    ("util_parsable_noheader", ["-p", "-n", "-t", "sec", "cluster", "utilization", "{period}"], None),
    ("util_tres", ["-T", "cpu", "cluster", "utilization", "{period}"], None),
    ("util_other_cluster", ["cluster", "utilization", "{period}", "clusters=nope"], None),
    ("au", ["cluster", "AccountUtilizationByUser", "{period}"], None),
    ("au_tree", ["cluster", "AccountUtilizationByUser", "{period}", "tree"], None),
    ("au_seconds", ["-t", "sec", "cluster", "AccountUtilizationByUser", "{period}", "tree"], None),
    ("au_percent", ["-t", "percent", "cluster", "AccountUtilizationByUser", "{period}"], None),
    ("au_parsable", ["-p", "-t", "sec", "cluster", "AccountUtilizationByUser", "{period}", "tree"], None),
    ("au_noheader", ["-n", "-t", "sec", "cluster", "AccountUtilizationByUser", "{period}", "tree"], None),
    ("au_format", ["-t", "sec", "cluster", "AccountUtilizationByUser", "{period}",
                   "format=login%5,ac%-10,used%3,cluster,count,al", "tree"], None),
    ("au_tres", ["-T", "cpu", "-t", "sec", "cluster", "AccountUtilizationByUser", "{period}"], None),
    ("au_accounts_tree", ["-t", "sec", "cluster", "AccountUtilizationByUser", "{period}", "accounts=jem,lab",
                          "tree"], None),
    ("au_users_tree", ["-t", "sec", "cluster", "AccountUtilizationByUser", "{period}", f"users={ME}", "tree"], None),
    ("ua", ["cluster", "UserUtilizationByAccount", "{period}"], None),
    ("ua_seconds", ["-t", "sec", "cluster", "UserUtilizationByAccount", "{period}"], None),
    ("ua_minper", ["-t", "minper", "cluster", "UserUtilizationByAccount", "{period}"], None),
    ("ua_sort_name", ["-s", "name", "-t", "sec", "cluster", "UserUtilizationByAccount", "{period}"], None),
    ("top", ["user", "top", "{period}"], None),
    ("top_seconds", ["-t", "sec", "user", "topusage", "{period}"], None),
    ("top_group", ["-t", "sec", "user", "top", "{period}", "group"], None),
    ("top_count", ["-t", "sec", "user", "top", "{period}", "topcount=1"], None),
    ("top_count_zero", ["-t", "sec", "user", "top", "{period}", "topcount=0"], None),
    ("top_parsable2", ["-P", "-t", "sec", "user", "top", "{period}", "group"], None),
    ("top_format", ["-t", "sec", "user", "top", "{period}", "format=login,used%20,account%-12,proper"], None),
    ("top_tres", ["-T", "cpu", "-t", "sec", "user", "top", "{period}"], None),
    ("interactive", [], "time seconds\nbogus\ncluster utilization {period} format=cl\n"),
    # Errors: what reaches stderr, and the exit code.
    ("help", ["--help"], None),
    ("usage", ["--usage"], None),
    ("bad_option", ["--bogus"], None),
    ("bad_time_format", ["-t", "bogus", "cluster", "utilization", "{period}"], None),
    ("bad_cluster_report", ["cluster", "bogus"], None),
    ("bad_user_report", ["user", "bogus"], None),
    ("bad_keyword", ["bogus"], None),
    ("too_few_words", ["cluster"], None),
    ("bad_condition", ["cluster", "utilization", "{period}", "bogus=1"], None),
    ("bad_field", ["cluster", "utilization", "{period}", "format=bogus,cl"], None),
    ("bad_top_count", ["-t", "sec", "user", "top", "{period}", "topcount=x"], None),
]
_PERIOD_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d - \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def argv_of(argv: list[str], period: list[str]) -> list[str]:
    out = []
    for word in argv:
        out.extend(period if word == "{period}" else [word])
    return out


def normalized(text: str, cluster: str) -> str:
    """The period's stamps as <period>, the cluster's name as CLUSTER (right-justified in the
    same width where it was padded)."""
    text = _PERIOD_TEXT.sub("<period>", text)
    return re.sub(rf"( *)\b{re.escape(cluster)}\b(?=[ |\n]|$)",
                  lambda m: "CLUSTER".rjust(len(m.group(0))) if m.group(1) else "CLUSTER", text)


def capture(path: str, start: str, end: str, cluster: str) -> None:
    """Run every case with the real sreport (first on PATH) over [start, end) and write the golden file."""
    period = [f"start={start}", f"end={end}"]
    golden = {}
    for name, argv, stdin in CASES:
        stdin_text = stdin.replace("{period}", " ".join(period)) if stdin else None
        done = subprocess.run(["sreport", *argv_of(argv, period)], input=stdin_text, capture_output=True, text=True,
                              timeout=60)
        golden[name] = {"stdout": normalized(done.stdout, cluster), "stderr": normalized(done.stderr, cluster),
                        "returncode": done.returncode}
    with open(path, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    capture(*sys.argv[1:5])
    sys.exit(0)

# ---------------------------------------------------------------- the cluster (pytest only from here)

from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for  # noqa: E402

CLUSTER = "local"   # `jem up`'s [cluster] name


def _stamp(text: str) -> int:
    return int(time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%S")))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("sreport")), n_nodes=4)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def jobs(cluster):
    """Run the jobs; returns (the period's start words, [(account, cpus, submit, start, end)])."""
    assert slurm(cluster, "sacctmgr", "-i", "add", "account", "phys", "jem").returncode == 0
    assert slurm(cluster, "sacctmgr", "-i", "add", "account", "lab", "parent=phys").returncode == 0
    assert slurm(cluster, "sacctmgr", "-i", "add", "user", ME, "account=phys,lab,jem").returncode == 0
    first = time.time()
    ids = []
    for account, n_cpus, seconds in (("phys", 2, 3), ("lab", 3, 2), ("jem", 1, 4), ("jem", N_CPUS, 1)):
        done = slurm(cluster, "sbatch", "--parsable", "-A", account, "-n", str(n_cpus), "-o", "/dev/null",
                     "--wrap", f"sleep {seconds}")
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())

    def ended():
        out = slurm(cluster, "sacct", "-X", "-n", "-P", "-j", ",".join(ids),
                    "-o", "JobID,Account,AllocCPUS,Submit,Start,End,State").stdout.splitlines()
        rows = [line.split("|") for line in out]
        return rows if len(rows) == len(ids) and all(r[6] == "COMPLETED" for r in rows) else None

    rows = wait_for(ended, timeout_s=60, what="the jobs to complete")
    hour = dt.datetime.fromtimestamp(first).replace(minute=0, second=0, microsecond=0)
    runs = [(account, int(cpus), _stamp(submit), _stamp(start), _stamp(end))
            for _, account, cpus, submit, start, end, _ in rows]
    return hour.strftime("%Y-%m-%dT%H:%M:%S"), runs


def sreport(cluster, *argv: str, stdin: str | None = None):
    return subprocess.run(["sreport", *argv], input=stdin, capture_output=True, text=True, env=cluster["env"],
                          cwd=cluster["root"], timeout=60)


def period_words(jobs) -> list[str]:
    return [f"start={jobs[0]}", "end=now"]


def period_of(output: str) -> tuple[int, int]:
    """The period a report's header names (its end is printed a second early)."""
    first, last = _PERIOD_TEXT.search(output).group(0).split(" - ")
    return _stamp(first), _stamp(last) + 1


def overlap(a: int, b: int, first: int, last: int) -> int:
    return max(0, min(b, last) - max(a, first))


def used(runs, first: int, last: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    for account, n_cpus, _, start, end in runs:
        totals[account] = totals.get(account, 0) + n_cpus * overlap(start, end, first, last)
    return totals


# ---------------------------------------------------------------- figures

def test_account_utilization_by_user_sums_the_jobs_runs_within_the_period_in_the_tree(cluster, jobs):
    done = sreport(cluster, "-t", "seconds", "cluster", "AccountUtilizationByUser", *period_words(jobs), "tree")
    first, last = period_of(done.stdout)
    assert last - first == 3600 and f"({last - first} secs)" in done.stdout
    by_account = used(jobs[1], first, last)
    quiet = sreport(cluster, "-P", "-n", "-t", "seconds", "cluster", "AccountUtilizationByUser",
                    *period_words(jobs), "tree")
    proper = pwd.getpwnam(ME).pw_gecos.split(",")[0]
    phys = by_account["phys"] + by_account["lab"]
    assert quiet.stdout.splitlines() == [
        f"{CLUSTER}|root|||{phys + by_account['jem']}|0",
        f"{CLUSTER}| jem|||{by_account['jem']}|0",
        f"{CLUSTER}|  jem|{ME}|{proper}|{by_account['jem']}|0",
        f"{CLUSTER}| phys|||{phys}|0",
        f"{CLUSTER}|  phys|{ME}|{proper}|{by_account['phys']}|0",
        f"{CLUSTER}|  lab|||{by_account['lab']}|0",
        f"{CLUSTER}|   lab|{ME}|{proper}|{by_account['lab']}|0"]
    only_phys = sreport(cluster, "-P", "-n", "-t", "seconds", "cluster", "AccountUtilizationByUser",
                        *period_words(jobs), "accounts=phys")
    assert [line.split("|")[1:3] for line in only_phys.stdout.splitlines()] == [
        ["phys", ""], ["phys", ME], ["lab", ""], ["lab", ME]]


def test_user_reports_list_the_most_used_first(cluster, jobs):
    done = sreport(cluster, "-P", "-n", "-t", "seconds", "cluster", "UserUtilizationByAccount",
                   *period_words(jobs))
    first, last = period_of(sreport(cluster, "cluster", "UserUtilizationByAccount", *period_words(jobs)).stdout)
    by_account = used(jobs[1], first, last)
    tree_order = ["jem", "phys", "lab"]   # (ties keep it)
    expected = sorted(by_account.items(), key=lambda item: (-item[1], tree_order.index(item[0])))
    assert [(line.split("|")[3], int(line.split("|")[4])) for line in done.stdout.splitlines()] == expected
    grouped = sreport(cluster, "-P", "-n", "-t", "seconds", "user", "top", *period_words(jobs), "group")
    assert grouped.stdout.splitlines() == [
        f"{CLUSTER}|{ME}|{pwd.getpwnam(ME).pw_gecos.split(',')[0]}|{', '.join(a for a, _ in expected)}|"
        f"{sum(by_account.values())}|0"]
    assert sreport(cluster, "-P", "-n", "user", "top", *period_words(jobs), "users=nobody").stdout == ""


def test_cluster_utilization_counts_allocated_planned_and_idle_cpu_time(cluster, jobs):
    before = int(time.time())
    done = sreport(cluster, "-P", "-n", "-t", "seconds", "cluster", "utilization", *period_words(jobs),
                   "format=cl,al,d,pl,i,res,rep,over,count")
    after = int(time.time())
    first, last = period_of(sreport(cluster, "cluster", "utilization", *period_words(jobs)).stdout)
    name, allocated, down, planned_down, idle, planned, reported, over, count = done.stdout.strip().split("|")
    runs = jobs[1]
    assert (name, int(count), int(down), int(planned_down), int(over)) == (CLUSTER, N_CPUS, 0, 0, 0)
    assert int(allocated) == sum(used(runs, first, last).values())
    # Each job waited from its submission to its start (the big one for all the others).
    assert int(planned) == sum(n * overlap(submit, start, first, last) for _, n, submit, start, _ in runs)
    assert int(planned) >= N_CPUS
    assert N_CPUS * (min(before, last) - first) <= int(reported) <= N_CPUS * (min(after, last) - first)
    assert int(reported) == int(allocated) + int(idle) + int(planned)


# ---------------------------------------------------------------- Slurm's layouts

def _golden() -> dict:
    with open(GOLDEN) as f:
        return json.load(f)


def _cell_kind(text: str) -> str:
    text = text.strip()
    for kind, pattern in (("", r""), ("int", r"\d+"), ("percent", r"\d+\.\d\d%"), ("pair", r"\d+\(\d+\.\d\d%\)")):
        if re.fullmatch(pattern, text):
            return kind
    return "text"


def _split(line: str, dashes: str) -> list[str]:
    """A fixed-width line's cells, by the spans of the dashes line."""
    cells, pos = [], 0
    for width in (len(d) for d in dashes.split(" ") if d):
        cells.append(line[pos:pos + width])
        assert line[pos + width:pos + width + 1] == " ", f"{line!r}: no space after a {width}-wide cell"
        pos += width + 1
    assert len(line) == pos, f"{line!r} is not {pos} wide"
    return cells


def _rows_alike(ours: list[str], theirs: list[str], dashes: str | None) -> None:
    """Each of our rows has the columns Slurm's have: the same widths, and in each column a cell
    of a kind (blank, text, a number, a percentage) and justification seen there in Slurm's."""
    def shapes(lines):
        for line in lines:
            cells = _split(line, dashes) if dashes else line.split("|")
            yield [(_cell_kind(c), "left" if c[:1] != " " and c[-1:] == " " else "right") for c in cells]

    seen: dict[int, set] = {}
    for shape in shapes(theirs):
        for i, cell in enumerate(shape):
            seen.setdefault(i, set()).add(cell)
    for line, shape in zip(ours, shapes(ours)):
        assert len(shape) == len(seen), f"{line!r} has {len(shape)} cells, Slurm's rows {len(seen)}"
        for i, cell in enumerate(shape):
            assert cell[0] == "" or cell in seen[i], f"{line!r}: cell {i} is {cell}, Slurm's are {seen[i]}"


# -n's rows have the columns of the same report with a header.
NO_HEADER_TWINS = {"au_noheader": "au_seconds"}


def _compare(ours: str, theirs: str, *, columns_from: str | None = None) -> None:
    """Every line but the data rows exactly; the data rows by their columns (`_rows_alike`), which
    the dashes line of `columns_from` gives when `theirs` has none."""
    ours_lines, their_lines = ours.splitlines(), theirs.splitlines()
    dashes = next((line for line in their_lines if re.fullmatch(r"(-+ )+", line)), None)
    if columns_from is not None:
        twin_dashes = next(line for line in columns_from.splitlines() if re.fullmatch(r"(-+ )+", line))
        assert ours_lines and not any(re.fullmatch(r"(-+ )+", line) for line in ours_lines)
        _rows_alike(ours_lines, their_lines, twin_dashes)
        return
    if dashes is not None:
        head = their_lines.index(dashes) + 1
    elif their_lines and their_lines[0].startswith("-" * 80):
        head = 5 if len(their_lines) > 4 and "|" in their_lines[4] else 4
    else:
        head = 0
    assert ours_lines[:head] == their_lines[:head]
    if dashes is not None or "|" in theirs:
        _rows_alike(ours_lines[head:], their_lines[head:], dashes)


@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_the_layout_is_slurms(cluster, jobs, name):
    argv, stdin = next((argv, stdin) for case, argv, stdin in CASES if case == name)
    expected = _golden()[name]
    period = period_words(jobs)
    stdin = stdin.replace("{period}", " ".join(period)) if stdin else None
    done = sreport(cluster, *argv_of(argv, period), stdin=stdin)
    ours = {"stdout": normalized(done.stdout, CLUSTER), "stderr": normalized(done.stderr, CLUSTER),
            "returncode": done.returncode}
    assert (ours["stderr"], ours["returncode"]) == (expected["stderr"], expected["returncode"])
    if name in ("help", "usage") or not expected["stdout"]:   # no report: the text itself
        assert done.stdout == expected["stdout"]
        return
    if name == "interactive":
        # The prompts and echoed lines, then the report: the cluster's row is the data.
        def lines(text: str) -> list[str]:
            return [re.sub(r"start=\S+ end=\S+", "<period words>", line) for line in text.splitlines()
                    if "CLUSTER" not in line]

        assert lines(ours["stdout"]) == lines(expected["stdout"])
        return
    twin = _golden()[NO_HEADER_TWINS[name]]["stdout"] if name in NO_HEADER_TWINS else None
    _compare(ours["stdout"], expected["stdout"], columns_from=twin)
    assert ("CLUSTER" in ours["stdout"]) == ("CLUSTER" in expected["stdout"])


def test_version_and_the_default_period(cluster):
    assert sreport(cluster, "-V").stdout == "slurm 22.05.8\n"
    header = sreport(cluster, "cluster", "utilization").stdout.splitlines()[1]
    today = dt.date.today()
    yesterday = today - dt.timedelta(days=1)
    assert header == f"Cluster Utilization {yesterday}T00:00:00 - {yesterday}T23:59:59"


def test_start_and_end_round_to_the_nearest_hour_and_span_one_at_least(cluster):
    header = sreport(cluster, "cluster", "utilization", "start=2026-01-05T10:29:29",
                     "end=2026-01-05T12:29:31").stdout.splitlines()[1]
    assert header == "Cluster Utilization 2026-01-05T10:00:00 - 2026-01-05T12:59:59"
    header = sreport(cluster, "user", "top", "start=2026-01-05T10:31", "end=2026-01-06T01:10").stdout.splitlines()[1]
    assert header == "Top 10 Users 2026-01-05T11:00:00 - 2026-01-06T00:59:59 (50400 secs)"
    header = sreport(cluster, "user", "top", "start=2026-01-05T10:10", "end=2026-01-05T10:20").stdout.splitlines()[1]
    assert header == "Top 10 Users 2026-01-05T10:00:00 - 2026-01-05T10:59:59 (3600 secs)"
