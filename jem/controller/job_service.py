"""JobService servicer: decode the request, call the operation, encode the answer."""

import queue
import time

import grpc

from jem.controller import requests
from jem.controller.interceptors import current_identity
from jem.controller.jobwire import JobWire
from jem.controller.state import ClusterState
from jem.controller.steps import follow_step, start_step
from jem.controller.submission import submit_job
from jem.convert import (STATE_FROM_PB, STATE_TO_PB, job_to_pb, scope_from_pb, spec_from_pb, step_spec_from_pb,
                         step_to_pb, task_exit_to_pb, task_output_to_pb, time_to_pb)
from jem.model import policy
from jem.model.errors import InvalidArgument, JobNotFound
from jem.model.step import Step, TaskExit
from jem.v1 import jobs_pb2, jobs_pb2_grpc, steps_pb2


def add_job_service(servicer: "JobServicer", server: grpc.Server) -> None:
    """Serve JobService, with ListJobs answered by the bytes JobWire joins, sent without being
    parsed into a message and serialized again (~5 ms of the controller's time for 10,000 jobs)."""
    list_jobs = grpc.unary_unary_rpc_method_handler(
        servicer.list_jobs_bytes, request_deserializer=jobs_pb2.ListJobsRequest.FromString, response_serializer=bytes)
    # gRPC asks generic handlers in order (so this one goes first) and keeps registered
    # methods in a dict by name (so this one goes last, replacing the generated entry).
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("jem.v1.JobService",
                                                                          {"ListJobs": list_jobs}),))
    jobs_pb2_grpc.add_JobServiceServicer_to_server(servicer, server)
    server.add_registered_method_handlers("jem.v1.JobService", {"ListJobs": list_jobs})


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, state: ClusterState, *, clock=time.time):
        self._state = state
        self._clock = clock
        self._wire = JobWire()  # ListJobs' per-job bytes, under the state lock

    def SubmitJob(self, request, context):
        job_id = submit_job(self._state, spec_from_pb(request.spec), current_identity(), now=self._clock(),
                            test_only=request.test_only, user_signature=request.user_signature)
        return jobs_pb2.SubmitJobResponse(job_id=job_id)

    def GetJob(self, request, context):
        with self._state.lock:
            job = self._state.jobs.get(request.job_id)
            if job is None:
                raise JobNotFound(str(request.job_id))
            return jobs_pb2.GetJobResponse(job=job_to_pb(job, with_script=policy.may_see_job_secrets(current_identity(), job.uid)))

    def ListJobs(self, request, context):
        return jobs_pb2.ListJobsResponse.FromString(self.list_jobs_bytes(request, context))

    def list_jobs_bytes(self, request, context) -> bytes:
        """ListJobs' response, serialized: what `list_jobs_handler` sends as it is."""
        try:
            states = {STATE_FROM_PB[s] for s in request.states}
        except KeyError:
            raise InvalidArgument("states: JOB_STATE_UNSPECIFIED or an unknown state") from None
        users, partitions, ids = set(request.users), set(request.partitions), set(request.job_ids)
        with self._state.lock:
            if request.include_old:
                jobs = self._state.store.list_jobs(users=sorted(users), job_ids=sorted(ids))
                if ids:  # an array's id also names its tasks
                    jobs += self._state.store.list_jobs(users=sorted(users), array_job_ids=sorted(ids))
                live = {j.job_id: j for j in self._state.jobs.all()}
                jobs = sorted({j.job_id: live.get(j.job_id, j) for j in jobs}.values(), key=lambda j: j.job_id)
            else:
                jobs = self._state.jobs.all()
            selected = [j for j in jobs
                        if (not users or j.user in users) and (not states or j.state in states)
                        and (not partitions or j.spec.partition in partitions)
                        and (not ids or j.job_id in ids or j.array_job_id in ids)]
            data = self._wire.list_response(selected)
            if not request.include_old and self._wire.is_oversized(len(jobs)):  # `jobs` is then the whole table
                self._wire.forget_all_but({j.job_id for j in jobs})
        return data

    def CancelJob(self, request, context):
        identity, now = current_identity(), self._clock()
        task_ids = tuple(request.array_task_ids)
        if request.signal:
            state = requests.signal_job(self._state, request.job_id, identity, signal=request.signal,
                                        array_task_ids=task_ids, scope=scope_from_pb(request.scope))
        else:
            state = requests.cancel_job(self._state, request.job_id, identity, now=now, array_task_ids=task_ids)
        return jobs_pb2.CancelJobResponse(state=STATE_TO_PB[state])

    def HoldJob(self, request, context):
        held_by = requests.hold_job(self._state, request.job_id, current_identity(), now=self._clock())
        return jobs_pb2.HoldJobResponse(held_by=held_by)

    def ReleaseJob(self, request, context):
        state = requests.release_job(self._state, request.job_id, current_identity(), now=self._clock())
        return jobs_pb2.ReleaseJobResponse(state=STATE_TO_PB[state])

    def RequeueJob(self, request, context):
        state = requests.requeue_job(self._state, request.job_id, current_identity(), now=self._clock())
        return jobs_pb2.RequeueJobResponse(state=STATE_TO_PB[state])

    def UpdateJob(self, request, context):
        fields = {name: getattr(request, name) for name in ("name", "time_limit_s", "nice", "partition", "n_nodes")
                  if request.HasField(name)}
        job = requests.update_job(self._state, request.job_id, current_identity(), now=self._clock(), **fields)
        with self._state.lock:
            return jobs_pb2.UpdateJobResponse(job=job_to_pb(job))

    def RunStep(self, request, context):
        spec = step_spec_from_pb(request.spec)
        step, orders = start_step(self._state, request.job_id, spec, current_identity(), now=self._clock(),
                                  user_signature=request.user_signature)
        yield steps_pb2.RunStepResponse(step=step_to_pb(step))
        for event in follow_step(self._state, step, orders, spec, is_active=context.is_active, clock=self._clock):
            if isinstance(event, Step):
                yield steps_pb2.RunStepResponse(step=step_to_pb(event))
            elif isinstance(event, TaskExit):
                yield steps_pb2.RunStepResponse(exit=task_exit_to_pb(event))
            else:
                yield steps_pb2.RunStepResponse(output=task_output_to_pb(event))

    def ListSteps(self, request, context):
        steps = self._state.store.list_steps(list(request.job_ids))
        return steps_pb2.ListStepsResponse(steps=[step_to_pb(step) for step in steps])

    def WatchJobs(self, request, context):
        bus = self._state.bus
        subscription = bus.subscribe(job_ids=set(request.job_ids), users=set(request.users))
        try:
            while context.is_active():
                try:
                    event = subscription.queue.get(timeout=0.5)
                except queue.Empty:
                    if subscription.is_overrun:
                        raise InvalidArgument("watcher fell too far behind; watch again")
                    continue
                response = jobs_pb2.WatchJobsResponse(seq=event.seq, event=event.event,
                                                      job=job_to_pb(event.job, with_script=False))
                time_to_pb(event.time, response.time)
                yield response
        finally:
            bus.unsubscribe(subscription)
