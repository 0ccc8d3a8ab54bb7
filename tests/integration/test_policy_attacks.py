"""Attacks on site policy by an ordinary Unix user, on a real controller and agents, one test each.

The user holds a `jem token` JWT and nothing else. Each attack is refused with its typed error
and gRPC status, and leaves the cluster as it was: no job of theirs suspended or resumed by
them (nor thawed by a signal), no reservation, account, user association or QOS created,
changed or deleted, no job queued into a reservation or under a QOS they may not use, no odd
GPU request queued; under PrivateData=jobs nothing of others' jobs (their planned nodes and
starts, their running nodes) is shown; `jem why` on absurd jobs is bounded and never stalls the
controller; Ping says who answers and nothing more.
"""

import dataclasses
import os
import pwd
import re
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from harness import cancel_and_wait, command, wait_until
from jem import convert
from jem.model.accounting import AssociationChange, QosChange
from jem.model.associations import Association, AssociationFilter, Qos
from jem.model.controllerinfo import jem_version
from jem.model.errors import (InvalidAccount, InvalidFeature, InvalidGres, InvalidJobSpec, InvalidQos,
                              InvalidReservation, JobNotFound, ParameterTooLong, PermissionDenied,
                              ReservationAccessDenied, Unsatisfiable, UserNotFound)
from jem.model.execution import SignalScope
from jem.model.jobfilter import JobFilter
from jem.model.reasons import JobReason
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.states import JobState
from jem.relay import channel_to
from jem.v1 import admin_pb2, admin_pb2_grpc, jobs_pb2, jobs_pb2_grpc

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 300\n"
# The user's association is in chem, whose jobs may use the QOS normal only; root's account
# may use high too. Associations exist, so a job's user must have one with its account.
POLICY = """
[[qos]]
name = "high"
priority = 100

[[accounts]]
name = "root"
qos = ["normal", "high"]

[[accounts]]
name = "physics"

[[accounts]]
name = "chem"
qos = ["normal"]
"""
UNSIGNED = ("--unsigned-jobs", "allow")   # the user's jobs (JWT: unsigned) run, as the user
DENIED = (grpc.StatusCode.PERMISSION_DENIED, "PermissionDenied")


def policy_cluster(make_cluster, *, private: tuple[str, ...] = (), operators: tuple[str, ...] = (),
                   extra_config: str = "", **kwargs):
    """A started cluster with PrivateData `private` and `operators` of AdminLevel Operator."""
    cluster = make_cluster(extra_config=extra_config, **kwargs)
    with open(cluster.config_path) as f:
        text = f.read()
    if private:
        listed = ", ".join(f'"{what}"' for what in private)
        text = text.replace('name = "test"\n', f'name = "test"\nprivate_data = [{listed}]\n', 1)
    text += "".join(f'\n[[users]]\nname = "{name}"\nadmin_level = "operator"\n' for name in operators)
    with open(cluster.config_path, "w") as f:
        f.write(text)
    return cluster.start()


def raw_refusal(cluster, client, service: str, method: str, request) -> tuple[grpc.StatusCode, str]:
    """(status, jem-reason) of `request` sent as `client`'s user straight over gRPC; fails if it is answered."""
    channel = channel_to(cluster.address, cluster.ca_file)
    try:
        stub = (jobs_pb2_grpc.JobServiceStub if service == "jobs" else admin_pb2_grpc.AdminServiceStub)(channel)
        with pytest.raises(grpc.RpcError) as refused:
            getattr(stub, method)(request, metadata=client._metadata, timeout=20)
    finally:
        channel.close()
    return refused.value.code(), dict(refused.value.trailing_metadata() or ()).get("jem-reason", "")


def cycles(cluster) -> int:
    """Scheduling cycles the controller has logged so far."""
    with open(os.path.join(cluster.root, "controller.log"), errors="replace") as f:
        return f.read().count(" cycle cycle=")


def wait_cycles(cluster, n: int = 3) -> None:
    """Until `n` more scheduling cycles have run (each plans every pending job again; a cycle
    logs its line when some job was there to plan)."""
    first = cycles(cluster)
    wait_until(lambda: cycles(cluster) >= first + n, what=f"{n} scheduling cycles")


def no_tracebacks(cluster) -> None:
    for name in ["controller.log", *(f"agent-{n}.log" for n in cluster.node_names)]:
        with open(os.path.join(cluster.root, name), errors="replace") as f:
            assert "Traceback" not in f.read(), cluster.log(name)


def jobs_of(root, user: str) -> list:
    return root.list_jobs(JobFilter(users=frozenset({user})), include_old=True)


# ---------------------------------------------------------------- SuspendJob


def counter(path: str) -> str:
    """A job that writes 1, 2, 3, ... to `path` every 0.1 s."""
    return f"#!/bin/sh\ni=0\nwhile true; do i=$((i+1)); echo $i > {path}; sleep 0.1; done\n"


def count(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


def settled_count(path: str) -> int:
    """The counter's value once two polls 0.3 s apart read the same (a frozen job's last count)."""
    previous = [0]

    def same() -> int:
        now = count(path)
        was, previous[0] = previous[0], now
        return now if now and now == was else 0
    return wait_until(same, interval_s=0.3, what="the counter to stop")


def test_a_user_may_suspend_or_resume_no_job_nor_thaw_their_own_with_a_signal(make_cluster, stranger, operator_user):
    """scontrol suspend/resume are an operator's: a user may suspend or resume neither root's job
    nor their own, nor a job that does not exist (PERMISSION_DENIED before any lookup). Once an
    operator suspends the user's job, the user's SIGCONT (scancel -f -s CONT, theirs to send)
    does not thaw it: its counter stays put until the operator resumes it."""
    cluster = policy_cluster(make_cluster, operators=(operator_user,), cpus=1, agent_args=UNSIGNED)
    home = pwd.getpwnam(stranger).pw_dir
    mark = os.path.join(home, f"count-{uuid.uuid4().hex[:6]}")
    clock = os.path.join(cluster.workdir, "clock")   # (root's job counts too: how long the user's could have run)
    with cluster.client() as root, cluster.client_as(stranger) as user, \
            cluster.client_as(operator_user) as operator:
        roots = root.submit(cluster.spec(counter(clock), n_tasks=1, time_limit_s=300))
        theirs = user.submit(cluster.spec(counter(mark), n_tasks=1, time_limit_s=300, working_dir=home,
                                          stdout_pattern="/dev/null"))
        try:
            for job_id in (roots, theirs):
                cluster.wait_job(root, job_id, states={JobState.RUNNING})
            wait_until(lambda: count(mark) >= 3, what="the user's job to count")
            for job_id in (roots, theirs, 10 ** 9):
                for resume in (False, True):
                    with pytest.raises(PermissionDenied):
                        user.suspend(job_id, resume=resume)
            assert raw_refusal(cluster, user, "jobs", "SuspendJob", jobs_pb2.SuspendJobRequest(job_id=theirs)) == DENIED
            assert [root.get_job(j).state for j in (roots, theirs)] == [JobState.RUNNING, JobState.RUNNING]

            assert operator.suspend(theirs).state is JobState.SUSPENDED
            frozen_at = settled_count(mark)
            user.cancel(theirs, signal=signal.SIGCONT, scope=SignalScope.FULL)
            with pytest.raises(PermissionDenied):
                user.suspend(theirs, resume=True)
            ticks = count(clock)
            wait_until(lambda: count(clock) >= ticks + 15, what="root's job to count 15 more")
            assert count(mark) == frozen_at and user.get_job(theirs).state is JobState.SUSPENDED

            assert operator.suspend(theirs, resume=True).state is JobState.RUNNING
            wait_until(lambda: count(mark) > frozen_at, what="the resumed job to count again")
        finally:
            cancel_and_wait(cluster, root, [roots, theirs])
        os.unlink(mark)


# ---------------------------------------------------------------- Ping


def test_ping_answers_any_authenticated_caller_with_who_answers_and_nothing_more(make_cluster, stranger):
    cluster = policy_cluster(make_cluster, n_nodes=1)
    channel = channel_to(cluster.address, cluster.ca_file)
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    try:
        for metadata in ((), (("jem-token", "forged"),), (("authorization", "Bearer a.b.c"),)):
            with pytest.raises(grpc.RpcError) as refused:
                jobs.Ping(jobs_pb2.PingRequest(), metadata=metadata, timeout=20)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with cluster.client_as(stranger) as user:
            before = time.time()
            answer = jobs.Ping(jobs_pb2.PingRequest(), metadata=user._metadata, timeout=20)
            after = time.time()
    finally:
        channel.close()
    assert {fd.name for fd, _ in answer.ListFields()} == {"cluster_name", "host", "version", "server_time"}
    assert (answer.cluster_name, answer.host, answer.version) == ("test", socket.gethostname(), jem_version())
    assert before - 1 <= answer.server_time.seconds <= after + 1
    text = str(answer)
    for secret in (cluster.state_dir, cluster.security_dir, cluster.spool_root, cluster.node_address,
                   cluster.address, "127.0.0.1"):
        assert secret not in text


# ---------------------------------------------------------------- reservations, accounts, QOS


def test_a_user_may_not_create_change_or_delete_a_reservation(make_cluster, stranger):
    cluster = policy_cluster(make_cluster)
    now = time.time()
    with cluster.client() as root, cluster.client_as(stranger) as user:
        root.create_reservation(Reservation("maint", now + 3600, now + 7200, ("n1",), users=("root",),
                                            flags=frozenset({ReservationFlag.MAINT})))
        before = root.list_reservations()
        mine = Reservation("mine", now + 60, now + 600, ("n1", "n2"), users=(stranger,))
        opened = dataclasses.replace(before[0], users=("root", stranger))
        moved = dataclasses.replace(before[0], start_time=now + 10 ** 7, end_time=now + 10 ** 7 + 60)
        for attempt in (lambda: user.create_reservation(mine), lambda: user.create_reservation(mine, node_count=2),
                        lambda: user.create_reservation(dataclasses.replace(mine, flags=frozenset(ReservationFlag))),
                        lambda: user.update_reservation(opened), lambda: user.update_reservation(moved),
                        lambda: user.delete_reservation("maint"), lambda: user.delete_reservation("nonesuch"),
                        lambda: user.delete_reservation("x" * 100_000)):
            with pytest.raises(PermissionDenied):
                attempt()
        for method, request in (
                ("CreateReservation", admin_pb2.CreateReservationRequest(reservation=convert.reservation_to_pb(mine))),
                ("UpdateReservation",
                 admin_pb2.UpdateReservationRequest(reservation=convert.reservation_to_pb(opened))),
                ("DeleteReservation", admin_pb2.DeleteReservationRequest(name="maint"))):
            assert raw_refusal(cluster, user, "admin", method, request) == DENIED
        assert root.list_reservations() == before


def test_a_user_may_not_add_change_or_delete_accounts_users_or_qos(make_cluster, stranger, operator_user):
    """Accounts and users are an operator's to change, QOS an administrator's: a user may not add an
    account, put themselves in one, raise their own limits or widen their own QOS, delete anything,
    or touch a QOS; an Operator may not add, change or delete a QOS either."""
    cluster = policy_cluster(make_cluster, operators=(operator_user,), n_nodes=1, extra_config=POLICY)
    with cluster.client() as root, cluster.client_as(stranger) as user, \
            cluster.client_as(operator_user) as operator:
        root.add_users([Association("chem", stranger)])
        before = (root.list_associations(), root.list_qos())
        own = AssociationFilter(accounts=frozenset({"chem"}), users=frozenset({stranger}))
        for attempt in (
                lambda: user.add_accounts([Association("mine")]),
                lambda: user.add_accounts([Association("sub", parent="chem")]),
                lambda: user.add_users([Association("physics", stranger)]),
                lambda: user.add_users([Association("chem", "root")], default_account="chem"),
                lambda: user.modify_associations(own, AssociationChange(qos=("normal", "high"))),
                lambda: user.modify_associations(own, AssociationChange(qos_added=("high",))),
                lambda: user.modify_associations(own, AssociationChange(default_account="physics")),
                lambda: user.modify_associations(own, AssociationChange(shares=10 ** 6, limits={"max_jobs": -1})),
                lambda: user.modify_associations(AssociationFilter(accounts=frozenset({"chem"}), only_accounts=True),
                                                 AssociationChange(parent="physics")),
                lambda: user.delete_associations(own),
                lambda: user.delete_associations(AssociationFilter(accounts=frozenset({"physics"}))),
                lambda: user.add_qos([Qos("mine", priority=10 ** 6)]),
                lambda: user.modify_qos(["normal"], QosChange(priority=10 ** 6)),
                lambda: user.modify_qos(["high"], QosChange(preempt=("normal",))),
                lambda: user.delete_qos(["high"]),
                lambda: operator.add_qos([Qos("ops")]),
                lambda: operator.modify_qos(["normal"], QosChange(priority=1)),
                lambda: operator.delete_qos(["high"])):
            with pytest.raises(PermissionDenied):
                attempt()
        request = admin_pb2.ModifyQosRequest(names=["normal"])
        request.change.priority = 10 ** 6
        assert raw_refusal(cluster, user, "admin", "ModifyQos", request) == DENIED
        request = admin_pb2.AddUsersRequest(associations=[admin_pb2.Association(account="physics", user=stranger)])
        assert raw_refusal(cluster, user, "admin", "AddUsers", request) == DENIED
        assert (root.list_associations(), root.list_qos()) == before


def test_a_user_may_not_submit_into_a_reservation_that_does_not_admit_them(make_cluster, stranger):
    """A reservation on every node, on now, for root and account physics. The user (in chem only)
    is refused it at submit however they ask (their own account, physics, a test, an array);
    their plain job waits beside it. Admitted, then dropped again, their job in it waits with
    reason Reservation on idle reserved nodes, while root's job in it runs."""
    cluster = policy_cluster(make_cluster, cpus=1, extra_config=POLICY)
    now = time.time()
    with cluster.client() as root, cluster.client_as(stranger) as user:
        root.add_users([Association("chem", stranger), Association("physics", "root")])
        closed = root.create_reservation(Reservation("closed", now, now + 600, ("n1", "n2"), users=("root",),
                                                     accounts=("physics",)))

        def spec(**fields):
            return cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, **fields)
        with pytest.raises(ReservationAccessDenied):
            user.submit(spec(reservation="closed"))
        with pytest.raises(ReservationAccessDenied):
            user.submit(spec(reservation="closed"), test_only=True)
        with pytest.raises(ReservationAccessDenied):
            user.submit(spec(reservation="closed", array="0-99"))
        with pytest.raises(InvalidAccount):   # (the reservation's account is not theirs to name)
            user.submit(spec(reservation="closed", account="physics"))
        with pytest.raises(InvalidReservation):
            user.submit(spec(reservation="CLOSED"))
        with pytest.raises(InvalidJobSpec):
            user.submit(spec(reservation="closed\0"))
        with pytest.raises(ParameterTooLong):
            user.submit(spec(reservation="closed" * 1000))
        code, reason = raw_refusal(cluster, user, "jobs", "SubmitJob", jobs_pb2.SubmitJobRequest(
            spec=convert.spec_to_pb(spec(reservation="closed"))))
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ReservationAccessDenied")
        assert jobs_of(root, stranger) == []

        plain = user.submit(spec())
        root.update_reservation(dataclasses.replace(closed, users=("root", stranger)))
        inside = user.submit(spec(reservation="closed", hold=True))
        root.update_reservation(closed)   # (dropped again)
        user.release(inside)
        roots = root.submit(spec(reservation="closed"))
        try:
            cluster.wait_job(root, roots, states={JobState.RUNNING})
            wait_until(lambda: user.get_job(inside).reason is JobReason.RESERVATION, what="the reason Reservation")
            wait_cycles(cluster)
            assert [user.get_job(j).state for j in (plain, inside)] == [JobState.PENDING, JobState.PENDING]
            assert user.get_job(inside).reason is JobReason.RESERVATION
        finally:
            cancel_and_wait(cluster, root, [plain, inside, roots])


def test_a_user_may_not_use_a_qos_their_association_does_not_allow(make_cluster, stranger):
    cluster = policy_cluster(make_cluster, n_nodes=1, extra_config=POLICY)
    with cluster.client() as root, cluster.client_as(stranger) as user:
        root.add_users([Association("chem", stranger), Association("root", "root")])

        def spec(**fields):
            return cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, hold=True, **fields)
        for fields in ({"qos": "high"}, {"qos": "high", "account": "chem"}, {"qos": "nonesuch"}, {"qos": "High"}):
            with pytest.raises(InvalidQos):
                user.submit(spec(**fields))
            with pytest.raises(InvalidQos):
                user.submit(spec(**fields), test_only=True)
        with pytest.raises(InvalidAccount):   # (root's account allows high; the user is not in it)
            user.submit(spec(qos="high", account="root"))
        with pytest.raises(InvalidJobSpec):
            user.submit(spec(qos="high\0"))
        with pytest.raises(ParameterTooLong):
            user.submit(spec(qos="h" * 5000))
        code, reason = raw_refusal(cluster, user, "jobs", "SubmitJob", jobs_pb2.SubmitJobRequest(
            spec=convert.spec_to_pb(spec(qos="high"))))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidQos")
        assert jobs_of(root, stranger) == []
        held = user.submit(spec())   # (normal: theirs to use)
        assert user.get_job(held).spec.qos == "normal"
        user.cancel(held)


# ---------------------------------------------------------------- typed GPUs


def test_odd_typed_gpu_requests_are_refused_typed_and_queue_nothing(make_cluster, stranger):
    cluster = policy_cluster(make_cluster, cpus=2, gpus=2,
                             node_extra={"n1": 'gpu_type = "a100"\ngres = {nvme = 2}', "n2": 'gpu_type = "v100"'})
    with cluster.client() as root, cluster.client_as(stranger) as user:
        def refused(error, **fields):
            with pytest.raises(error):
                user.submit(cluster.spec(SLEEP, n_tasks=1, hold=True, **fields))
        refused(InvalidJobSpec, gpu_type="a100")                        # a type without a count
        refused(InvalidJobSpec, gpus_per_node=-1, gpu_type="a100")
        refused(Unsatisfiable, gpus_per_node=2 ** 31 - 1, gpu_type="a100")
        refused(Unsatisfiable, gpus_per_node=3, gpu_type="a100")
        refused(InvalidJobSpec, gpus_per_node=1, gpu_type="a100\0")
        refused(ParameterTooLong, gpus_per_node=1, gpu_type="a" * 100_000)
        refused(InvalidJobSpec, gpus_per_node=1, gpu_type="100")          # digits: a count, not a type
        refused(InvalidJobSpec, gpus_per_node=1, gpu_type="a100:2")
        refused(InvalidJobSpec, gpus_per_node=1, gpu_type="a\uff11\uff10\uff10")   # (fullwidth digits)
        refused(InvalidGres, gpus_per_node=1, gpu_type="h100")
        refused(InvalidGres, gpus_per_node=1, gpu_type="A100")           # types are exact
        refused(InvalidFeature, gpus_per_node=1, gpu_type="a100", constraint="x|y")
        refused(InvalidGres, gres_per_node=(("gpu", 1),))                 # GPUs are not a GRES by name
        refused(Unsatisfiable, gres_per_node=(("nvme", 2 ** 63 - 1),))
        refused(InvalidJobSpec, gres_per_node=(("nvme", -1),))
        refused(InvalidJobSpec, gres_per_node=(("nv\0me", 1),))
        pb = convert.spec_to_pb(cluster.spec(SLEEP, n_tasks=1, hold=True))
        pb.gpus_per_node, pb.gpu_type = -2 ** 31, "a100"
        assert raw_refusal(cluster, user, "jobs", "SubmitJob", jobs_pb2.SubmitJobRequest(spec=pb)) == \
            (grpc.StatusCode.INVALID_ARGUMENT, "InvalidJobSpec")
        assert jobs_of(root, stranger) == []
        for option in ("--gres=gpu:a100:99999999999", "--gres=gpu:a100:-1", "--gres=gpu:a100:2,gpu:v100:1",
                       "--gpus=a100:99999999999999999999999", "--gres=gpu::1", "--gres=gpu:a100:1:2",
                       "--gres=gpu:" + "x" * 3000 + ":1", "--gres=nvme:99999999999999999999999"):
            result = command(cluster, "sbatch", "--hold", option, "--wrap", "true")
            assert result.returncode == 1 and result.stderr.startswith("sbatch: error: "), (option, result.stderr)
            assert "Traceback" not in result.stderr
        assert [j.job_id for j in root.list_jobs()] == []
        assert {i.state.value for i in root.list_nodes()} == {"IDLE"}
    no_tracebacks(cluster)


# ---------------------------------------------------------------- privacy of plans


def test_with_private_jobs_a_user_learns_nothing_of_others_planned_or_running_nodes(make_cluster, stranger):
    """Root's job fills both nodes; root's next job has a planned start and nodes (SchedNodeList).
    Under PrivateData=jobs,reservations the user sees neither, by any request: not by id, listing
    (by node, user or id, old jobs too), jem why (answered as for an id that never was; their own
    job's names none of root's), sprio, a watch, the node listing (which lists only their own
    jobs), nor the reservations."""
    cluster = policy_cluster(make_cluster, private=("jobs", "reservations"), cpus=1)
    now = time.time()
    with cluster.client() as root, cluster.client_as(stranger) as user:
        root.create_reservation(Reservation("later", now + 86400, now + 90000, ("n1",), users=("root",)))
        running = root.submit(cluster.spec(SLEEP, n_nodes=2, n_tasks=2, time_limit_s=300))
        planned = root.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, name="secret-plan"))
        theirs = user.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60))
        try:
            cluster.wait_job(root, running, states={JobState.RUNNING})
            wait_until(lambda: root.get_job(planned).planned_nodes and user.get_job(theirs).planned_start,
                       what="root's job's planned nodes and the user's planned start")
            for job_id in (running, planned):
                with pytest.raises(JobNotFound):
                    user.get_job(job_id)
                with pytest.raises(JobNotFound) as hidden:
                    user.explain_job(job_id)
                with pytest.raises(JobNotFound) as never:
                    user.explain_job(10 ** 9 + job_id)
                assert str(hidden.value).split(":")[0] == str(never.value).split(":")[0]
            assert raw_refusal(cluster, user, "jobs", "ExplainJob", jobs_pb2.ExplainJobRequest(job_id=planned)) == \
                (grpc.StatusCode.NOT_FOUND, "JobNotFound")
            for job_filter in (JobFilter(), JobFilter(job_ids=frozenset({running, planned})),
                               JobFilter(users=frozenset({"root"})), JobFilter(nodes=frozenset({"n1", "n2"})),
                               JobFilter(names=frozenset({"secret-plan"}))):
                for include_old in (False, True):
                    assert {j.job_id for j in user.list_jobs(job_filter, include_old=include_old)} <= {theirs}
            said = user.explain_job(theirs)
            assert said.planned_start is not None and said.after == () and said.limit is None
            assert user.list_priorities(job_ids=[planned, running])[1] == []
            assert {i.node.name: i.node.job_ids for i in user.list_nodes()} == {"n1": set(), "n2": set()}
            assert {i.node.name: i.node.job_ids for i in root.list_nodes()} == {"n1": {running}, "n2": {running}}
            assert {i.state.value for i in user.list_nodes()} == {"ALLOCATED"}   # (what sinfo shows stays whole)
            assert user.list_reservations() == []
            assert _watched(cluster, root, user, planned, theirs) == {theirs}
        finally:
            cancel_and_wait(cluster, root, [running, planned, theirs])


def _watched(cluster, root, user, others: int, own: int) -> set[int]:
    """The jobs whose events a watch of the user's, asked for `others` and `own`, carries while
    root renames both, until the user's own event comes."""
    seen: set[int] = set()
    channel = channel_to(cluster.address, cluster.ca_file)
    stream = jobs_pb2_grpc.JobServiceStub(channel).WatchJobs(
        jobs_pb2.WatchJobsRequest(job_ids=[others, own]), metadata=user._metadata, timeout=30)

    def collect():
        try:
            for response in stream:
                seen.add(response.job.job_id)
        except grpc.RpcError:
            pass
    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        def own_seen() -> bool:
            root.update(others, name=f"renamed-{time.monotonic()}")
            root.update(own, name=f"renamed-{time.monotonic()}")
            return own in seen
        wait_until(own_seen, interval_s=0.3, what="the user's own event")
    finally:
        stream.cancel()
        reader.join(10)
        channel.close()
    return seen


# ---------------------------------------------------------------- jem why's what-ifs

WHAT_IF = re.compile(r"\A(TimeLimit=(\d+-)?\d\d:\d\d:\d\d|NumNodes=[1-9]\d*|Partition=[A-Za-z0-9_.-]+)\Z")


def test_jem_why_on_absurd_jobs_is_bounded_and_does_not_stall_the_controller(make_cluster, stranger):
    """Root's job fills both nodes and 300 of root's jobs wait ahead. The user's jobs ask for the
    most they may (the longest or no time limit, every node, the largest nice, another partition,
    an array). Sixteen `jem why` at once on them each answer within the client's timeout, with at
    most one change per kind, each written as scontrol update takes it, and root's pings are
    answered meanwhile; an id that is no job is NOT_FOUND."""
    partitions = "".join(f'\n[[partitions]]\nname = "p{i}"\nnodes = "{nodes}"\n'
                         for i, nodes in enumerate(("ALL", "n1", "n2", "ALL", "ALL")))
    cluster = policy_cluster(make_cluster, cpus=1, extra_config=partitions)
    with cluster.client() as root, cluster.client_as(stranger) as user:
        running = root.submit(cluster.spec(SLEEP, n_nodes=2, n_tasks=2, time_limit_s=600))
        cluster.wait_job(root, running, states={JobState.RUNNING})
        ahead = [root.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600 + i)) for i in range(300)]
        theirs = [user.submit(cluster.spec(SLEEP, **fields)) for fields in (
            {"n_tasks": 1, "time_limit_s": 2 ** 62},
            {"n_tasks": 1, "time_limit_unlimited": True},
            {"n_nodes": 2, "n_tasks": 2, "time_limit_s": 10 ** 9},
            {"n_tasks": 1, "time_limit_s": 10 ** 9, "nice": 2147483645, "partition": "p1"},
            {"n_tasks": 1, "time_limit_s": 10 ** 9, "array": "0-999"})]
        try:
            # (the 2-node job has none: the job with no time limit holds a node for ever)
            wait_until(lambda: all(user.get_job(j).planned_start for j in theirs[:2]), what="the user's jobs' plans")
            latencies: list[float] = []
            with ThreadPoolExecutor(16) as pool:
                answers = [pool.submit(user.explain_job, theirs[i % len(theirs)]) for i in range(16)]
                while not all(a.done() for a in answers):
                    t0 = time.monotonic()
                    root.ping()
                    latencies.append(time.monotonic() - t0)
                explanations = [a.result() for a in answers]   # (raises what the call raised)
            for explanation in explanations:
                assert explanation.user == stranger
                assert len(explanation.what_ifs) <= 3
                kinds = [w.change.partition("=")[0] for w in explanation.what_ifs]
                assert len(set(kinds)) == len(kinds) and all(WHAT_IF.match(w.change) for w in explanation.what_ifs)
            assert max(latencies) < 5.0, latencies
            for job_id in (-1, 0, 2 ** 63 - 1):
                assert raw_refusal(cluster, user, "jobs", "ExplainJob", jobs_pb2.ExplainJobRequest(job_id=job_id)) \
                    == (grpc.StatusCode.NOT_FOUND, "JobNotFound")
            assert user.explain_job(ahead[0]).what_ifs == ()   # (root's: not the user's to change)
            assert cluster.controller.poll() is None
        finally:
            cancel_and_wait(cluster, root, [running, *ahead, *theirs])


# ---------------------------------------------------------------- refusals reach the user whole


def test_a_refusal_that_echoes_a_long_name_reaches_the_user_typed(make_cluster, stranger):
    """Names within the cluster's length limit but of 4-byte characters, echoed in a refusal,
    made a status message over gRPC's trailer limit: the user got RESOURCE_EXHAUSTED with no
    reason instead of the refusal. And a NUL in a user name asked a token for was an internal error."""
    cluster = policy_cluster(make_cluster, n_nodes=1)
    wide = "\U0001f4a5" * 1000
    with cluster.client() as root, cluster.client_as(stranger) as user:
        for error, fields in ((InvalidReservation, {"reservation": wide}), (InvalidQos, {"qos": wide}),
                              (InvalidFeature, {"constraint": wide})):
            with pytest.raises(error) as refused:
                user.submit(cluster.spec(SLEEP, hold=True, **fields))
            assert "\U0001f4a5" in str(refused.value)
        with pytest.raises(InvalidReservation):
            root.delete_reservation(wide * 16)
        with pytest.raises(PermissionDenied):
            user.issue_token(user="root\0")
        with pytest.raises(UserNotFound):
            root.issue_token(user="root\0")
        assert jobs_of(root, stranger) == []
    no_tracebacks(cluster)
