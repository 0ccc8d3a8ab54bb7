"""Live usage of running jobs (sstat): ask the agents of each job's nodes what its
batch script and step tasks there have used so far, and merge their tasks per step.

The jobs and their nodes are read under the state lock; the agents are asked
outside it, all at once, each with a short timeout: a node that does not answer
in time (or no longer runs the job) is left out of the figures.
"""

import dataclasses
import logging

import grpc

from jem.controller.agents import USAGE_TIMEOUT_S
from jem.controller.state import ClusterState
from jem.convert import task_usage_from_pb
from jem.model.errors import ParameterTooLong
from jem.model.identity import Identity
from jem.model.states import JobState
from jem.model.stepusage import JobUsageReport, TaskUsage, UsageProblem, merge

log = logging.getLogger(__name__)

_RUNS = (JobState.RUNNING, JobState.SUSPENDED)
Ask = tuple[int, str, str, int]   # (job id, node name, agent address, run)


def live_usage(state: ClusterState, identity: Identity, job_ids: list[int], *,
               timeout_s: float = USAGE_TIMEOUT_S) -> JobUsageReport:
    """The running steps of `job_ids` with their usage so far, and why the others have none:
    unknown (also another's under PrivateData=jobs), not running, or another user's."""
    limit = state.config.limits.max_args
    if len(job_ids) > limit:
        raise ParameterTooLong(f"job_ids: {len(job_ids)} values, more than the cluster's limit of {limit}")
    asks, problems, running = _plan(state, identity, list(dict.fromkeys(job_ids)))
    calls = [(ask, state.agents.run_usage(ask[1], ask[2], ask[0], restart_count=ask[3], timeout_s=timeout_s))
             for ask in asks]
    tasks: dict[int, list[TaskUsage]] = {job_id: [] for job_id in running}
    for (job_id, node, _, _), future in calls:
        try:
            answer = future.result()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                log.warning("usage not read node=%s job_id=%d error=%s", node, job_id, exc.code())
            continue
        tasks[job_id] += [dataclasses.replace(task_usage_from_pb(pb), node=node) for pb in answer.tasks]
    steps = tuple(step for job_id in tasks for step in merge(job_id, tasks[job_id]))
    problems += [(job_id, UsageProblem.NOT_RUNNING) for job_id in tasks if not tasks[job_id]]
    return JobUsageReport(steps=steps, problems=tuple(problems))


def _plan(state: ClusterState, identity: Identity, job_ids: list[int]) -> tuple[list[Ask], list, list[int]]:
    """Under the lock: whom to ask about each job, the jobs not to ask about and why, and the
    running jobs asked about."""
    jobs_private = state.config.cluster.is_private("jobs")
    asks, problems, running = [], [], []
    with state.lock:
        for job_id in job_ids:
            job = state.jobs.get(job_id)
            if job is None or (jobs_private and not identity.may_act_on(job.uid)):
                problems.append((job_id, UsageProblem.NOT_FOUND))
            elif not identity.may_act_on(job.uid):
                problems.append((job_id, UsageProblem.NOT_PERMITTED))
            elif job.state not in _RUNS:
                problems.append((job_id, UsageProblem.NOT_RUNNING))
            else:
                running.append(job_id)
                nodes = [(name, state.nodes.get(name)) for name in job.nodes]
                asks += [(job_id, name, node.agent_address, job.restart_count)
                         for name, node in nodes if node is not None and node.agent_address]
    return asks, problems, running
