"""The attacks of "No way to root", each made against a real cluster, each failing to do harm,
and beside each the honest path still working.

Callers that are not root speak the credential service's wire protocol from a
child process running as a real Unix user (`/usr/bin/python3`, stdlib only:
this machine's default Python lives under /root, unreadable to others).
"""

import os
import pwd
import signal
import sys
import stat
import subprocess
import textwrap
import uuid

import grpc
import pytest

from harness import wait_until
from jem.model.jobfilter import JobFilter
from jem import convert
from jem.model.errors import NotJobOwner, PermissionDenied, Unauthenticated
from jem.model.execution import Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.security import revocation, signatures, tls, tokens
from jem.security.authd import fetch_token
from jem.security.digest import spec_digest, step_spec_digest
from jem.security.keys import generate_signing_key, load_signing_key
from jem.v1 import admin_pb2, admin_pb2_grpc, agent_pb2, agent_pb2_grpc, jobs_pb2, jobs_pb2_grpc

SYSTEM_PYTHON = "/usr/bin/python3"


def token_as(user: str, socket_path: str, audience: str = tokens.AUD_CONTROLLER, digest: str | None = None) -> str:
    """A credential-service token fetched by a process running as `user` (over `digest`: a signature)."""
    request = {"aud": audience, **({"dig": digest} if digest else {})}
    code = textwrap.dedent(f"""
        import json, socket
        s = socket.socket(socket.AF_UNIX); s.connect({socket_path!r})
        s.sendall(json.dumps({request!r}).encode() + b"\\n")
        data = b""
        while not data.endswith(b"\\n"):
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        print(json.loads(data)["token"])
    """)
    out = subprocess.run([SYSTEM_PYTHON, "-c", code], user=user, group=pwd.getpwnam(user).pw_gid,
                         capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, f"fetching a token as {user} failed ({out.returncode}): {out.stderr}"
    return out.stdout.strip()


def controller_channel(cluster):
    """TLS to the controller's user port, trusting the cluster CA, as any client does."""
    with open(cluster.ca_file, "rb") as f:
        return grpc.secure_channel(cluster.address, grpc.ssl_channel_credentials(root_certificates=f.read()))


def job_stub(cluster):
    return jobs_pb2_grpc.JobServiceStub(controller_channel(cluster))


def node_stub(cluster):
    return agent_pb2_grpc.NodeServiceStub(controller_channel(cluster))


def agent_stub(cluster, node: str, *, cert_name: str | None):
    """A channel to `node`'s agent holding `cert_name`'s certificate (None: only the CA)."""
    credentials = tls.channel_credentials(cluster.security_dir, cert_name)
    return agent_pb2_grpc.AgentServiceStub(grpc.secure_channel(_agent_address(cluster, node), credentials,
                                                               options=[tls.target_name_override(node)]))


def submit_request(cluster, script: str, **spec_fields) -> jobs_pb2.SubmitJobRequest:
    return jobs_pb2.SubmitJobRequest(spec=convert.spec_to_pb(cluster.spec(script, **spec_fields)))


def test_forged_uid_metadata_is_not_an_identity(cluster):
    forged = (("jem-uid", "0"), ("jem-gid", "0"), ("jem-user", "root"))
    with pytest.raises(grpc.RpcError) as caught:
        job_stub(cluster).SubmitJob(submit_request(cluster, "#!/bin/sh\nid\n"), metadata=forged, timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        job_stub(cluster).ListJobs(jobs_pb2.ListJobsRequest(), metadata=forged, timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with cluster.client() as client:   # the honest path: a token from the credential service
        assert client.list_jobs() == []


def test_a_user_token_makes_the_caller_that_user_whatever_else_it_claims(cluster, stranger):
    token = token_as(stranger, cluster.authd_socket)
    metadata = (("jem-token", token), ("jem-uid", "0"), ("jem-user", "root"))
    # Held: unsigned, it would fail to launch, and might have ended before the cancel below.
    response = job_stub(cluster).SubmitJob(submit_request(cluster, "#!/bin/sh\nsleep 30\n", hold=True),
                                           metadata=metadata, timeout=10)
    with cluster.client() as root:
        job = root.get_job(response.job_id)
        assert job.user == stranger and job.uid != 0
        root.cancel(job.job_id)


def test_a_token_is_accepted_once(cluster):
    token = fetch_token(cluster.authd_socket)
    request = jobs_pb2.ListJobsRequest()
    job_stub(cluster).ListJobs(request, metadata=(("jem-token", token),), timeout=10)
    with pytest.raises(grpc.RpcError) as caught:
        job_stub(cluster).ListJobs(request, metadata=(("jem-token", token),), timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "replayed" in caught.value.details()


def test_a_token_accepted_before_a_controller_restart_is_refused_after_it(cluster):
    token = fetch_token(cluster.authd_socket)
    request = jobs_pb2.ListJobsRequest()
    job_stub(cluster).ListJobs(request, metadata=(("jem-token", token),), timeout=10)
    cluster.stop_process(cluster.controller, signal.SIGKILL)   # no clean shutdown: the journal is all it has
    cluster.start_controller()
    with pytest.raises(grpc.RpcError) as caught:
        job_stub(cluster).ListJobs(request, metadata=(("jem-token", token),), timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "replayed" in caught.value.details()
    journal = os.path.join(cluster.state_dir, "token-replays.log")
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
    # A fresh token of the same user still works.
    job_stub(cluster).ListJobs(request, metadata=(("jem-token", fetch_token(cluster.authd_socket)),), timeout=10)


def test_expired_foreign_and_misaddressed_tokens_are_refused(cluster, tmp_path):
    authd_key = load_signing_key(os.path.join(cluster.security_dir, "authd.key"))
    foreign_key = generate_signing_key(str(tmp_path / "foreign.key"))
    claims = {"uid": 0, "gid": 0, "host": "h"}
    refused = {
        "expired": tokens.sign_claims(authd_key, claims, audience=tokens.AUD_CONTROLLER, lifetime_s=-60),
        "unknown key": tokens.sign_claims(foreign_key, claims, audience=tokens.AUD_CONTROLLER, lifetime_s=60),
        "other audience": tokens.sign_claims(authd_key, dict(claims, dig="0" * 64), audience=tokens.AUD_JOB,
                                             lifetime_s=60),
        "garbage": "not.a.token",
    }
    for what, token in refused.items():
        with pytest.raises(grpc.RpcError) as caught:
            job_stub(cluster).ListJobs(jobs_pb2.ListJobsRequest(), metadata=(("jem-token", token),), timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED, what
    fresh = tokens.sign_claims(authd_key, claims, audience=tokens.AUD_CONTROLLER, lifetime_s=60)
    job_stub(cluster).ListJobs(jobs_pb2.ListJobsRequest(), metadata=(("jem-token", fresh),), timeout=10)


def node_port_stub(cluster, *, cert_name: str | None):
    """The controller's node port, holding `cert_name`'s certificate (None: only the CA)."""
    credentials = tls.channel_credentials(cluster.security_dir, cert_name)
    return agent_pb2_grpc.NodeServiceStub(grpc.secure_channel(cluster.node_address, credentials))


def test_only_a_nodes_certificate_registers_or_reports_for_it(cluster, stranger):
    with cluster.client() as root:
        job_id = root.submit(cluster.spec("#!/bin/sh\nsleep 60\n"))
        job = wait_until(lambda: (j := root.get_job(job_id)).state is JobState.RUNNING and j, what="job running")
        node = job.nodes[0]
        other = next(n for n in cluster.node_names if n != node)
        address_before = next(i.node.agent_address for i in root.list_nodes() if i.node.name == node)
        register = agent_pb2.RegisterNodeRequest(name=node, agent_address="127.0.0.1:1",
                                                 capacity=convert.resources_to_pb(Resources(cpus=2, mem_mib=2048)))
        report = agent_pb2.ReportJobEventsRequest(name=node, reports=[agent_pb2.JobReport(
            job_id=job_id, has_ended=True, end=agent_pb2.JOB_END_EXITED, exit_code=0)])
        root_token = (("jem-token", fetch_token(cluster.authd_socket)),)
        # The users' port serves no node calls, whoever asks (a user, or root's own token).
        for metadata in ((("jem-token", token_as(stranger, cluster.authd_socket)),), root_token):
            with pytest.raises(grpc.RpcError) as caught:
                node_stub(cluster).RegisterNode(register, metadata=metadata, timeout=10)
            assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
        # The node port: without a client certificate TLS refuses the connection.
        with pytest.raises(grpc.RpcError) as caught:
            node_port_stub(cluster, cert_name=None).ReportJobEvents(report, metadata=root_token, timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        # Another node's certificate (a compromised node) may not speak for this one, nor the controller's.
        for cert_name in (f"nodes/{other}", "controller"):
            stub = node_port_stub(cluster, cert_name=cert_name)
            for call, request in ((stub.RegisterNode, register), (stub.ReportJobEvents, report)):
                with pytest.raises(grpc.RpcError) as caught:
                    call(request, timeout=10)
                assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED, cert_name
        assert next(i.node.agent_address for i in root.list_nodes() if i.node.name == node) == address_before
        assert root.get_job(job_id).state is JobState.RUNNING
        # The honest path: the node's own certificate is heard (a heartbeat that changes nothing).
        response = node_port_stub(cluster, cert_name=f"nodes/{other}").Heartbeat(
            agent_pb2.HeartbeatRequest(name=other, boot_id="not-this-agents"), timeout=10)
        assert response.is_registered is False   # another boot id: the controller wants a registration
        root.cancel(job_id)


def test_a_revoked_certificate_is_refused_by_the_controller_and_by_the_agents(cluster):
    from jem.controller.credentials import ControllerKeys
    node, other = cluster.node_names[0], cluster.node_names[1]

    def heartbeat(name: str):
        return node_port_stub(cluster, cert_name=f"nodes/{name}").Heartbeat(
            agent_pb2.HeartbeatRequest(name=name, boot_id="not-this-agents"), timeout=10)

    heartbeat(node)   # heard before
    revocation.revoke(cluster.security_dir, f"nodes/{node}")
    with pytest.raises(grpc.RpcError) as caught:   # a stolen node key, revoked: the node port refuses it
        heartbeat(node)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "revoked" in caught.value.details()
    heartbeat(other)  # the other nodes are heard as before
    keys = ControllerKeys(cluster.security_dir, with_authd_key=False)
    signal_request = agent_pb2.SignalJobRequest(job_id=990_009, signal=0, kill_wait_s=1)
    agent_stub(cluster, other, cert_name="controller").SignalJob(signal_request, metadata=keys.agent_call_metadata(),
                                                                  timeout=10)
    revocation.revoke(cluster.security_dir, "controller")   # a stolen controller key, revoked
    with pytest.raises(grpc.RpcError) as caught:   # even with a valid controller token
        agent_stub(cluster, other, cert_name="controller").SignalJob(
            signal_request, metadata=keys.agent_call_metadata(), timeout=10)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "revoked" in caught.value.details()


def _agent_address(cluster, name: str) -> str:
    with cluster.client() as client:
        return next(i.node.agent_address for i in client.list_nodes() if i.node.name == name)


def _root_launch(job_id: int, marker: str) -> Launch:
    return Launch(job_id=job_id, spec=JobSpec(script=f"#!/bin/sh\ntouch /tmp/{marker}; sleep 30\n", working_dir="/tmp"),
                  user="root", uid=0, gid=0, nodes=("n1",), alloc=Resources(cpus=1, mem_mib=64), n_tasks=1,
                  time_limit_s=60, kill_wait_s=1, submit_dir="/tmp", cluster_name="test")


def test_a_direct_agent_call_without_the_controllers_certificate_and_token_runs_nothing(cluster):
    marker = f"rootshell-{uuid.uuid4().hex[:8]}"
    request = agent_pb2.LaunchJobsRequest(launches=[convert.launch_to_pb(_root_launch(990_001, marker))])
    # Plaintext, or TLS without a client certificate: the agent's mutual TLS refuses the connection.
    for stub in (agent_pb2_grpc.AgentServiceStub(grpc.insecure_channel(_agent_address(cluster, "n1"))),
                 agent_stub(cluster, "n1", cert_name=None)):
        with pytest.raises(grpc.RpcError) as caught:
            stub.LaunchJobs(request, timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    # Another node's certificate (a compromised node): no controller token, and not the controller's certificate.
    stub = agent_stub(cluster, "n1", cert_name="nodes/n2")
    for metadata in ((), (("jem-token", fetch_token(cluster.authd_socket)),),
                     (("jem-controller-token", "forged"),)):
        with pytest.raises(grpc.RpcError) as caught:
            stub.LaunchJobs(request, metadata=metadata, timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    order = convert.task_order_to_pb(_step_order(marker))
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.RunStepTasks(order, timeout=10))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert not os.path.exists(f"/tmp/{marker}")


def _step_order(marker: str):
    from jem.model.step import StepSpec, TaskOrder
    return TaskOrder(job_id=990_002, step_id=0, spec=StepSpec(argv=("sh", "-c", f"touch /tmp/{marker}; sleep 30")),
                     user="root", uid=0, gid=0, task_ids=(0,), step_nodes=("n1",), job_nodes=("n1",), n_tasks=1,
                     alloc=Resources(cpus=1, mem_mib=64))


def test_a_launch_needs_its_own_credential_even_with_a_controller_token(cluster):
    """Holding the controller's key for calls is not enough: the launch's credential must name
    this job, run, user, node and script, and is accepted once."""
    from jem.controller.credentials import ControllerKeys
    keys = ControllerKeys(cluster.security_dir, with_authd_key=False)   # the test reads the controller's key
    marker = f"cred-{uuid.uuid4().hex[:8]}"
    stub = agent_stub(cluster, "n1", cert_name="controller")
    launch = _root_launch(990_003, marker)
    other = _root_launch(990_004, marker)
    tampered = convert.launch_to_pb(launch)
    tampered.credential = keys.launch_credential(other)          # another job's credential
    with pytest.raises(grpc.RpcError) as caught:
        stub.LaunchJobs(agent_pb2.LaunchJobsRequest(launches=[tampered]), metadata=keys.agent_call_metadata(),
                        timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    swapped = convert.launch_to_pb(launch)
    swapped.credential = keys.launch_credential(launch)
    swapped.spec.script = f"#!/bin/sh\necho {marker} swapped; sleep 30\n"   # script changed after signing
    with pytest.raises(grpc.RpcError) as caught:
        stub.LaunchJobs(agent_pb2.LaunchJobsRequest(launches=[swapped]), metadata=keys.agent_call_metadata(),
                        timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert not os.path.exists(f"/tmp/{marker}")
    honest = convert.launch_to_pb(launch)
    honest.credential = keys.launch_credential(launch)
    honest.user_signature = signatures.sign_request(cluster.authd_socket, tokens.AUD_JOB, spec_digest(launch.spec))
    request = agent_pb2.LaunchJobsRequest(launches=[honest])
    stub.LaunchJobs(request, metadata=keys.agent_call_metadata(), timeout=10)
    wait_until(lambda: os.path.exists(f"/tmp/{marker}"), what="the honest launch running")
    os.unlink(f"/tmp/{marker}")
    with pytest.raises(grpc.RpcError) as caught:    # the same credential again: replayed
        stub.LaunchJobs(request, metadata=keys.agent_call_metadata(), timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    stub.SignalJob(agent_pb2.SignalJobRequest(job_id=990_003, signal=0, kill_wait_s=1),
                   metadata=keys.agent_call_metadata(), timeout=10)



def test_state_is_private(cluster, stranger):
    with cluster.client() as client:
        cluster.wait_job(client, client.submit(cluster.spec("#!/bin/sh\ntrue\n")))
    assert stat.S_IMODE(os.stat(cluster.state_dir).st_mode) == 0o700
    for name in os.listdir(cluster.state_dir):
        path = os.path.join(cluster.state_dir, name)
        if os.path.isfile(path) and (name.startswith("jem.db") or name.endswith(".key")):
            assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, name
    for root, _, files in os.walk(cluster.security_dir):
        for name in files:
            if name.endswith(".key"):
                assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, name
    db = os.path.join(cluster.state_dir, "jem.db")
    out = subprocess.run(["cat", db], user=stranger, capture_output=True)
    assert out.returncode != 0 and b"Permission denied" in out.stderr


def test_jwt_from_jem_token_acts_as_that_user_only(cluster, stranger):
    with cluster.client() as root:
        roots_job = root.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
        # A user may get a token for themselves, never for root.
        own_token = token_as(stranger, cluster.authd_socket)
        stub = admin_pb2_grpc.AdminServiceStub(controller_channel(cluster))
        with pytest.raises(grpc.RpcError) as caught:
            stub.IssueToken(admin_pb2.IssueTokenRequest(user="root"), metadata=(("jem-token", own_token),), timeout=10)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        jwt = stub.IssueToken(admin_pb2.IssueTokenRequest(), metadata=(("jem-token", token_as(
            stranger, cluster.authd_socket)),), timeout=10).token
        with cluster.client(token=jwt) as user:
            theirs = user.submit(cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
            assert {j.job_id for j in user.list_jobs(JobFilter(users=frozenset({stranger})))} == {theirs}
            assert user.get_job(theirs).user == stranger
            with pytest.raises(NotJobOwner):
                user.cancel(roots_job)
            with pytest.raises(PermissionDenied):
                user.drain_node("n1", "mine now")
            assert user.get_job(roots_job).spec.script == ""      # root's script stays root's
            user.cancel(theirs)
            assert user.get_job(theirs).state is JobState.CANCELLED
        with pytest.raises(Unauthenticated):
            with cluster.client(token=jwt[:-4] + "AAAA") as forged:
                forged.list_jobs()
        root.cancel(roots_job)


def test_a_non_loopback_listen_is_refused_without_tls(tmp_path):
    config = tmp_path / "jem.toml"
    config.write_text(f'[cluster]\nlisten = "0.0.0.0:0"\nstate_dir = "{tmp_path}/state"\n'
                      f'[auth]\nserve_authd = false\n')
    out = subprocess.run([sys.executable, "-m", "jem.cli.main", "controller", "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "not a loopback address" in out.stderr


def _user_launch(job_id: int, user: str, script: str) -> Launch:
    entry = pwd.getpwnam(user)
    return Launch(job_id=job_id, spec=JobSpec(script=script, working_dir="/tmp"), user=user, uid=entry.pw_uid,
                  gid=entry.pw_gid, nodes=("n1",), alloc=Resources(cpus=1, mem_mib=64), n_tasks=1, time_limit_s=60,
                  kill_wait_s=1, submit_dir="/tmp", cluster_name="test")


def test_the_controllers_key_alone_cannot_run_code_as_a_user(cluster, stranger):
    """A compromised controller (its key stolen, its certificate too) sends the agent launches
    and step orders with valid controller credentials: none runs unless the user signed it."""
    from jem.controller.credentials import ControllerKeys
    keys = ControllerKeys(cluster.security_dir, with_authd_key=False)
    stub = agent_stub(cluster, "n1", cert_name="controller")
    marker = f"/tmp/signed-{uuid.uuid4().hex[:8]}"
    script = f"#!/bin/sh\nid -u > {marker}\n"
    digest = spec_digest(_user_launch(0, stranger, script).spec)
    other_digest = spec_digest(JobSpec(script="#!/bin/sh\ntrue\n", working_dir="/tmp"))
    forged = {
        990_101: "",                                                                   # no signature
        990_102: signatures.sign_request(cluster.authd_socket, tokens.AUD_JOB, digest),  # root's, not the user's
        990_103: token_as(stranger, cluster.authd_socket, tokens.AUD_JOB, other_digest),  # the user's, other work
        990_104: token_as(stranger, cluster.authd_socket, tokens.AUD_STEP, digest),   # a step signature
    }
    for job_id, signature in forged.items():
        pb = convert.launch_to_pb(_user_launch(job_id, stranger, script))
        pb.credential = keys.launch_credential(_user_launch(job_id, stranger, script))
        pb.user_signature = signature
        stub.LaunchJobs(agent_pb2.LaunchJobsRequest(launches=[pb]), metadata=keys.agent_call_metadata(), timeout=10)
        wait_until(lambda: f"launch refused job_id={job_id} " in cluster.log("agent-n1.log"),
                   what=f"job {job_id} refused")
    assert not os.path.exists(marker)
    order = _step_order(marker)
    order_pb = convert.task_order_to_pb(order)
    order_pb.credential = keys.step_credential(job_id=order.job_id, step_id=order.step_id, uid=order.uid,
                                               gid=order.gid, nodes=order.step_nodes,
                                               digest=step_spec_digest(order.spec))
    (response,) = list(stub.RunStepTasks(order_pb, metadata=keys.agent_call_metadata(), timeout=10))
    assert response.exit.exit_code == 1 and "carries no signature of its user" in response.exit.launch_error
    assert not os.path.exists(marker)
    # The honest path: the user's own signature over exactly this job.
    launch = _user_launch(990_105, stranger, script)
    pb = convert.launch_to_pb(launch)
    pb.credential = keys.launch_credential(launch)
    pb.user_signature = token_as(stranger, cluster.authd_socket, tokens.AUD_JOB, digest)
    stub.LaunchJobs(agent_pb2.LaunchJobsRequest(launches=[pb]), metadata=keys.agent_call_metadata(), timeout=10)
    try:
        wait_until(lambda: os.path.exists(marker) and os.path.getsize(marker) > 0, what="the signed launch running")
        with open(marker) as f:
            assert int(f.read()) == launch.uid
    finally:
        for path in (marker, "/tmp/slurm-990105.out"):
            if os.path.exists(path):
                os.unlink(path)


def test_a_submission_carries_only_its_callers_signature(cluster, stranger):
    spec = cluster.spec("#!/bin/sh\nid -u\n", working_dir="/tmp", stdout_pattern="/tmp/jem-signed-%j.out")
    stub = job_stub(cluster)
    digest = spec_digest(spec)
    for signature in (signatures.sign_request(cluster.authd_socket, tokens.AUD_JOB, digest),   # root's
                      token_as(stranger, cluster.authd_socket, tokens.AUD_JOB, spec_digest(
                          cluster.spec("#!/bin/sh\ntrue\n", working_dir="/tmp")))):          # other work
        request = jobs_pb2.SubmitJobRequest(spec=convert.spec_to_pb(spec), user_signature=signature)
        with pytest.raises(grpc.RpcError) as caught:
            stub.SubmitJob(request, metadata=(("jem-token", token_as(stranger, cluster.authd_socket)),), timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert dict(caught.value.trailing_metadata())["jem-reason"] == "BadUserSignature"
    request = jobs_pb2.SubmitJobRequest(spec=convert.spec_to_pb(spec), user_signature=token_as(
        stranger, cluster.authd_socket, tokens.AUD_JOB, digest))
    job_id = stub.SubmitJob(request, metadata=(("jem-token", token_as(stranger, cluster.authd_socket)),),
                            timeout=10).job_id
    with cluster.client() as root:
        job = cluster.wait_job(root, job_id)
        assert job.state is JobState.COMPLETED, job
        # Requeued by root, it runs again under the user's original signature.
        root.requeue(job_id)
        wait_until(lambda: root.get_job(job_id).restart_count == 1 and root.get_job(job_id).state.is_terminal,
                   what="the requeued run ending")
        assert root.get_job(job_id).state is JobState.COMPLETED
    out = f"/tmp/jem-signed-{job_id}.out"
    try:
        with open(out) as f:
            assert f.read().split()[-1] == str(job.uid)
    finally:
        os.unlink(out)


def test_an_unsigned_job_fails_to_launch_and_its_node_stays_up(cluster):
    with cluster.client() as root:
        jwt, _ = root.issue_token()
        with cluster.client(token=jwt) as portal:   # a JWT caller has no credential service to sign with
            job_id = portal.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        job = cluster.wait_job(root, job_id)
        assert job.state is JobState.FAILED
        assert "carries no signature of its user" in job.reason_detail, job
        assert all(i.state.name != "DOWN" for i in root.list_nodes())
