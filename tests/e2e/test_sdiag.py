"""sdiag against a `jem up` cluster: Slurm 22.05's layout (the blocks, their labels, the RPC lines'
columns), counters that move with the jobs and calls made, the reset and who may make it."""

import re

import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for, wait_for_state

ENDED = {"COMPLETED", "FAILED", "CANCELLED"}
STAMP = r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4} \(\d+\)"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("sdiag")), n_nodes=1)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def sdiag(cluster, *argv: str) -> dict:
    """sdiag's `Label: value` lines as a dict (the first of each label), its RPC lines by block."""
    done = slurm(cluster, "sdiag", *argv)
    assert done.returncode == 0, done.stderr
    values, rpcs, block = {}, {"type": [], "user": []}, ""
    for line in done.stdout.splitlines():
        if line.startswith("Remote Procedure Call statistics by "):
            block = line.rsplit(" ", 1)[1].replace("message", "type")
        elif block in rpcs and line.startswith("\t") and " count:" in line:
            rpcs[block].append(line)
        elif ":" in line:
            label, _, value = line.strip().partition(":")
            values.setdefault(label, value.strip())
    return {"text": done.stdout, "values": values, "rpcs": rpcs}


def rpc_line(lines: list[str], name: str) -> re.Match | None:
    for line in lines:
        found = re.fullmatch(rf"\t{re.escape(name)}\s*\(\s*(\d+)\) count:(\d+)\s* ave_time:(\d+)\s* total_time:(\d+)",
                             line)
        if found:
            return found
    return None


def test_the_layout_and_counters_that_move_with_jobs_and_calls(cluster):
    before = sdiag(cluster)
    text = before["text"]
    assert re.match(rf"\*{{55}}\nsdiag output at {STAMP}\nData since      {STAMP}\n\*{{55}}\n"
                    r"Server thread count:  \d+\nAgent queue size:     0\nAgent count:          \d+\n"
                    r"Agent thread count:   \d+\nDBD Agent queue size: 0\n\n", text)
    for block in ("\n\nMain schedule statistics (microseconds):\n\tLast cycle:   ", "\n\nBackfilling stats\n",
                  "\n\nRemote Procedure Call statistics by message type\n",
                  "\n\nRemote Procedure Call statistics by user\n", "\n\nPending RPC statistics\n\tNo pending RPCs\n"):
        assert block in text
    assert re.search(r"\nLatency for 1000 calls to gettimeofday\(\): \d+ microseconds\n", text)

    job_ids = [slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", command).stdout.strip()
               for command in ("true", "exit 3")]
    assert [wait_for_state(cluster, job_id, ENDED) for job_id in job_ids] == ["COMPLETED", "FAILED"]
    after = wait_for(lambda: (d := sdiag(cluster))["values"]["Total cycles"] != before["values"]["Total cycles"]
                     and d, what="a scheduling cycle counted")
    was, now = before["values"], after["values"]
    for label, more in (("Jobs submitted", 2), ("Jobs started", 2), ("Jobs completed", 1), ("Jobs failed", 1)):
        assert int(now[label]) == int(was[label]) + more, label
    assert int(now["Max cycle"]) >= int(now["Last cycle"]) > 0
    submits = rpc_line(after["rpcs"]["type"], "SubmitJob")
    assert submits and int(submits[2]) >= 2 and int(submits[4]) >= int(submits[3]) > 0
    root = rpc_line(after["rpcs"]["user"], "root")
    assert root and root[1] == "0"
    counts = [int(rpc_line([line], line.split("(")[0].strip())[2]) for line in after["rpcs"]["type"]]
    assert counts == sorted(counts, reverse=True)   # (by count, the default order)


def test_root_resets_the_counters(cluster):
    slurm(cluster, "sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true")
    done = slurm(cluster, "sdiag", "-r")
    assert (done.returncode, done.stdout) == (0, "Reset scheduling statistics\n")
    values = sdiag(cluster)
    assert values["values"]["Jobs submitted"] == "0" and rpc_line(values["rpcs"]["type"], "SubmitJob") is None
    assert [line.split("(")[0].strip() for line in values["rpcs"]["type"]] == ["GetDiagnostics"]


def test_version_help_and_unknown_options(cluster):
    assert slurm(cluster, "sdiag", "-V").stdout == "slurm 22.05.8\n"
    assert slurm(cluster, "sdiag", "--usage").stdout == "Usage: sdiag [-M cluster] [-aritT]\n"
    assert slurm(cluster, "sdiag", "--help").stdout.startswith("Usage: sdiag [OPTIONS]\n  -a, --all  ")
    bogus = slurm(cluster, "sdiag", "--bogus")
    assert (bogus.returncode, bogus.stderr) == (
        1, "sdiag: unrecognized option '--bogus'\nTry \"sdiag --help\" for more information\n")


def test_another_user_may_look_but_not_reset(cluster, other_user):
    python = python_for_others()
    looked = python and as_user(cluster, other_user, "sdiag", python=python)
    if not looked or looked.returncode != 0:
        pytest.skip(f"no Python this checkout runs under that another user may run: {looked and looked.stderr}")
    assert re.search(rf"\n\t{other_user.pw_name}\s*\(\s*{other_user.pw_uid}\) count:1 ", looked.stdout)
    refused = as_user(cluster, other_user, "sdiag", "-r", python=python)
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        255, "", "slurm_reset_statistics: Access/permission denied\n")
    assert rpc_line(sdiag(cluster)["rpcs"]["user"], other_user.pw_name) is not None   # (not reset)
