"""The REST gateway (`jem gateway`, a real process) in front of a real cluster: jobs submitted, listed,
held, released, explained and cancelled over HTTP with a real JWT, live and finished jobs from one
endpoint, nodes, partitions and associations; every refusal mapped to its HTTP status; the OpenAPI
document it serves is the checked-in one, and valid."""

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from harness import free_port, wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
SLEEP = "#!/bin/sh\nexec sleep 30\n"


class Gateway:
    def __init__(self, cluster, tmp_path):
        address_file = tmp_path / "gateway.addr"
        self.log = open(tmp_path / "gateway.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jem.cli.main", "gateway", "--listen", f"127.0.0.1:{free_port()}",
             "--controller", cluster.address, "--ca-file", cluster.ca_file, "--address-file", str(address_file)],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env={**os.environ, "JEM_CONFIG": ""})
        wait_until(lambda: address_file.exists() or self.process.poll() is not None, what="the gateway's address")
        assert self.process.poll() is None, (tmp_path / "gateway.log").read_text()
        self.base = f"http://{address_file.read_text().strip()}"

    def call(self, verb: str, path: str, *, token: str | None = None, body=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=verb)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def oversized_post(self, path: str, token: str, length: str = str(17 << 20)) -> int:
        """A POST whose Content-Length says `length` (17 MiB), the body never sent: the gateway's status."""
        import http.client

        host, _, port = self.base[len("http://"):].rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest("POST", path)
            connection.putheader("Authorization", f"Bearer {token}")
            connection.putheader("Content-Length", length)
            connection.endheaders()
            return connection.getresponse().status
        finally:
            connection.close()

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


@pytest.fixture
def served(make_cluster, tmp_path):
    """A cluster whose agents run jobs that came with a JWT (REST callers have no user signature), and its gateway."""
    cluster = make_cluster(agent_args=("--unsigned-jobs", "allow")).start()
    gateway = Gateway(cluster, tmp_path)
    try:
        yield cluster, gateway
    finally:
        gateway.stop()


def _token(cluster, user: str = "") -> str:
    with cluster.client() as root:
        return root.issue_token(user=user)[0]


def _spec(cluster, script: str, **fields) -> dict:
    return {"spec": {"script": script, "working_dir": cluster.workdir, "stdout_pattern": "/dev/null", **fields}}


def test_jobs_through_the_rest_api(served):
    cluster, gateway = served
    token = _token(cluster)
    status, submitted = gateway.call("POST", "/v1/jobs", token=token, body=_spec(cluster, SLEEP, name="rest-job"))
    assert status == 200, submitted
    job_id = int(submitted["job_id"])
    in_an_hour = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))   # (released, it still waits)
    status, held = gateway.call("POST", "/v1/jobs", token=token, body=_spec(cluster, SLEEP, hold=True,
                                                                            begin_time=in_an_hour))
    held_id = int(held["job_id"])
    running = wait_until(lambda: (j := gateway.call("GET", f"/v1/jobs/{job_id}", token=token)[1]["job"])["state"]
                         == "JOB_STATE_RUNNING" and j, what="running")
    assert running["spec"]["name"] == "rest-job" and running["user"] == "root"
    status, listing = gateway.call("GET", "/v1/jobs?users=root&states=JOB_STATE_PENDING", token=token)
    assert status == 200 and [int(j["job_id"]) for j in listing["jobs"]] == [held_id]
    assert gateway.call("POST", f"/v1/jobs/{held_id}:release", token=token, body={})[0] == 200
    assert gateway.call("POST", f"/v1/jobs/{held_id}:hold", token=token, body={})[0] == 200
    status, why = gateway.call("GET", f"/v1/jobs/{held_id}:explain", token=token)
    assert status == 200 and int(why["job_id"]) == held_id
    status, cancelled = gateway.call("POST", f"/v1/jobs/{job_id}:cancel", token=token, body={})
    assert status == 200, cancelled
    wait_until(lambda: gateway.call("GET", f"/v1/jobs/{job_id}", token=token)[1]["job"]["state"]
               == "JOB_STATE_CANCELLED", what="cancelled")
    # Live and finished jobs from one endpoint (include_old: also those the controller keeps only in its store).
    status, both = gateway.call("GET", f"/v1/jobs?include_old=true&job_ids={job_id}&job_ids={held_id}", token=token)
    assert status == 200 and sorted(int(j["job_id"]) for j in both["jobs"]) == sorted([job_id, held_id])
    status, nodes = gateway.call("GET", "/v1/nodes", token=token)
    assert status == 200 and sorted(n["name"] for n in nodes["nodes"]) == ["n1", "n2"]
    status, partitions = gateway.call("GET", "/v1/partitions", token=token)
    assert status == 200 and [p["name"] for p in partitions["partitions"]] == ["debug"]
    assert gateway.call("GET", "/v1/associations", token=token)[0] == 200
    assert gateway.call("GET", "/v1/ping", token=token)[1]["cluster_name"] == "test"
    gateway.call("POST", f"/v1/jobs/{held_id}:cancel", token=token, body={})


def test_every_refusal_has_its_http_status(served, stranger):
    cluster, gateway = served
    token, theirs = _token(cluster), _token(cluster, stranger)
    status, error = gateway.call("GET", "/v1/jobs")
    assert status == 401 and error["status"] == "UNAUTHENTICATED"                 # no token: never sent on
    assert gateway.call("GET", "/v1/jobs", token="not.a.jwt")[0] == 401           # the controller refuses it
    assert gateway.call("GET", "/v1/jobs", token="a\x7fb.c")[0] == 401            # not JWT text: never sent on
    status, submitted = gateway.call("POST", "/v1/jobs", token=token, body=_spec(cluster, SLEEP, hold=True))
    job_id = submitted["job_id"]
    status, error = gateway.call("POST", f"/v1/jobs/{job_id}:cancel", token=theirs, body={})
    assert status == 403 and error["reason"] == "NotJobOwner"
    status, error = gateway.call("GET", "/v1/jobs/999999", token=token)
    assert status == 404 and error["reason"] == "JobNotFound"
    assert gateway.call("POST", "/v1/jobs", token=token, raw=b"{not json")[0] == 400
    status, error = gateway.call("POST", "/v1/jobs", token=token, body={"spec": {"no_such_field": 1}})
    assert status == 400 and "no_such_field" in error["message"]
    assert gateway.call("GET", "/v1/jobs?no_such=1", token=token)[0] == 400
    assert gateway.call("GET", "/v1/jobs/abc", token=token)[0] == 400             # (job_id is a number)
    assert gateway.call("DELETE", "/v1/jobs", token=token)[0] == 405
    assert gateway.call("GET", "/v1/nowhere", token=token)[0] == 404
    assert gateway.oversized_post("/v1/jobs", token) == 413   # (answered from its header, the body unread)
    assert gateway.oversized_post("/v1/jobs", token, length="-5") == 400
    assert gateway.oversized_post("/v1/jobs", token, length="many") == 400
    assert gateway.call("GET", f"/v1/jobs/{job_id}", token=token)[0] == 200       # (still serving)
    gateway.call("POST", f"/v1/jobs/{job_id}:cancel", token=token, body={})


def test_the_served_openapi_document_is_the_checked_in_one_and_valid(served):
    from openapi_spec_validator import validate

    _, gateway = served
    status, served_document = gateway.call("GET", "/v1/openapi.json")   # (no token needed for it)
    assert status == 200
    assert served_document == json.loads((ROOT / "docs" / "openapi.json").read_text())
    validate(served_document)
    assert "/v1/jobs/{job_id}:cancel" in served_document["paths"]
