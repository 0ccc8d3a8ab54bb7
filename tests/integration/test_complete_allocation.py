"""CompleteAllocation (salloc's end, Slurm's slurm_complete_job) against a real cluster: the
allocation's owner ends it with its command's exit code and no step of its own; nobody else may,
and a batch job cannot be ended this way (it ends with its script)."""

import pytest

from jem.model.errors import AlreadyDone, NotAnAllocation, NotJobOwner
from jem.model.states import JobState
from jem.model.job import ALLOCATION_SCRIPT

SLEEP = "#!/bin/sh\nexec sleep 30\n"


def _running(cluster, client, job_id: int) -> None:
    cluster.wait_job(client, job_id, states={JobState.RUNNING})


def test_the_owner_completes_an_allocation_with_its_commands_exit_code(make_cluster):
    cluster = make_cluster().start()
    with cluster.client() as client:
        failed = client.submit(cluster.spec(ALLOCATION_SCRIPT, name="alloc"))
        completed = client.submit(cluster.spec(ALLOCATION_SCRIPT, name="alloc"))
        for job_id in (failed, completed):
            _running(cluster, client, job_id)
        client.complete_allocation(failed, 3)
        client.complete_allocation(completed, 0)
        ended = cluster.wait_job(client, failed)
        assert (ended.state, ended.exit_code) == (JobState.FAILED, 3)
        assert cluster.wait_job(client, completed).state is JobState.COMPLETED
        assert client.list_steps([failed, completed]) == []   # (salloc's old way left a step of its own)
        with pytest.raises(AlreadyDone):
            client.complete_allocation(failed, 0)


def test_no_other_user_and_no_batch_job_can_be_completed(make_cluster, stranger):
    cluster = make_cluster().start()
    with cluster.client() as client, cluster.client_as(stranger) as other:
        allocation = client.submit(cluster.spec(ALLOCATION_SCRIPT, name="alloc"))
        batch = client.submit(cluster.spec(SLEEP))
        for job_id in (allocation, batch):
            _running(cluster, client, job_id)
        with pytest.raises(NotJobOwner):
            other.complete_allocation(allocation, 0)
        with pytest.raises(NotAnAllocation):
            client.complete_allocation(batch, 0)
        # Neither changed anything: both still run.
        assert {client.get_job(j).state for j in (allocation, batch)} == {JobState.RUNNING}
        client.complete_allocation(allocation, 0)
        client.cancel(batch)
        for job_id in (allocation, batch):
            cluster.wait_job(client, job_id)
