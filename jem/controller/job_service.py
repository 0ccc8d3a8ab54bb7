"""JobService servicer: decode the request, call the operation, encode the answer."""

import bisect
import contextlib
import dataclasses
import queue
import socket
import time

import grpc

from jem.controller import crontab, requests, suspension
from jem.controller.explain import explain_job
from jem.controller.interceptors import current_identity
from jem.controller.jobwire import SEGMENT_IDS, JobWire, encoded
from jem.controller.priorities import list_priorities
from jem.controller.state import ClusterState
from jem.controller.steps import follow_step, start_step
from jem.controller.submission import submit_job
from jem.controller.usage_live import live_usage
from jem.controller.usage_report import usage_report
from jem.convert import (STATE_TO_PB, explanation_to_pb, filter_from_pb, job_priority_to_pb, job_to_pb, scope_from_pb, spec_from_pb,
                         step_spec_from_pb, step_to_pb, task_exit_to_pb, task_output_to_pb, time_to_pb)
from jem.convert import job_usage_to_pb, report_kind_from_pb, requeued_run_to_pb, time_from_pb, usage_report_to_pb
from jem.convert import entry_requests_from_pb, installed_entries_to_pb
from jem.model import policy
from jem.model.errors import InvalidArgument, JobNotFound, ParameterTooLong, TooManyStreams
from jem.model.controllerinfo import jem_version
from jem.model.identity import Identity
from jem.model.jobfilter import JobFilter
from jem.model.limits import check_filter_size
from jem.model.states import JobState
from jem.model.step import Step, TaskExit
from jem.v1 import jobs_pb2, jobs_pb2_grpc, steps_pb2


CURRENT_EVENT = "current"    # WatchJobs' first events: a job named, as it is when the watch begins
MAX_PAGE_JOBS = 5000         # jobs in one ListJobs response at most
MAX_PAGE_BYTES = 8 << 20     # and about this many bytes (a client accepts 64 MiB in one message)
IDS_PER_READ = 4096          # ids a listing takes from the index at a time
MAX_PENDING_WAIT_S = 5.0     # GetJob's wait_while_pending_s at most (a waiting call holds an RPC thread)
DEADLINE_MARGIN_S = 0.05     # a GetJob wait ends this long before the call's deadline, so its answer arrives


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


def _pending_wait_s(asked_s: float, context) -> float:
    """How long a GetJob may wait while its job is pending: as asked (not at all for 0, a negative
    or NaN), at most MAX_PENDING_WAIT_S, and ending DEADLINE_MARGIN_S before the call's deadline."""
    if not asked_s > 0:
        return 0.0
    remaining_s = context.time_remaining()
    if remaining_s is not None:
        asked_s = min(asked_s, remaining_s - DEADLINE_MARGIN_S)
    return max(0.0, min(asked_s, MAX_PENDING_WAIT_S))


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
        identity = current_identity()
        wait_s = _pending_wait_s(request.wait_while_pending_s, context)
        with contextlib.ExitStack() as held:
            if wait_s > 0 and self._took_stream_slot(held, identity):
                # Subscribed first, then the state read, so that no start falls between the two.
                subscription = self._state.bus.subscribe(job_ids={request.job_id}, users=set())
                held.callback(self._state.bus.unsubscribe, subscription)
                with self._state.lock:
                    is_pending = self._visible_job(request.job_id, identity).state is JobState.PENDING
                if is_pending:   # (and one the caller may see: JobNotFound comes before any wait)
                    subscription.wait_for(lambda job: job.state is not JobState.PENDING,
                                          deadline=time.monotonic() + wait_s, is_active=context.is_active)
            with self._state.lock:
                job = self._visible_job(request.job_id, identity)
                with_script = policy.may_see_job_secrets(identity, job.uid)
                return jobs_pb2.GetJobResponse(job=job_to_pb(job, with_script=with_script))

    def _took_stream_slot(self, held: contextlib.ExitStack, identity: Identity) -> bool:
        """Hold one of the caller's stream slots for `held`'s life: a waiting GetJob holds an RPC
        thread as a stream does. False when they are all taken: the call is then answered at once
        rather than refused, as a wait only saves the caller polls and its answer is right either way."""
        try:
            held.enter_context(self._state.streams.slot(identity))
        except TooManyStreams:
            return False
        return True

    def _visible_job(self, job_id: int, identity: Identity):
        """The job (lock held); JobNotFound for an unknown one or one the caller may not see."""
        job = self._state.jobs.get(job_id)
        if job is None or not self._may_see(identity, job.uid):
            raise JobNotFound(str(job_id))
        return job

    def ListJobs(self, request, context):
        return jobs_pb2.ListJobsResponse.FromString(self.list_jobs_bytes(request, context))

    def list_jobs_bytes(self, request, context) -> bytes:
        """ListJobs' response, serialized: what `list_jobs_handler` sends as it is. One page:
        at most `page_size` (and MAX_PAGE_JOBS) jobs and about MAX_PAGE_BYTES; old jobs are read
        from the store without the controller's lock."""
        try:
            job_filter = filter_from_pb(request)
        except KeyError:
            raise InvalidArgument("states: JOB_STATE_UNSPECIFIED or an unknown state") from None
        check_filter_size(job_filter, self._state.config.limits)
        job_filter = self._visible_part(job_filter, current_identity())
        if job_filter is None:
            return b""
        page_size = min(request.page_size, MAX_PAGE_JOBS) if request.page_size > 0 else MAX_PAGE_JOBS
        if request.include_old:
            stored = self._state.store.list_jobs(job_filter, after_job_id=request.after_job_id, limit=page_size)
            with self._state.lock:   # jobs still in memory as they are now
                in_memory = {j.job_id: self._state.jobs.find(j.job_id) for j in stored.jobs}
                kept = {job_id: self._wire.framed(job) for job_id, job in in_memory.items()
                        if job is not None and job_filter.matches(job)}
            # The others are as stored (old jobs do not change): encoded without the lock.
            page = self._wire.page(max_bytes=MAX_PAGE_BYTES)
            for job in stored.jobs:
                if in_memory[job.job_id] is not None:
                    framed = kept.get(job.job_id)
                elif job_filter.matches(job):
                    framed = encoded(job)
                else:
                    framed = None
                if framed is not None and not page.add_framed(job.job_id, framed):
                    break
            return page.response(next_after_job_id=stored.next_after_job_id)
        # From the page's first id on (and only the named users' jobs when it names some):
        # a page costs what it reads, not a scan of the whole queue. The lock is held for one
        # segment of ids (jobwire.SEGMENT_IDS) at a time, never a whole page: a submission
        # waits for a segment (well under a millisecond), not for a listing. A scan of the
        # queue reuses each unchanged segment's bytes whole (jobwire).
        page = self._wire.page(max_jobs=page_size, max_bytes=MAX_PAGE_BYTES)
        by_segment = not job_filter.users
        after_job_id = request.after_job_id
        while not page.is_full:
            # Ids a block at a time, so that a page of a big queue copies no more of them (the
            # named users' all at once: their own jobs, gathered from a set per user).
            with self._state.lock:
                ids = self._state.jobs.after(after_job_id, users=job_filter.users,
                                             limit=0 if job_filter.users else IDS_PER_READ)
            is_last_block = bool(job_filter.users) or len(ids) < IDS_PER_READ
            if not is_last_block:   # the block ends where a segment does: segments are read whole
                cut = bisect.bisect_left(ids, ids[-1] // SEGMENT_IDS * SEGMENT_IDS)
                ids = ids[:cut] if cut else ids
            first = 0
            while first < len(ids) and not page.is_full:
                end = bisect.bisect_left(ids, (ids[first] // SEGMENT_IDS + 1) * SEGMENT_IDS, first)
                with self._state.lock:
                    jobs = self._state.jobs
                    if by_segment:
                        self._wire.add_segment(page, job_filter, ids[first:end], jobs.find_all)
                    else:
                        for job in jobs.find_all(ids[first:end]):
                            if job is not None and job_filter.matches(job) and not page.add(job):
                                break
                first = end
            if is_last_block:
                break
            after_job_id = ids[-1]
        data = page.response()
        with self._state.lock:
            jobs = self._state.jobs
            if self._wire.is_oversized(jobs.count_in_memory()):
                self._wire.forget_all_but({j.job_id for j in jobs.all()})
        return data

    def _may_see(self, identity: Identity, owner_uid: int) -> bool:
        return policy.may_see_job(identity, owner_uid, jobs_private=self._state.config.cluster.is_private("jobs"))

    def _visible_part(self, job_filter: JobFilter, identity: Identity) -> JobFilter | None:
        """`job_filter` narrowed to the jobs the caller may see (PrivateData=jobs: their own, unless
        an operator); None when it asks only for others' jobs."""
        if not self._state.config.cluster.is_private("jobs") or identity.is_operator:
            return job_filter
        if job_filter.users and identity.user not in job_filter.users:
            return None
        return dataclasses.replace(job_filter, users=frozenset({identity.user}))

    def CancelJob(self, request, context):
        identity, now = current_identity(), self._clock()
        task_ids = tuple(request.array_task_ids)
        if request.signal:
            state = requests.signal_job(self._state, request.job_id, identity, signal=request.signal,
                                        array_task_ids=task_ids, scope=scope_from_pb(request.scope))
        else:
            state = requests.cancel_job(self._state, request.job_id, identity, now=now, array_task_ids=task_ids)
        return jobs_pb2.CancelJobResponse(state=STATE_TO_PB[state])

    def CompleteAllocation(self, request, context):
        state = requests.complete_allocation(self._state, request.job_id, current_identity(),
                                             exit_code=request.exit_code, now=self._clock())
        return jobs_pb2.CompleteAllocationResponse(state=STATE_TO_PB[state])

    def HoldJob(self, request, context):
        hold = requests.user_hold_job if request.user_hold else requests.hold_job   # (scontrol uhold, hold)
        held_by = hold(self._state, request.job_id, current_identity(), now=self._clock())
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

    def SuspendJob(self, request, context):
        job = suspension.suspend_job(self._state, request.job_id, current_identity(), now=self._clock(),
                                     resume=request.resume)
        with self._state.lock:
            return jobs_pb2.SuspendJobResponse(job=job_to_pb(job))

    def RunStep(self, request, context):
        identity = current_identity()
        with self._state.streams.slot(identity):   # a step's stream holds an RPC thread for its life
            spec = step_spec_from_pb(request.spec)
            step, orders = start_step(self._state, request.job_id, spec, identity, now=self._clock(),
                                      user_signature=request.user_signature)
            yield steps_pb2.RunStepResponse(step=step_to_pb(step))
            for event in follow_step(self._state, step, orders, spec, is_active=context.is_active,
                                     clock=self._clock):
                if isinstance(event, Step):
                    yield steps_pb2.RunStepResponse(step=step_to_pb(event))
                elif isinstance(event, TaskExit):
                    yield steps_pb2.RunStepResponse(exit=task_exit_to_pb(event))
                else:
                    yield steps_pb2.RunStepResponse(output=task_output_to_pb(event))

    def ListSteps(self, request, context):
        steps = self._state.store.list_steps(self._listed_job_ids(request.job_ids))
        return steps_pb2.ListStepsResponse(steps=[step_to_pb(step) for step in self._visible_records(steps)])

    def ListRuns(self, request, context):
        runs = self._state.store.list_runs(self._listed_job_ids(request.job_ids))
        return jobs_pb2.ListRunsResponse(runs=[requeued_run_to_pb(run) for run in self._visible_records(runs)])

    def _current(self, job_ids: list[int], users: set[str], identity: Identity):
        """WatchJobs' first events: each job of `job_ids` the caller may see, as it is now (event
        "current", seq 0)."""
        now = time.time()
        for job_id in job_ids:
            with self._state.lock:
                job = self._state.jobs.get(job_id)
                if job is None or not self._may_see(identity, job.uid) or (users and job.user not in users):
                    continue
                response = jobs_pb2.WatchJobsResponse(seq=0, event=CURRENT_EVENT,
                                                      job=job_to_pb(job, with_script=False))
            time_to_pb(now, response.time)
            yield response

    def _listed_job_ids(self, job_ids) -> list[int]:
        """A listing's job ids; ParameterTooLong beyond the cluster's max_args."""
        limits = self._state.config.limits
        if len(job_ids) > limits.max_args:
            raise ParameterTooLong(f"job_ids: {len(job_ids)} values, more than the cluster's limit of "
                                   f"{limits.max_args}")
        return list(job_ids)

    def _visible_records(self, records: list) -> list:
        """Records of jobs (steps, runs: each with a job_id) the caller may see (PrivateData=jobs)."""
        identity = current_identity()
        if not self._state.config.cluster.is_private("jobs") or identity.is_operator:
            return records
        with self._state.lock:
            owners = {job_id: job.uid for job_id in {r.job_id for r in records}
                      if (job := self._state.jobs.get(job_id)) is not None}
        return [r for r in records if self._may_see(identity, owners.get(r.job_id, -1))]

    def ListPriorities(self, request, context):
        weights, rows = list_priorities(self._state, current_identity(), now=self._clock(),
                                        job_ids=frozenset(request.job_ids), users=frozenset(request.users),
                                        partitions=frozenset(request.partitions))
        return jobs_pb2.ListPrioritiesResponse(weights=jobs_pb2.PriorityFactors(**weights),
                                               jobs=[job_priority_to_pb(row) for row in rows])

    def ExplainJob(self, request, context):
        return explanation_to_pb(explain_job(self._state, current_identity(), request.job_id, now=self._clock()))

    def Ping(self, request, context):
        response = jobs_pb2.PingResponse(cluster_name=self._state.config.cluster.name, host=socket.gethostname(),
                                         version=jem_version())
        time_to_pb(self._clock(), response.server_time)
        return response

    def UsageReport(self, request, context):
        kind = report_kind_from_pb(request.kind)
        start, end = time_from_pb(request, "start_time"), time_from_pb(request, "end_time")
        if start is None or end is None:
            raise InvalidArgument("start_time and end_time are required")
        report = usage_report(self._state, current_identity(), kind=kind, start=start, end=end,
                              accounts=frozenset(request.accounts), users=frozenset(request.users),
                              now=self._clock())
        return usage_report_to_pb(report)

    def JobUsage(self, request, context):
        """sstat: the running steps' usage so far, from the agents of the jobs' nodes (`usage_live`)."""
        return job_usage_to_pb(live_usage(self._state, current_identity(), list(request.job_ids)))

    def SetCrontab(self, request, context):
        """scrontab FILE, -e, -r: install, replace or remove a user's crontab (jem.controller.crontab)."""
        if request.remove:
            if request.text or request.entries:
                raise InvalidArgument("remove: a removal carries no text and no entries")
            crontab.remove_crontab(self._state, current_identity(), user=request.user, now=self._clock())
            return jobs_pb2.SetCrontabResponse()
        installed = crontab.install_crontab(self._state, current_identity(), user=request.user, text=request.text,
                                            entries=entry_requests_from_pb(request.entries), now=self._clock())
        return jobs_pb2.SetCrontabResponse(entries=installed_entries_to_pb(installed))

    def GetCrontab(self, request, context):
        """scrontab -l, -e: a user's crontab as installed, and the lines disabled since."""
        identity = current_identity()
        found = crontab.read_crontab(self._state, identity, user=request.user)
        if found is None:
            return jobs_pb2.GetCrontabResponse(user=request.user or identity.user)
        return jobs_pb2.GetCrontabResponse(exists=True, user=found.user, text=found.text,
                                           disabled_lines=sorted(found.disabled_lines),
                                           entries=installed_entries_to_pb(found))

    def WatchJobs(self, request, context):
        with self._state.streams.slot(current_identity()):
            yield from self._watch(request, context)

    def _watch(self, request, context):
        bus = self._state.bus
        users = set(request.users)
        identity = current_identity()
        if self._state.config.cluster.is_private("jobs") and not identity.is_operator:
            if users and identity.user not in users:
                return
            users = {identity.user}
        job_ids = self._listed_job_ids(request.job_ids)
        subscription = bus.subscribe(job_ids=set(job_ids), users=users)
        try:
            # Then where each job named stands now (subscribed first, so nothing falls between):
            # a job may well have ended before its submitter's watch began, as JEM starts one
            # within milliseconds, and a watch that waits for its end would wait for ever.
            yield from self._current(job_ids, users, identity)
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
