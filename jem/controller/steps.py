"""Running a job step: check who asks and what fits, record it, fan its tasks out
to the agents of its nodes, merge their streams, record its end.

Only the job's owner (or root) may start a step, only in a RUNNING job, and only
within the job's allocation (`layout_tasks`; with overcommit, more tasks than CPUs),
with a --multi-prog configuration that gives each of its tasks a program. The step's record is stored as
RUNNING before any task starts and its end is stored before the caller hears of
it. Concurrent steps of a job may share its CPUs (like srun --overlap); Slurm
would make the later step wait.

Each node's order names the job's run (restart count) and the node's epoch, both
read under the lock that saw the job RUNNING: the agent refuses (StaleRun) an order
for a run it no longer holds, so a step decided before a requeue never starts tasks
in the next run (`jem.agent.fencing`). Its tasks end with a launch error.

A step that `ends_job` is the whole work of an allocation made for it (srun
outside a job): when it ends, its job is killed with the step's end owed, so the
job ends COMPLETED or FAILED with the step's exit code.
"""

import logging
import queue
import signal
import threading
from typing import Callable, Iterator

import grpc

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.convert import task_exit_from_pb, task_output_from_pb
from jem.model import multiprog, policy
from jem.model.errors import AlreadyDone, InvalidArgument, JobNotFound, JobStateConflict, StaleRun
from jem.model.identity import Identity
from jem.model.job import Job
from jem.model.states import JobEvent, JobState
from jem.model.step import Step, StepSpec, TaskExit, TaskOrder, TaskOutput, layout_tasks
from jem.security import signatures
from jem.security.digest import step_spec_digest
from jem.security.tokens import AUD_STEP

log = logging.getLogger(__name__)

POLL_S = 0.2     # how often a step stream checks that its caller is still there
_NODE_DONE = object()


def start_step(state: ClusterState, job_id: int, spec: StepSpec, identity: Identity, *,
               now: float, user_signature: str = "") -> tuple[Step, list[tuple[str, str, TaskOrder]]]:
    """Check and record a new step; returns it and its (node, agent address, order) per node.
    A user signature, when sent, must be over this spec by the job's user (the tasks run as
    them): root's own signature cannot start tasks as a user (BadUserSignature)."""
    spec.check_sizes(state.config.limits)
    with state.lock:
        job = state.jobs.get(job_id)
        if job is None:
            raise JobNotFound(str(job_id))
        policy.require_job_access(identity, owner_uid=job.uid, owner=job.user, job_id=job_id)
        if job.state is JobState.PENDING:
            raise JobStateConflict(f"job {job_id} is pending")
        if job.state is not JobState.RUNNING:
            raise AlreadyDone(str(job_id))
        if user_signature and state.keys is not None:
            signatures.check_signature(user_signature, state.keys.authd_keys, audience=AUD_STEP, uid=job.uid,
                                       gid=job.gid, digest=step_spec_digest(spec))
        layout = layout_tasks(spec, job_nodes=job.nodes, job_cpus_per_node=job.shape.per_node.cpus,
                              job_cpus_per_task=job.spec.cpus_per_task)
        if spec.multi_prog:
            try:
                multiprog.check(spec.multi_prog, layout.n_tasks, name=spec.argv[0])
            except multiprog.MultiProgError as exc:
                raise InvalidArgument("; ".join(exc.lines)) from None
        step_id = state.steps.add(job_id)
        # As in Slurm 22.05 without --exact, a step holds all the job's CPUs on its nodes.
        n_cpus = len(layout.nodes) * job.shape.per_node.cpus
        step = Step(job_id, step_id, spec.step_name, layout.nodes, layout.n_tasks, n_cpus, start_time=now,
                    ends_job=spec.ends_job)
        # Each order names the job's run and the node's epoch now, under the lock that saw the job
        # RUNNING: a requeue, or a registration that settles the run, after this makes it stale.
        orders = [(name, state.nodes.get(name).agent_address,
                   _order(job, step, spec, i, layout.task_ids[i], user_signature, node_epoch=state.agents.epoch(name)))
                  for i, name in enumerate(layout.nodes)]
    try:
        state.store.save_step(step)
    except Exception:
        state.steps.remove(job_id, step_id)
        raise
    log.info("step started job_id=%d step=%d nodes=%s tasks=%d", job_id, step_id, ",".join(step.nodes), step.n_tasks)
    return step, orders


def _order(job: Job, step: Step, spec: StepSpec, node_index: int, task_ids: tuple[int, ...],
           user_signature: str, *, node_epoch: int) -> TaskOrder:
    return TaskOrder(
        job_id=job.job_id, step_id=step.step_id, spec=spec, user=job.user, uid=job.uid, gid=job.gid,
        task_ids=task_ids, step_nodes=step.nodes, job_nodes=job.nodes, n_tasks=step.n_tasks,
        alloc=job.shape.per_node, cpu_ids=job.cpu_ids[node_index] if job.cpu_ids else (),
        gpu_ids=job.gpu_ids[node_index] if job.gpu_ids else (), job_name=job.spec.name,
        array_job_id=job.array_job_id, array_task_id=job.array_task_id, user_signature=user_signature,
        restart_count=job.restart_count, node_epoch=node_epoch,
    )


def follow_step(state: ClusterState, step: Step, orders: list[tuple[str, str, TaskOrder]], spec: StepSpec, *,
                is_active: Callable[[], bool], clock: Callable[[], float]) -> Iterator[TaskOutput | TaskExit | Step]:
    """Run the orders on their agents and yield the tasks' output and exits, then the
    ended step (stored first). A caller that goes away (`is_active()` false) or a
    cancel of the job kills the tasks."""
    events: queue.Queue = queue.Queue()
    for node, address, order in orders:
        threading.Thread(target=_relay, args=(state, node, address, order, events), daemon=True,
                         name=f"step-{step.job_id}.{step.step_id}").start()
    exits: list[TaskExit] = []
    left = len(orders)
    caller_left = False
    try:
        while left:
            try:
                event = events.get(timeout=POLL_S)
            except queue.Empty:
                if not is_active():
                    caller_left = True
                    state.steps.cancel(step.job_id, step.step_id)
                continue
            if event is _NODE_DONE:
                left -= 1
                continue
            if isinstance(event, TaskExit):
                exits.append(event)
            yield event
    finally:
        if left:   # the caller closed the stream while a message was on its way
            state.steps.cancel(step.job_id, step.step_id)
            caller_left = True
        was_cancelled = state.steps.remove(step.job_id, step.step_id) or caller_left
        step.finish(sorted(exits, key=lambda e: e.task_id), now=clock(), was_cancelled=was_cancelled)
        state.store.save_step(step)
        log.info("step ended job_id=%d step=%d state=%s exit_code=%d", step.job_id, step.step_id,
                 step.state.value, step.exit_code)
        if spec.ends_job:
            end_allocation(state, step, now=clock())
    yield step


def _relay(state: ClusterState, node: str, address: str, order: TaskOrder, events: queue.Queue) -> None:
    """Copy one node's task stream into `events`; a broken stream ends the tasks
    that have not reported (killed when the call was cancelled, else failed)."""
    ended: set[int] = set()
    call = state.agents.run_step_tasks(node, address, order)
    try:
        if not state.steps.attach(order.job_id, order.step_id, call):
            return
        for response in call:
            if response.HasField("exit"):
                ended.add(response.exit.task_id)
                events.put(task_exit_from_pb(response.exit))
            else:
                events.put(task_output_from_pb(response.output))
    except grpc.RpcError as exc:
        is_cancel = exc.code() == grpc.StatusCode.CANCELLED
        is_stale = _reason(exc) == StaleRun.reason   # the agent holds another run of the job: nothing ran
        if is_stale:
            log.warning("step tasks refused job_id=%d step=%d node=%s run=%s reason=%s", order.job_id,
                        order.step_id, node, order.restart_count, StaleRun.reason)
        elif not is_cancel:
            log.warning("step tasks lost job_id=%d step=%d node=%s code=%s", order.job_id, order.step_id, node,
                        exc.code().name)
        why = f"node {node} refused the tasks: {exc.details()}" if is_stale else \
            f"lost contact with node {node}: {exc.details()}"
        for task_id in sorted(set(order.task_ids) - ended):
            # Cancelled: the agent was killing it (SIGTERM first) when the call ended.
            events.put(TaskExit(task_id, node, exit_signal=int(signal.SIGTERM)) if is_cancel else
                       TaskExit(task_id, node, exit_code=1, launch_error=why))
    finally:
        events.put(_NODE_DONE)


def _reason(exc: grpc.RpcError) -> str:
    """The `jem-reason` an agent's refusal names (its JemError's type), "" for none."""
    trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    return dict(trailing or ()).get("jem-reason", "")


def end_allocation(state: ClusterState, step: Step, *, now: float) -> None:
    """End the job made for `step` with the step's result: kill its (placeholder)
    batch script, owing COMPLETE or FAIL with the step's exit code."""
    with state.lock:
        job = state.jobs.get(step.job_id)
        if job is None or job.state is not JobState.RUNNING:
            return
        job.exit_code, job.exit_signal = step.exit_code, step.exit_signal
        cause = {JobState.COMPLETED: JobEvent.COMPLETE, JobState.CANCELLED: JobEvent.CANCEL}.get(step.state,
                                                                                           JobEvent.FAIL)
        state.commit([lifecycle.kill_job(job, cause, now, detail=f"step {step.step_id} ended")])
        node = state.nodes.get(job.nodes[0])
        address, run = node.agent_address, job.restart_count
    if address:
        state.agents.signal(node.name, address, job.job_id, signal=0, kill_wait_s=state.config.scheduler.kill_wait_s,
                            restart_count=run)
