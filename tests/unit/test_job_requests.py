"""Users' and operators' requests on existing jobs (jem.controller.requests) on a real controller
state: node and job tables over a SQLite store, real keys. A running job's time limit (scontrol
update TimeLimit=): an operator raises or lowers it, its owner lowers it only; holds: an operator's
hold is an admin hold whoever owns the job, uhold a user hold, and a user neither lifts nor
weakens an admin hold. Orders to agents go to addresses nobody serves (they fail, logged); the
tests read the state and the store."""

import pytest

from jem.controller import lifecycle, requests
from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.nodes import NodeTable
from jem.controller.state import ClusterState
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.config import parse_config
from jem.model.errors import InvalidArgument, JobStateConflict, PartitionTimeLimit, PermissionDenied
from jem.model.identity import AdminLevel, Identity
from jem.model.job import Job, JobShape, JobSpec
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.scheduler.fairshare import Usage
from jem.store import SqliteStore

CONFIG = parse_config({"nodes": [{"names": "n[1-2]", "cpus": 8, "mem_mib": 8000}],
                       "partitions": [{"name": "p", "nodes": "ALL"},
                                      {"name": "short", "nodes": "ALL", "max_time": "00:20:00"}]})
ROOT = Identity(user="root", uid=0, gid=0)
ANN = Identity(user="ann", uid=1000, gid=1000, groups=())
OPERATOR = Identity(user="olga", uid=1001, gid=1001, admin_level=AdminLevel.OPERATOR)


@pytest.fixture
def state(tmp_path) -> ClusterState:
    store = SqliteStore(str(tmp_path / "jem.db"))
    bus = EventBus()
    state = ClusterState(
        config=CONFIG, store=store, jobs=JobTable(store, bus), nodes=NodeTable(CONFIG, store), bus=bus,
        agents=AgentLinks(ControllerKeys(str(tmp_path / "security"), with_authd_key=False)),
        steps=StepTable(store.next_step_id), usage=Usage(half_life_s=3600),
        submit_rate=SubmitRate(burst=100, per_s=100), streams=StreamSlots(per_user=10, total=10))
    with state.lock:
        for i, name in enumerate(("n1", "n2")):
            state.nodes.register(name, address=f"127.0.0.1:{10001 + i}", capacity=Resources(8, 8000, 0),
                                 boot_id="boot", cgroup_mode="none", now=0.0)
    return state


def added(state: ClusterState, owner: Identity = ANN, *, limit_s: int | None = 600, is_started: bool = True,
          held_by: str = "", partition: str = "p") -> int:
    job = Job(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition=partition, time_limit_s=limit_s),
              user=owner.user,
              uid=owner.uid, gid=owner.gid, submit_time=0.0, shape=JobShape(1, 1, Resources(1, 100, 0)),
              time_limit_s=limit_s, held_by=held_by)
    with state.lock:
        state.jobs.add(job, now=0.0)
        if is_started:
            state.commit([lifecycle.start_job(job, ("n1",), state.nodes, now=1.0)])
    return job.job_id


def limit(state: ClusterState, job_id: int) -> tuple[int | None, int | None]:
    """The job's time limit in memory and as stored."""
    return state.jobs.get(job_id).time_limit_s, state.store.get_job(job_id).time_limit_s


# ---------------------------------------------------------------- a running job's time limit

def test_an_operator_raises_and_lowers_a_running_jobs_time_limit(state):
    job_id = added(state)
    for who, new_s in ((ROOT, 3600), (OPERATOR, 120), (ROOT, 7200)):
        updated = requests.update_job(state, job_id, who, now=5.0, time_limit_s=new_s)
        assert updated.time_limit_s == updated.spec.time_limit_s == new_s
        assert limit(state, job_id) == (new_s, new_s)


def test_the_owner_lowers_a_running_jobs_time_limit_but_may_not_raise_it(state):
    job_id = added(state)
    assert requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=300).time_limit_s == 300
    for raised in (301, 3600, 0):   # (0: UNLIMITED)
        with pytest.raises(PermissionDenied):
            requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=raised)
    assert limit(state, job_id) == (300, 300)


def test_limiting_a_job_that_has_no_limit_is_a_lowering(state):
    job_id = added(state, limit_s=None)
    assert requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=900).time_limit_s == 900


def test_an_operator_takes_a_running_jobs_limit_off_with_zero(state):
    job_id = added(state)
    updated = requests.update_job(state, job_id, ROOT, now=5.0, time_limit_s=0)
    assert updated.time_limit_s is None and updated.spec.time_limit_unlimited
    assert limit(state, job_id) == (None, None)
    with pytest.raises(InvalidArgument):
        requests.update_job(state, job_id, ROOT, now=5.0, time_limit_s=-1)


def test_a_running_jobs_nice_partition_or_size_still_cannot_change(state):
    job_id = added(state)
    for change in ({"nice": 5}, {"partition": "p"}, {"n_nodes": 2}):
        with pytest.raises(JobStateConflict):
            requests.update_job(state, job_id, ROOT, now=5.0, **change)


def test_a_limit_a_reservation_cut_is_replaced_by_the_new_one(state):
    job_id = added(state)
    with state.lock:
        job = state.jobs.get(job_id)
        job.time_limit_s, job.time_limit_cut, job.uncut_time_limit_s = 60, True, 600
    updated = requests.update_job(state, job_id, ROOT, now=5.0, time_limit_s=1200)
    assert (updated.time_limit_s, updated.time_limit_cut, updated.uncut_time_limit_s) == (1200, False, None)


def test_the_owner_may_raise_a_pending_jobs_limit_within_its_partitions_max_time_only(state):
    job_id = added(state, is_started=False, partition="short")
    assert requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=1200).time_limit_s == 1200
    with pytest.raises(PartitionTimeLimit):
        requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=1201)
    with pytest.raises(PermissionDenied):   # (unlimited: an operator's)
        requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=0)
    assert requests.update_job(state, job_id, ANN, now=5.0, time_limit_s=60).time_limit_s == 60
    assert state.jobs.get(job_id).time_limit_s == 60


# ---------------------------------------------------------------- holds

def held(state: ClusterState, job_id: int) -> tuple[str, JobReason]:
    job = state.jobs.get(job_id)
    assert state.store.get_job(job_id).held_by == job.held_by
    return job.held_by, job.reason


def test_an_operators_hold_is_an_admin_hold_even_of_its_own_job(state):
    roots = added(state, ROOT, is_started=False)
    assert requests.hold_job(state, roots, ROOT, now=5.0) == "admin"
    assert held(state, roots) == ("admin", JobReason.JOB_HELD_ADMIN)
    theirs = added(state, is_started=False, held_by="user")   # (sbatch -H)
    assert requests.hold_job(state, theirs, OPERATOR, now=5.0) == "admin"
    assert held(state, theirs) == ("admin", JobReason.JOB_HELD_ADMIN)


def test_uhold_is_a_user_hold_whoever_asks_and_the_owner_releases_it(state):
    for who in (ROOT, ANN):
        job_id = added(state, is_started=False)
        assert requests.user_hold_job(state, job_id, who, now=5.0) == "user"
        assert held(state, job_id) == ("user", JobReason.JOB_HELD_USER)
        requests.release_job(state, job_id, ANN, now=6.0)
        assert held(state, job_id) == ("", JobReason.NONE)


def test_a_user_neither_releases_nor_weakens_an_admin_hold(state):
    job_id = added(state, is_started=False)
    requests.hold_job(state, job_id, ROOT, now=5.0)
    assert requests.hold_job(state, job_id, ANN, now=6.0) == "admin"        # (Slurm: rc 0, still admin)
    assert requests.user_hold_job(state, job_id, ANN, now=6.0) == "admin"
    with pytest.raises(PermissionDenied):
        requests.release_job(state, job_id, ANN, now=6.0)
    assert held(state, job_id) == ("admin", JobReason.JOB_HELD_ADMIN)
    assert requests.user_hold_job(state, job_id, ROOT, now=7.0) == "user"   # (an operator's uhold: user hold)
    requests.release_job(state, job_id, ANN, now=8.0)
    assert held(state, job_id) == ("", JobReason.NONE)


def test_a_users_hold_of_their_own_job_is_a_user_hold(state):
    job_id = added(state, is_started=False)
    assert requests.hold_job(state, job_id, ANN, now=5.0) == "user"
    assert held(state, job_id) == ("user", JobReason.JOB_HELD_USER)
    assert state.jobs.get(job_id).priority == 0


def test_a_suspended_jobs_limit_changes_too(state):
    job_id = added(state)
    with state.lock:
        state.jobs.get(job_id).state = JobState.SUSPENDED
    updated = requests.update_job(state, job_id, OPERATOR, now=5.0, time_limit_s=1800)
    assert (updated.state, updated.time_limit_s) == (JobState.SUSPENDED, 1800)
    assert state.store.get_job(job_id).time_limit_s == 1800
