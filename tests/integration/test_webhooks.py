"""Job-event webhooks on a real cluster, to a local HTTP receiver: each job's events arrive signed
(HMAC-SHA256 of "timestamp.body", checked here with the standard library alone) and in order; a
receiver that checks the signature rejects a tampered body; a receiver that is down, then hangs,
never holds the controller up (it answers, jobs start and end) and gets every event once it
answers, after retries; a secret file others could read keeps the controller from starting."""

import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import LocalCluster, free_port, wait_until
from jem.model.states import JobState

pytestmark = pytest.mark.integration

SECRET = b"0123456789abcdef0123456789abcdef"
REPLAY_WINDOW_S = 300


def is_authentic(headers, body: bytes) -> bool:
    """What a receiver checks (docs/configuration.md): a recent timestamp, and the signature of
    "timestamp.body" under the shared secret, compared in constant time."""
    stamp, given = headers.get("X-JEM-Timestamp", ""), headers.get("X-JEM-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > REPLAY_WINDOW_S:
        return False
    expected = "sha256=" + hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class Receiver:
    """A webhook receiver in a thread: records every request; refuses (401) one whose signature
    does not check; while `hanging` is set, holds each request without an answer."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.hanging = threading.Event()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                authentic = is_authentic(self.headers, body)
                receiver.requests.append({"headers": self.headers, "body": body, "is_authentic": authentic})
                if receiver.hanging.is_set():
                    receiver.released.wait(60)
                self.send_response(200 if authentic else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jem"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, job_id: int) -> list[str]:
        """The job's events, each once (a retried one where it first came), in arrival order."""
        seen, events = set(), []
        for request in list(self.requests):
            body = json.loads(request["body"])
            if body["job"]["job_id"] == job_id and body["id"] not in seen:
                seen.add(body["id"])
                events.append(body["event"])
        return events

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def write_secret(root: str, mode: int = 0o600) -> str:
    path = os.path.join(root, "webhook.key")
    with open(path, "wb") as f:
        f.write(SECRET + b"\n")
    os.chmod(path, mode)
    return path


def webhook_config(url: str, secret_file: str, **settings) -> str:
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    return f'\n[webhook]\nurl = "{url}"\nsecret_file = "{secret_file}"\n{lines}'


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, receiver):
    root = str(tmp_path_factory.mktemp("webhook"))
    c = LocalCluster(root, n_nodes=1, extra_config=webhook_config(receiver.url, write_secret(root)))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_job_events_arrive_signed_and_in_order(cluster, receiver):
    with cluster.client() as client:
        plain = client.submit(cluster.spec("#!/bin/sh\nexit 4\n", name="hooked"))
        held = client.submit(cluster.spec("#!/bin/sh\ntrue\n", hold=True))
        client.release(held)
        for job_id in (plain, held):
            cluster.wait_job(client, job_id)
    wait_until(lambda: receiver.events(plain)[-1:] == ["ended"] and receiver.events(held)[-1:] == ["ended"], 30,
               what="the jobs' ended events")
    assert receiver.events(plain) == ["submitted", "started", "ended"]
    assert receiver.events(held) == ["submitted", "released", "started", "ended"]
    mine = [r for r in receiver.requests if json.loads(r["body"])["job"]["job_id"] in (plain, held)]
    assert all(r["is_authentic"] for r in mine)
    bodies = [json.loads(r["body"]) for r in mine]
    assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)
    assert all(r["headers"]["X-JEM-Event-Id"] == b["id"] and r["headers"]["X-JEM-Event"] == b["event"]
               for r, b in zip(mine, bodies))
    ended = next(b for b in bodies if b["job"]["job_id"] == plain and b["event"] == "ended")
    assert (ended["job"]["state"], ended["job"]["exit_code"], ended["job"]["name"]) == ("FAILED", 4, "hooked")
    assert (ended["job_event"], ended["cluster"], ended["job"]["user"]) == ("fail", "test", "root")
    assert "script" not in json.dumps(ended) and "environment" not in json.dumps(ended)


def _post(url: str, headers: dict, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_receiver_that_checks_refuses_a_tampered_body(cluster, receiver):
    with cluster.client() as client:
        job_id = client.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        cluster.wait_job(client, job_id)
    wait_until(lambda: "ended" in receiver.events(job_id), 30, what="the ended event")
    sent = next(r for r in receiver.requests if json.loads(r["body"])["job"]["job_id"] == job_id
                and json.loads(r["body"])["event"] == "ended")
    headers = {k: v for k, v in sent["headers"].items() if k.lower().startswith("x-jem-")}
    tampered = sent["body"].replace(b'"state":"COMPLETED"', b'"state":"FAILED"')
    assert tampered != sent["body"]
    assert _post(receiver.url, headers, tampered) == 401
    stamp = sent["headers"]["X-JEM-Timestamp"]   # (headers are case-blind: urllib sends X-jem-timestamp)
    others = {k: v for k, v in headers.items() if k.lower() != "x-jem-timestamp"}
    assert _post(receiver.url, {**others, "X-JEM-Timestamp": str(int(stamp) + 1)}, sent["body"]) == 401
    assert _post(receiver.url, {**others, "X-JEM-Timestamp": str(int(time.time()) - 2 * REPLAY_WINDOW_S)},
                 sent["body"]) == 401
    assert _post(receiver.url, headers, sent["body"]) == 200


def test_a_down_or_hanging_receiver_never_holds_the_controller_up(tmp_path):
    root = str(tmp_path)
    port = free_port()   # (nothing listens there yet: the receiver is down)
    url = f"http://127.0.0.1:{port}/jem"
    c = LocalCluster(root, n_nodes=1, cpus=4, extra_config=webhook_config(
        url, write_secret(root), timeout_s=1, retry_delay_s=0.2, max_retry_delay_s=0.5, max_attempts=1000))
    receiver = None
    try:
        c.start()
        with c.client() as client:
            down = [client.submit(c.spec("#!/bin/sh\ntrue\n")) for _ in range(3)]
            assert all(c.wait_job(client, job_id).state is JobState.COMPLETED for job_id in down)
            receiver = Receiver(port)
            receiver.hanging.set()
            wait_until(lambda: receiver.requests, 30, what="a first delivery to the hanging receiver")
            hung = [client.submit(c.spec("#!/bin/sh\ntrue\n")) for _ in range(3)]
            assert all(c.wait_job(client, job_id).state is JobState.COMPLETED for job_id in hung)
            assert client.list_nodes()   # (still answering while the webhook worker waits)
            wait_until(lambda: len(receiver.requests) >= 2, 30, what="a retry after the hanging attempt")
        receiver.hanging.clear()
        receiver.released.set()
        for job_id in down + hung:
            wait_until(lambda: receiver.events(job_id) == ["submitted", "started", "ended"], 60,
                       what=f"job {job_id}'s events")
        ids = [json.loads(r["body"])["id"] for r in receiver.requests]
        assert len(ids) > len(set(ids))   # (the attempts that hung were tried again)
        assert all(r["is_authentic"] for r in receiver.requests)
    finally:
        if receiver is not None:
            receiver.stop()
        c.stop()


def test_a_secret_file_others_may_read_keeps_the_controller_from_starting(tmp_path):
    root = str(tmp_path)
    c = LocalCluster(root, n_nodes=1, extra_config=webhook_config("http://127.0.0.1:9/x",
                                                                  write_secret(root, mode=0o644)))
    try:
        with pytest.raises(AssertionError):
            c.start_controller()
        assert c.controller.wait(30) == 1
        log = c.log("controller.log")
        assert "webhook.secret_file" in log and "readable by it alone" in log, log
    finally:
        c.stop()
