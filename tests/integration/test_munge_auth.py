"""A controller with `[auth] method = "munge"` against a real private munged: a MUNGE credential
makes its caller munged's uid, and every credential munged or the controller should refuse is
refused, each beside the honest path.

Credentials of a second Unix user are made by a child process running as that user
(`/usr/bin/python3` with this checkout on PYTHONPATH: jem.security.munge needs only ctypes).
"""

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import time

import grpc
import pytest

from harness import LocalCluster
from jem.model.errors import ControllerNotReady, Unauthenticated
from jem.security import munge
from jem.security.munged import find_munged, start_munged
from jem.v1 import jobs_pb2
from test_security import SYSTEM_PYTHON, job_stub, submit_request

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAYLOAD = b"jem-controller"

pytestmark = [pytest.mark.skipif(find_munged() is None, reason="munged is not installed (.ci/run installs it)"),
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a second Unix user)")]


@pytest.fixture(scope="module")
def munge_dir():
    shared = tempfile.mkdtemp(prefix="jem-munge-")   # munged wants its socket dir searchable by all
    os.chmod(shared, 0o755)
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture(scope="module")
def munged(munge_dir):
    with start_munged(os.path.join(munge_dir, "site")) as process:
        yield process


@pytest.fixture(scope="module")
def other_munged(munge_dir):
    """A munged with another key: another site's, or an attacker's."""
    with start_munged(os.path.join(munge_dir, "other")) as process:
        yield process


@pytest.fixture(scope="module")
def munge_cluster(tmp_path_factory, munged):
    c = LocalCluster(str(tmp_path_factory.mktemp("munge")), n_nodes=1,
                     auth_config=f'method = "munge"\nmunge_socket = "{munged.socket_path}"')
    try:
        c.start()
        yield c
    finally:
        c.stop()


def credential_as(user: str, socket_path: str, *, uid_restriction: int | None = 0, payload: bytes = PAYLOAD) -> str:
    """A MUNGE credential encoded by a process running as `user`."""
    code = ("import sys\nfrom jem.security import munge\n"
            "r = None if sys.argv[2] == '-' else int(sys.argv[2])\n"
            "print(munge.encode(sys.argv[3].encode(), socket_path=sys.argv[1], uid_restriction=r))\n")
    out = subprocess.run([SYSTEM_PYTHON, "-c", code, socket_path, "-" if uid_restriction is None else
                          str(uid_restriction), payload.decode()], user=user, group=user, capture_output=True,
                         text=True, cwd="/", timeout=30, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    return out.stdout.strip()


def list_jobs(cluster, metadata):
    return job_stub(cluster).ListJobs(jobs_pb2.ListJobsRequest(), metadata=metadata, timeout=10)


def assert_refused(cluster, metadata, what: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        list_jobs(cluster, metadata)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED, what


def test_a_munge_credential_makes_the_caller_munged_says_whatever_the_metadata_claims(munge_cluster, munged,
                                                                                      stranger):
    metadata = (("jem-munge", credential_as(stranger, munged.socket_path)), ("jem-uid", "0"), ("jem-gid", "0"),
                ("jem-user", "root"))
    request = submit_request(munge_cluster, "#!/bin/sh\nsleep 30\n")
    request.spec.hold = True   # (whose it is is the question; run, it may end before the cancel)
    response = job_stub(munge_cluster).SubmitJob(request, metadata=metadata, timeout=10)
    with munge_cluster.client() as root:
        job = root.get_job(response.job_id)
        assert (job.user, job.uid) == (stranger, pwd.getpwnam(stranger).pw_uid)
        root.cancel(job.job_id)


def test_the_client_speaks_munge_when_told_to(munge_cluster, munged):
    with munge_cluster.client(auth="munge", munge_socket=munged.socket_path, munge_uid=0) as client:
        job_id = client.submit(munge_cluster.spec("#!/bin/sh\ntrue\n"))
        assert munge_cluster.wait_job(client, job_id).user == "root"


def test_a_replayed_credential_is_refused(munge_cluster, munged, stranger):
    cred = credential_as(stranger, munged.socket_path)
    list_jobs(munge_cluster, (("jem-munge", cred),))
    assert_refused(munge_cluster, (("jem-munge", cred),), "replayed")


def test_a_credential_of_another_munge_key_is_refused(munge_cluster, munged, other_munged, stranger):
    assert_refused(munge_cluster, (("jem-munge", credential_as(stranger, other_munged.socket_path)),), "other key")
    list_jobs(munge_cluster, (("jem-munge", credential_as(stranger, munged.socket_path)),))


def test_a_credential_not_restricted_to_the_controller_is_refused(munge_cluster, munged, stranger):
    theirs = pwd.getpwnam(stranger).pw_uid
    for what, restriction in (("restricted to another uid", theirs), ("unrestricted", None)):
        assert_refused(munge_cluster, (("jem-munge", credential_as(stranger, munged.socket_path,
                                                                   uid_restriction=restriction)),), what)
    list_jobs(munge_cluster, (("jem-munge", credential_as(stranger, munged.socket_path, uid_restriction=0)),))


def test_a_credential_for_another_purpose_is_refused(munge_cluster, munged, stranger):
    assert_refused(munge_cluster, (("jem-munge", credential_as(stranger, munged.socket_path, payload=b"slurm")),),
                   "other payload")
    assert_refused(munge_cluster, (("jem-munge", "MUNGE:garbage:"),), "garbage")


def test_a_controller_without_munge_ignores_munge_credentials(cluster, munged):
    with pytest.raises(Unauthenticated):
        with cluster.client(auth="munge", munge_socket=munged.socket_path, munge_uid=0) as client:
            client.list_jobs()
    with cluster.client() as client:
        assert client.list_jobs() == []


def test_an_expired_credential_is_refused(munge_cluster, munged):
    cred = munge.encode(PAYLOAD, socket_path=munged.socket_path, uid_restriction=0, ttl_s=1)
    time.sleep(int(time.time()) + 2 + 0.05 - time.time())   # munged counts whole seconds
    assert_refused(munge_cluster, (("jem-munge", cred),), "expired")


def test_a_controller_whose_munged_is_down_says_retry_not_refused(make_cluster, munged, munge_dir):
    c = make_cluster(n_nodes=1, auth_config=f'method = "munge"\nmunge_socket = "{munge_dir}/none/munge.socket"')
    c.start_controller()
    with pytest.raises(ControllerNotReady):
        with c.client(auth="munge", munge_socket=munged.socket_path, munge_uid=0) as client:
            client.list_jobs()
    with c.client() as client:   # the credential service still works
        assert client.list_jobs() == []
