"""Step orders fenced by run, with a real controller and agents: an order decided for an
earlier run of a job (before a requeue), or before its node's latest registration, reaches
an agent with the controller's credentials and the user's signature and is refused
(FAILED_PRECONDITION, reason StaleRun) on every node of the job, and no task of it runs;
steps of the job's current run go on working.

The stale orders are built as the controller builds them: a TaskOrder sent through the
controller's own AgentLinks (mutual TLS, a controller token, a fresh step credential)."""

import json
import os
import re
import signal
import uuid

import grpc
import pytest

from harness import processes_with_marker, wait_until

from jem.controller.agents import AgentLinks
from jem.controller.credentials import ControllerKeys
from jem.model.job import Job
from jem.model.states import JobState
from jem.model.step import Step, StepSpec, TaskOrder
from jem.security import signatures, tokens
from jem.security.digest import step_spec_digest

pytestmark = pytest.mark.integration

HOLD = "#!/bin/sh\nsleep 300\n"


def running_job(cluster, client, **fields) -> Job:
    job_id = client.submit(cluster.spec(HOLD, **fields))
    return wait_until(lambda: (job := client.get_job(job_id)).state is JobState.RUNNING and job,
                      what="the job running")


def task_order(cluster, job: Job, node: str, marker: str, *, run: int, epoch: int = 0) -> TaskOrder:
    """The order for `node`'s task of a step of `job` (one task per node) that leaves `marker` in
    the work dir, naming `run` and `epoch`, signed by the job's user (root, as the cluster's client)."""
    spec = StepSpec(argv=("sh", "-c", f"touch {marker}; sleep 300 # {marker}"), working_dir=cluster.workdir,
                    environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    signature = signatures.sign_request(cluster.authd_socket, tokens.AUD_STEP, step_spec_digest(spec))
    index = job.nodes.index(node)
    return TaskOrder(job_id=job.job_id, step_id=90 + index, spec=spec, user=job.user, uid=job.uid, gid=job.gid,
                     task_ids=(index,), step_nodes=job.nodes, job_nodes=job.nodes, n_tasks=len(job.nodes),
                     alloc=job.shape.per_node, user_signature=signature, restart_count=run, node_epoch=epoch)


def agent_addresses(client) -> dict[str, str]:
    return {i.node.name: i.node.agent_address for i in client.list_nodes()}


def refusal(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        list(call)
    return caught.value


def assert_stale(error: grpc.RpcError) -> None:
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION, error
    assert dict(error.trailing_metadata())["jem-reason"] == "StaleRun"


def true_step(cluster) -> StepSpec:
    """A step whose every task exits 0."""
    return StepSpec(argv=("true",), working_dir=cluster.workdir,
                    environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def steps_of(events) -> list[Step]:
    return [e for e in events if isinstance(e, Step)]


@pytest.fixture
def links(cluster):
    """The controller's own links to the agents (its key, its certificate), held by the test."""
    made = AgentLinks(ControllerKeys(cluster.security_dir, with_authd_key=False))
    yield made
    made.close()


def test_a_step_order_for_an_earlier_run_runs_nothing_while_the_current_run_takes_steps(cluster, links):
    stale_marker = os.path.join(cluster.workdir, f"stale-{uuid.uuid4().hex[:8]}")
    with cluster.client() as client:
        first = running_job(cluster, client, n_nodes=2, n_tasks=2)
        assert first.restart_count == 0 and set(first.nodes) == {"n1", "n2"}
        client.requeue(first.job_id)
        job = wait_until(lambda: (j := client.get_job(first.job_id)).restart_count == 1
                         and j.state is JobState.RUNNING and j, what="the job's second run")
        # A step of the current run works on both nodes (and tells the node without the batch
        # script which run is current).
        assert steps_of(client.run_step(job.job_id, true_step(cluster)))[-1].state is JobState.COMPLETED
        addresses = agent_addresses(client)
        # Orders decided for run 0 (the srun of the first run, arriving late): refused everywhere.
        for node in job.nodes:
            stale = task_order(cluster, job, node, stale_marker, run=0)
            assert_stale(refusal(links.run_step_tasks(node, addresses[node], stale)))
        # The very same order for the current run starts its task.
        current_marker = os.path.join(cluster.workdir, f"current-{uuid.uuid4().hex[:8]}")
        batch_node = job.nodes[0]
        call = links.run_step_tasks(batch_node, addresses[batch_node],
                                    task_order(cluster, job, batch_node, current_marker, run=1))
        wait_until(lambda: os.path.exists(current_marker), what="the current run's task to start")
        call.cancel()   # what the controller does when srun goes away: the agent kills the task
        wait_until(lambda: not processes_with_marker(current_marker), what="the current run's task gone")
        assert not os.path.exists(stale_marker) and not processes_with_marker(stale_marker)
        client.cancel(job.job_id)
        cluster.wait_job(client, job.job_id)


def node_epoch(cluster, node: str) -> int:
    """The epoch of the node agent's latest registration, as its spool keeps it."""
    with open(os.path.join(cluster.spool_root, node, "private", "epoch")) as f:
        return json.load(f)["epoch"]


def registered_epochs(cluster, node: str) -> list[int]:
    """The epochs the node's agents have registered under, as they logged it (after the
    controller answered: it had noted the epoch by then)."""
    return [int(e) for e in re.findall(rf"registered node={node} .* epoch=(\d+)", cluster.log(f"agent-{node}.log"))]


def test_a_step_order_sent_before_the_nodes_latest_registration_runs_nothing(cluster, links):
    marker = os.path.join(cluster.workdir, f"stale-{uuid.uuid4().hex[:8]}")
    with cluster.client() as client:
        job = running_job(cluster, client, n_nodes=1)
        node = job.nodes[0]
        before = node_epoch(cluster, node)
        # Once the keeper has recorded the run, the job outlives its agent: the agent restarts, takes
        # the run over and registers again, under a new epoch.
        wait_until(lambda: os.path.exists(os.path.join(cluster.spool_root, node, f"job{job.job_id}", "run")),
                   what="the run recorded by its keeper")
        cluster.stop_process(cluster.agents[node], signal.SIGKILL)
        cluster.start_agent(node)
        wait_until(lambda: max(registered_epochs(cluster, node), default=0) > before,
                   what="the agent's new registration")
        address = agent_addresses(client)[node]
        stale = task_order(cluster, job, node, marker, run=job.restart_count, epoch=before)
        assert_stale(refusal(links.run_step_tasks(node, address, stale)))
        assert not os.path.exists(marker) and not processes_with_marker(marker)
        # A step decided now carries the new epoch and runs.
        events = list(client.run_step(job.job_id, true_step(cluster)))
        assert steps_of(events)[-1].state is JobState.COMPLETED, [e for e in events if not isinstance(e, Step)]
        assert client.get_job(job.job_id).restart_count == job.restart_count   # the same run all along
        client.cancel(job.job_id)
        cluster.wait_job(client, job.job_id)
