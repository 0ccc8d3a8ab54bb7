"""The Slurm-compatible commands against golden outputs captured from a real Slurm 22.05.

golden/slurm.json was made by `slurm_cases.py` (see its docstring) on the
reference Slurm in ../shared/slurm-ref; this module runs the same command
lines against a `jem up` cluster and compares stdout, stderr and exit code
after the same normalization (job ids, times, user, working directory).
The cases in slurm_cases.PENDING_CASES are skipped (JEM does not match them yet);
JEM_GOLDEN_PENDING=1 runs them too.
"""

import json
import os
import pwd
import re
import shutil
import tempfile

import pytest
import slurm_cases
from slurm_cluster import slurm, start_cluster, stop_cluster, wait_for_state

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "golden", "slurm.json")))
RUN_PENDING = os.environ.get("JEM_GOLDEN_PENDING") == "1"


@pytest.fixture(scope="module")
def cluster():
    # A short working directory: sacct's WorkDir column is 20 wide, and the golden file's was short.
    root = tempfile.mkdtemp(prefix="jemg", dir="/tmp")
    cluster = start_cluster(root)
    try:
        cluster["ids"] = slurm_cases.submit_setup(env=cluster["env"], cwd=cluster["root"])
        for name in ("failed", "done"):
            wait_for_state(cluster, cluster["ids"][name], {"FAILED", "COMPLETED"})
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)


def _all_job_ids(cluster) -> list[str]:
    return slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout.split()


@pytest.mark.parametrize("name", list(GOLDEN))
def test_output_matches_real_slurm(cluster, name):
    if name in slurm_cases.PENDING_CASES and not RUN_PENDING:
        pytest.skip("JEM does not match yet: issue 12")
    case = GOLDEN[name]
    slurm_cases.prepare_case(case["argv"], cluster["ids"], env=cluster["env"], cwd=cluster["root"])
    before = _all_job_ids(cluster) if name.startswith("sbatch_error") else None
    result = slurm_cases.run_case(case["argv"], case["stdin"], cluster["ids"], env=cluster["env"],
                                  cwd=cluster["root"])
    user = pwd.getpwuid(os.getuid()).pw_name
    got = slurm_cases.compared(name, result, {}, user=user, cwd=cluster["root"])
    assert got["rc"] == case["rc"]
    for stream in ("stdout", "stderr"):
        if not re.fullmatch(slurm_cases.expected_pattern(case[stream], cluster["ids"]), got[stream]):
            assert got[stream] == case[stream]  # shows the difference
    if before is not None:
        assert result["rc"] != 0 and _all_job_ids(cluster) == before  # a refused submission leaves no job
