"""The audit trail, against a real cluster: every state-changing request is recorded with its
authenticated principal, peer, a summary of what it asked (never the script) and its result,
refusals included; operators read all of it, users their own, and agents appear as nodes."""

import json
import os
import subprocess
import sys

import pytest

from harness import wait_until
from jem.model.audit import AuditQuery
from jem.model.errors import NotJobOwner
from jem.model.states import JobState

SECRET = "s3cr3t-token-in-the-script"


def test_requests_are_recorded_with_principal_peer_and_result(cluster, stranger):
    with cluster.client() as root:
        roots = root.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
    with cluster.client_as(stranger) as user:
        theirs = user.submit(cluster.spec(f"#!/bin/sh\necho {SECRET}\nsleep 30\n", hold=True, name="mine",
                                          environment={"API_KEY": SECRET}))
        with pytest.raises(NotJobOwner):
            user.cancel(roots)
        user.update(theirs, name="renamed")
        user.cancel(theirs)
    with cluster.client() as root:
        records = wait_until(lambda: _at_least(root.list_audit(AuditQuery(user=stranger)), 4), 10,
                             what="the user's requests in the store")
        methods = [(r.method, r.result, r.job_id) for r in records]
        assert methods == [("SubmitJob", "ok", theirs), ("CancelJob", "NotJobOwner", roots),
                           ("UpdateJob", "ok", theirs), ("CancelJob", "ok", theirs)]
        submit = records[0]
        assert submit.uid == int(_uid(stranger)) and submit.peer.startswith(("ipv4:127.0.0.1", "ipv6:"))
        assert "name=mine" in submit.request and "script=<" in submit.request
        assert all(SECRET not in r.request and SECRET not in r.detail for r in records)
        assert "belongs to root" in records[1].detail
        # Root's own requests, and the agents' reports, are there too.
        assert [r.method for r in root.list_audit(AuditQuery(user="root", job_id=roots))] == ["SubmitJob"]
        root.cancel(roots)
        ran = root.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        assert cluster.wait_job(root, ran).state is JobState.COMPLETED
        reports = wait_until(lambda: [r for r in root.list_audit(AuditQuery(job_id=ran)) if r.user.startswith("node:")],
                             10, what="the agent's report in the trail")
        assert reports[0].method == "ReportJobEvents" and reports[0].result == "ok"
    assert f"audit user={stranger}" in cluster.log("controller.log")   # and a structured log line each


def test_users_read_only_their_own_records(cluster, stranger):
    with cluster.client() as root:
        root.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
    with cluster.client_as(stranger) as user:
        user.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
        mine = wait_until(lambda: user.list_audit(), 10, what="the user's own record")
        assert {r.user for r in mine} == {stranger}
        assert user.list_audit(AuditQuery(user="root")) == []


def test_jem_audit_prints_the_trail(cluster):
    with cluster.client() as root:
        job_id = root.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
        wait_until(lambda: root.list_audit(AuditQuery(job_id=job_id)), 10, what="the record")
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.state_dir, "client.toml"))
    out = subprocess.run([sys.executable, "-m", "jem.cli.main", "audit", "--job", str(job_id), "--since", "1h",
                          "--json"], env=env, capture_output=True, text=True, check=True).stdout
    records = json.loads(out)["records"]
    assert [(r["method"], r["result"], r["job_id"], r["user"]) for r in records] == [("SubmitJob", "ok", job_id, "root")]
    table = subprocess.run([sys.executable, "-m", "jem.cli.main", "audit", "-j", str(job_id)], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert table.splitlines()[0].split()[:4] == ["TIME", "USER", "PEER", "METHOD"] and "SubmitJob" in table


def _at_least(records: list, n: int) -> list | None:
    return records if len(records) >= n else None


def _uid(user: str) -> int:
    import pwd
    return pwd.getpwnam(user).pw_uid
