"""Holds on a real cluster, as Slurm 22.05 makes them: `scontrol hold` by root (or an operator) is
an admin hold (JobHeldAdmin) whoever owns the job, root's own jobs included; `scontrol uhold` is a
user hold (JobHeldUser) whoever asks; a user can neither release an admin hold nor turn it into
their own by holding the job again; `sbatch -H` is a user hold."""

import time

import pytest

from jem.model.errors import PermissionDenied
from jem.model.reasons import JobReason
from jem.model.states import JobState

pytestmark = pytest.mark.integration

SLEEP = "#!/bin/sh\nsleep 30\n"


def hold_of(client, job_id: int) -> tuple[JobState, JobReason]:
    job = client.get_job(job_id)
    return job.state, job.reason


def test_roots_hold_of_its_own_job_is_an_admin_hold_and_uhold_a_user_hold(cluster):
    with cluster.client() as root:
        job_id = root.submit(cluster.spec(SLEEP, hold=True))
        assert hold_of(root, job_id) == (JobState.PENDING, JobReason.JOB_HELD_USER)   # (sbatch -H)
        assert root.hold(job_id) == "admin"
        assert hold_of(root, job_id) == (JobState.PENDING, JobReason.JOB_HELD_ADMIN)
        assert root.user_hold(job_id) == "user"
        assert hold_of(root, job_id) == (JobState.PENDING, JobReason.JOB_HELD_USER)
        root.cancel(job_id)


def test_a_user_cannot_release_or_weaken_an_admin_hold_but_releases_a_uhold(cluster, stranger):
    with cluster.client() as root, cluster.client_as(stranger) as user:
        # (waiting an hour for its begin time: released, it stays pending)
        job_id = user.submit(cluster.spec(SLEEP, hold=True, begin_time=time.time() + 3600))
        assert root.hold(job_id) == "admin"
        with pytest.raises(PermissionDenied) as refused:
            user.release(job_id)
        assert refused.value.message == "Access/permission denied"   # (what scontrol prints)
        assert user.hold(job_id) == "admin" and user.user_hold(job_id) == "admin"
        assert hold_of(user, job_id) == (JobState.PENDING, JobReason.JOB_HELD_ADMIN)
        assert root.user_hold(job_id) == "user"
        assert hold_of(user, job_id) == (JobState.PENDING, JobReason.JOB_HELD_USER)
        user.release(job_id)
        assert user.get_job(job_id).held_by == ""
        assert user.user_hold(job_id) == "user"
        assert hold_of(user, job_id) == (JobState.PENDING, JobReason.JOB_HELD_USER)
        user.cancel(job_id)
