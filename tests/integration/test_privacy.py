"""Privacy and roles as Slurm sites configure them: PrivateData (jobs, usage, accounts) hides
others' jobs and usage from ordinary users in every listing; an Operator (AdminLevel) sees
and acts on every job without being root."""

import threading
import time

import grpc
import pytest

from harness import wait_until
from jem.model.errors import JobNotFound, NotJobOwner, PermissionDenied
from jem.model.jobfilter import JobFilter
from jem.model.states import JobState
from jem.v1 import jobs_pb2

SLEEP = "#!/bin/sh\nsleep 30\n"


@pytest.fixture
def private_cluster(make_cluster, operator_user):
    """PrivateData=jobs,usage, and `operator_user` an Operator."""
    cluster = make_cluster()
    with open(cluster.config_path) as f:
        text = f.read()
    text = text.replace('name = "test"\n', 'name = "test"\nprivate_data = ["jobs", "usage"]\n', 1)
    text += f'\n[[users]]\nname = "{operator_user}"\nadmin_level = "operator"\n'
    with open(cluster.config_path, "w") as f:
        f.write(text)
    return cluster.start()


def test_with_private_jobs_a_user_sees_only_their_own_jobs_everywhere(private_cluster, stranger):
    cluster = private_cluster
    with cluster.client() as root:
        roots = root.submit(cluster.spec(SLEEP, hold=True, name="secret-name"))
    with cluster.client_as(stranger) as user:
        theirs = user.submit(cluster.spec(SLEEP, hold=True))
        assert [j.job_id for j in user.list_jobs()] == [theirs]
        assert [j.job_id for j in user.list_jobs(include_old=True)] == [theirs]
        assert user.list_jobs(JobFilter(users=frozenset({"root"}))) == []
        assert user.list_jobs(JobFilter(job_ids=frozenset({roots}))) == []
        with pytest.raises(JobNotFound):
            user.get_job(roots)
        with pytest.raises(NotJobOwner):
            user.cancel(roots)
        # A watch stream carries their own jobs' events only, even when asked for root's.
        events = []
        stream = user._jobs.WatchJobs(jobs_pb2.WatchJobsRequest(), metadata=user._metadata, timeout=30)
        threading.Thread(target=_collect, args=(stream, events), daemon=True).start()
        with cluster.client() as root:
            def own_event_seen() -> bool:
                other = root.submit(cluster.spec(SLEEP, hold=True))
                root.cancel(other)
                user.update(theirs, name="mine")
                return any(job_id == theirs for job_id, _ in events)
            wait_until(own_event_seen, 20, interval_s=0.5, what="the user's own event")
        stream.cancel()
        assert {owner for _, owner in events} == {stranger}
        only_roots = user._jobs.WatchJobs(jobs_pb2.WatchJobsRequest(users=["root"]), metadata=user._metadata,
                                          timeout=30)
        assert list(only_roots) == []   # ends at once: nothing of root's to watch
        # Naming root's job gets no word of where it stands: the first event is their own job's.
        named = user._jobs.WatchJobs(jobs_pb2.WatchJobsRequest(job_ids=[roots, theirs]), metadata=user._metadata,
                                     timeout=30)
        first = next(named)
        named.cancel()
        assert (first.event, first.job.job_id) == ("current", theirs)
        user.cancel(theirs)
    with cluster.client() as root:   # root sees everything
        assert {j.job_id for j in root.list_jobs(include_old=True)} >= {roots, theirs}
        root.cancel(roots)


def _collect(stream, events: list) -> None:
    try:
        for response in stream:
            events.append((response.job.job_id, response.job.user))
    except grpc.RpcError:
        pass


def test_an_operator_sees_and_acts_on_every_job_but_is_not_root(private_cluster, stranger, operator_user):
    cluster = private_cluster
    with cluster.client_as(stranger) as user:
        # (eligible in an hour: released, it stays pending for the operator's hold)
        theirs = user.submit(cluster.spec(SLEEP, hold=True, begin_time=time.time() + 3600))
    with cluster.client_as(operator_user) as operator:
        assert theirs in [j.job_id for j in operator.list_jobs()]
        assert operator.get_job(theirs).user == stranger
        operator.update(theirs, nice=-10)          # a negative nice is the operators' to give
        operator.release(theirs)
        operator.hold(theirs)                       # held by an administrator: the owner cannot release it
        with pytest.raises(PermissionDenied):
            operator.issue_token(user=stranger)     # minting others' credentials stays root's
    with cluster.client_as(stranger) as user:
        with pytest.raises(PermissionDenied, match="held by an administrator"):
            user.release(theirs)
    with cluster.client_as(operator_user) as operator:
        operator.cancel(theirs)
        assert operator.get_job(theirs).state is JobState.CANCELLED


def test_without_private_data_everyone_sees_every_job(make_cluster, stranger):
    cluster = make_cluster().start()
    with cluster.client() as root:
        roots = root.submit(cluster.spec(SLEEP, hold=True))
    with cluster.client_as(stranger) as user:
        assert user.get_job(roots).user == "root"
        assert [j.job_id for j in user.list_jobs()] == [roots]
        assert user.get_job(roots).spec.script == ""    # but never another user's script
    with cluster.client() as root:
        root.cancel(roots)


def test_private_usage_shows_a_user_only_their_own_share_rows(private_cluster, stranger):
    cluster = private_cluster
    with cluster.client() as root:
        root.submit(cluster.spec(SLEEP, hold=True))
    with cluster.client_as(stranger) as user:
        user.submit(cluster.spec(SLEEP, hold=True))
        _, rows = user.list_shares()
        assert {r.user for r in rows if r.user} == {stranger}
    with cluster.client() as root:
        assert {r.user for r in root.list_shares()[1] if r.user} >= {"root", stranger}
