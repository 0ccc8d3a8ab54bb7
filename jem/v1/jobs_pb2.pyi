# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.
import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jem.v1 import common_pb2 as _common_pb2
from jem.v1 import steps_pb2 as _steps_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_REPORT_KIND_UNSPECIFIED: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_CLUSTER: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_ACCOUNT_TREE: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_USERS: _ClassVar[UsageReportKind]

class JobUsageProblem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_USAGE_PROBLEM_UNSPECIFIED: _ClassVar[JobUsageProblem]
    JOB_USAGE_PROBLEM_NOT_FOUND: _ClassVar[JobUsageProblem]
    JOB_USAGE_PROBLEM_NOT_RUNNING: _ClassVar[JobUsageProblem]
    JOB_USAGE_PROBLEM_NOT_PERMITTED: _ClassVar[JobUsageProblem]
USAGE_REPORT_KIND_UNSPECIFIED: UsageReportKind
USAGE_REPORT_KIND_CLUSTER: UsageReportKind
USAGE_REPORT_KIND_ACCOUNT_TREE: UsageReportKind
USAGE_REPORT_KIND_USERS: UsageReportKind
JOB_USAGE_PROBLEM_UNSPECIFIED: JobUsageProblem
JOB_USAGE_PROBLEM_NOT_FOUND: JobUsageProblem
JOB_USAGE_PROBLEM_NOT_RUNNING: JobUsageProblem
JOB_USAGE_PROBLEM_NOT_PERMITTED: JobUsageProblem

class SubmitJobRequest(_message.Message):
    __slots__ = ("spec", "test_only", "user_signature")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TEST_ONLY_FIELD_NUMBER: _ClassVar[int]
    USER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.JobSpec
    test_only: bool
    user_signature: str
    def __init__(self, spec: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ..., test_only: _Optional[bool] = ..., user_signature: _Optional[str] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    def __init__(self, job_id: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "wait_while_pending_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_WHILE_PENDING_S_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    wait_while_pending_s: float
    def __init__(self, job_id: _Optional[int] = ..., wait_while_pending_s: _Optional[float] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.Job
    def __init__(self, job: _Optional[_Union[_common_pb2.Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("users", "states", "partitions", "job_ids", "include_old", "names", "accounts", "qos", "nodes", "array_tasks", "alive_from", "alive_until", "page_size", "after_job_id")
    USERS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OLD_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ARRAY_TASKS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    ALIVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    AFTER_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.JobState]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    include_old: bool
    names: _containers.RepeatedScalarFieldContainer[str]
    accounts: _containers.RepeatedScalarFieldContainer[str]
    qos: _containers.RepeatedScalarFieldContainer[str]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    array_tasks: _containers.RepeatedCompositeFieldContainer[ArrayTask]
    alive_from: _timestamp_pb2.Timestamp
    alive_until: _timestamp_pb2.Timestamp
    page_size: int
    after_job_id: int
    def __init__(self, users: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[_common_pb2.JobState, str]]] = ..., partitions: _Optional[_Iterable[str]] = ..., job_ids: _Optional[_Iterable[int]] = ..., include_old: _Optional[bool] = ..., names: _Optional[_Iterable[str]] = ..., accounts: _Optional[_Iterable[str]] = ..., qos: _Optional[_Iterable[str]] = ..., nodes: _Optional[_Iterable[str]] = ..., array_tasks: _Optional[_Iterable[_Union[ArrayTask, _Mapping]]] = ..., alive_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., alive_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., after_job_id: _Optional[int] = ...) -> None: ...

class ArrayTask(_message.Message):
    __slots__ = ("array_job_id", "task_id")
    ARRAY_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    array_job_id: int
    task_id: int
    def __init__(self, array_job_id: _Optional[int] = ..., task_id: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_after_job_id")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_common_pb2.Job]
    next_after_job_id: int
    def __init__(self, jobs: _Optional[_Iterable[_Union[_common_pb2.Job, _Mapping]]] = ..., next_after_job_id: _Optional[int] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id", "signal", "array_task_ids", "scope")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    ARRAY_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    signal: int
    array_task_ids: _containers.RepeatedScalarFieldContainer[int]
    scope: _common_pb2.SignalScope
    def __init__(self, job_id: _Optional[int] = ..., signal: _Optional[int] = ..., array_task_ids: _Optional[_Iterable[int]] = ..., scope: _Optional[_Union[_common_pb2.SignalScope, str]] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.JobState
    def __init__(self, state: _Optional[_Union[_common_pb2.JobState, str]] = ...) -> None: ...

class CompleteAllocationRequest(_message.Message):
    __slots__ = ("job_id", "exit_code")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    exit_code: int
    def __init__(self, job_id: _Optional[int] = ..., exit_code: _Optional[int] = ...) -> None: ...

class CompleteAllocationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.JobState
    def __init__(self, state: _Optional[_Union[_common_pb2.JobState, str]] = ...) -> None: ...

class HoldJobRequest(_message.Message):
    __slots__ = ("job_id", "user_hold")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    USER_HOLD_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    user_hold: bool
    def __init__(self, job_id: _Optional[int] = ..., user_hold: _Optional[bool] = ...) -> None: ...

class HoldJobResponse(_message.Message):
    __slots__ = ("held_by",)
    HELD_BY_FIELD_NUMBER: _ClassVar[int]
    held_by: str
    def __init__(self, held_by: _Optional[str] = ...) -> None: ...

class ReleaseJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    def __init__(self, job_id: _Optional[int] = ...) -> None: ...

class ReleaseJobResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.JobState
    def __init__(self, state: _Optional[_Union[_common_pb2.JobState, str]] = ...) -> None: ...

class UpdateJobRequest(_message.Message):
    __slots__ = ("job_id", "name", "time_limit_s", "nice", "partition", "n_nodes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    NICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    N_NODES_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    name: str
    time_limit_s: int
    nice: int
    partition: str
    n_nodes: int
    def __init__(self, job_id: _Optional[int] = ..., name: _Optional[str] = ..., time_limit_s: _Optional[int] = ..., nice: _Optional[int] = ..., partition: _Optional[str] = ..., n_nodes: _Optional[int] = ...) -> None: ...

class UpdateJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.Job
    def __init__(self, job: _Optional[_Union[_common_pb2.Job, _Mapping]] = ...) -> None: ...

class WatchJobsRequest(_message.Message):
    __slots__ = ("job_ids", "users")
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    users: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_ids: _Optional[_Iterable[int]] = ..., users: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchJobsResponse(_message.Message):
    __slots__ = ("seq", "time", "event", "job")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: _timestamp_pb2.Timestamp
    event: str
    job: _common_pb2.Job
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event: _Optional[str] = ..., job: _Optional[_Union[_common_pb2.Job, _Mapping]] = ...) -> None: ...

class RequeueJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    def __init__(self, job_id: _Optional[int] = ...) -> None: ...

class RequeueJobResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.JobState
    def __init__(self, state: _Optional[_Union[_common_pb2.JobState, str]] = ...) -> None: ...

class ListPrioritiesRequest(_message.Message):
    __slots__ = ("job_ids", "users", "partitions")
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    users: _containers.RepeatedScalarFieldContainer[str]
    partitions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_ids: _Optional[_Iterable[int]] = ..., users: _Optional[_Iterable[str]] = ..., partitions: _Optional[_Iterable[str]] = ...) -> None: ...

class PriorityFactors(_message.Message):
    __slots__ = ("age", "fairshare", "job_size", "partition", "qos")
    AGE_FIELD_NUMBER: _ClassVar[int]
    FAIRSHARE_FIELD_NUMBER: _ClassVar[int]
    JOB_SIZE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    age: float
    fairshare: float
    job_size: float
    partition: float
    qos: float
    def __init__(self, age: _Optional[float] = ..., fairshare: _Optional[float] = ..., job_size: _Optional[float] = ..., partition: _Optional[float] = ..., qos: _Optional[float] = ...) -> None: ...

class JobPriority(_message.Message):
    __slots__ = ("job_id", "user", "partition", "priority", "factors", "weighted", "nice", "cpus", "account")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_FIELD_NUMBER: _ClassVar[int]
    NICE_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    user: str
    partition: str
    priority: int
    factors: PriorityFactors
    weighted: PriorityFactors
    nice: int
    cpus: int
    account: str
    def __init__(self, job_id: _Optional[int] = ..., user: _Optional[str] = ..., partition: _Optional[str] = ..., priority: _Optional[int] = ..., factors: _Optional[_Union[PriorityFactors, _Mapping]] = ..., weighted: _Optional[_Union[PriorityFactors, _Mapping]] = ..., nice: _Optional[int] = ..., cpus: _Optional[int] = ..., account: _Optional[str] = ...) -> None: ...

class ListPrioritiesResponse(_message.Message):
    __slots__ = ("jobs", "weights")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobPriority]
    weights: PriorityFactors
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobPriority, _Mapping]]] = ..., weights: _Optional[_Union[PriorityFactors, _Mapping]] = ...) -> None: ...

class ExplainJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    def __init__(self, job_id: _Optional[int] = ...) -> None: ...

class RunningEnd(_message.Message):
    __slots__ = ("job_id", "nodes", "end_time")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeldLimit(_message.Message):
    __slots__ = ("holder", "setting", "in_use", "asked", "holders")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    ASKED_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    holder: str
    setting: str
    in_use: int
    asked: int
    holders: _containers.RepeatedCompositeFieldContainer[RunningEnd]
    def __init__(self, holder: _Optional[str] = ..., setting: _Optional[str] = ..., in_use: _Optional[int] = ..., asked: _Optional[int] = ..., holders: _Optional[_Iterable[_Union[RunningEnd, _Mapping]]] = ...) -> None: ...

class ExplainJobResponse(_message.Message):
    __slots__ = ("job_id", "user", "partition", "state", "reason", "reason_detail", "planned_start", "planned_start_is_estimate", "after", "limit", "jobs_ahead", "priority", "fairshare", "account_shares", "account_usage", "notes", "what_ifs", "planned_start_is_forecast")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_DETAIL_FIELD_NUMBER: _ClassVar[int]
    PLANNED_START_FIELD_NUMBER: _ClassVar[int]
    PLANNED_START_IS_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    JOBS_AHEAD_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FAIRSHARE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_SHARES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_USAGE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    WHAT_IFS_FIELD_NUMBER: _ClassVar[int]
    PLANNED_START_IS_FORECAST_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    user: str
    partition: str
    state: _common_pb2.JobState
    reason: _common_pb2.JobReason
    reason_detail: str
    planned_start: _timestamp_pb2.Timestamp
    planned_start_is_estimate: bool
    after: _containers.RepeatedCompositeFieldContainer[RunningEnd]
    limit: HeldLimit
    jobs_ahead: int
    priority: JobPriority
    fairshare: float
    account_shares: float
    account_usage: float
    notes: _containers.RepeatedScalarFieldContainer[str]
    what_ifs: _containers.RepeatedCompositeFieldContainer[WhatIf]
    planned_start_is_forecast: bool
    def __init__(self, job_id: _Optional[int] = ..., user: _Optional[str] = ..., partition: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., reason: _Optional[_Union[_common_pb2.JobReason, str]] = ..., reason_detail: _Optional[str] = ..., planned_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., planned_start_is_estimate: _Optional[bool] = ..., after: _Optional[_Iterable[_Union[RunningEnd, _Mapping]]] = ..., limit: _Optional[_Union[HeldLimit, _Mapping]] = ..., jobs_ahead: _Optional[int] = ..., priority: _Optional[_Union[JobPriority, _Mapping]] = ..., fairshare: _Optional[float] = ..., account_shares: _Optional[float] = ..., account_usage: _Optional[float] = ..., notes: _Optional[_Iterable[str]] = ..., what_ifs: _Optional[_Iterable[_Union[WhatIf, _Mapping]]] = ..., planned_start_is_forecast: _Optional[bool] = ...) -> None: ...

class WhatIf(_message.Message):
    __slots__ = ("change", "start_time", "is_estimate")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    IS_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    change: str
    start_time: _timestamp_pb2.Timestamp
    is_estimate: bool
    def __init__(self, change: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_estimate: _Optional[bool] = ...) -> None: ...

class SuspendJobRequest(_message.Message):
    __slots__ = ("job_id", "resume")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    resume: bool
    def __init__(self, job_id: _Optional[int] = ..., resume: _Optional[bool] = ...) -> None: ...

class SuspendJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.Job
    def __init__(self, job: _Optional[_Union[_common_pb2.Job, _Mapping]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("cluster_name", "host", "version", "server_time")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    host: str
    version: str
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, cluster_name: _Optional[str] = ..., host: _Optional[str] = ..., version: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageReportRequest(_message.Message):
    __slots__ = ("kind", "start_time", "end_time", "accounts", "users")
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    kind: UsageReportKind
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    accounts: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[UsageReportKind, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accounts: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[str]] = ...) -> None: ...

class UsageReportResponse(_message.Message):
    __slots__ = ("start_time", "end_time", "n_cpus", "reported_cpu_s", "allocated_cpu_s", "down_cpu_s", "planned_down_cpu_s", "idle_cpu_s", "planned_cpu_s", "over_committed_cpu_s", "associations")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    N_CPUS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_CPU_S_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_CPU_S_FIELD_NUMBER: _ClassVar[int]
    DOWN_CPU_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_DOWN_CPU_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_CPU_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_CPU_S_FIELD_NUMBER: _ClassVar[int]
    OVER_COMMITTED_CPU_S_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    n_cpus: int
    reported_cpu_s: int
    allocated_cpu_s: int
    down_cpu_s: int
    planned_down_cpu_s: int
    idle_cpu_s: int
    planned_cpu_s: int
    over_committed_cpu_s: int
    associations: _containers.RepeatedCompositeFieldContainer[AssociationUsage]
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., n_cpus: _Optional[int] = ..., reported_cpu_s: _Optional[int] = ..., allocated_cpu_s: _Optional[int] = ..., down_cpu_s: _Optional[int] = ..., planned_down_cpu_s: _Optional[int] = ..., idle_cpu_s: _Optional[int] = ..., planned_cpu_s: _Optional[int] = ..., over_committed_cpu_s: _Optional[int] = ..., associations: _Optional[_Iterable[_Union[AssociationUsage, _Mapping]]] = ...) -> None: ...

class AssociationUsage(_message.Message):
    __slots__ = ("account", "user", "parent_account", "cpu_s")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARENT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CPU_S_FIELD_NUMBER: _ClassVar[int]
    account: str
    user: str
    parent_account: str
    cpu_s: int
    def __init__(self, account: _Optional[str] = ..., user: _Optional[str] = ..., parent_account: _Optional[str] = ..., cpu_s: _Optional[int] = ...) -> None: ...

class JobUsageRequest(_message.Message):
    __slots__ = ("job_ids",)
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class UsageFigure(_message.Message):
    __slots__ = ("max", "max_node", "max_task", "min", "min_node", "min_task", "ave", "total")
    MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_NODE_FIELD_NUMBER: _ClassVar[int]
    MAX_TASK_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MIN_NODE_FIELD_NUMBER: _ClassVar[int]
    MIN_TASK_FIELD_NUMBER: _ClassVar[int]
    AVE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    max: int
    max_node: str
    max_task: int
    min: int
    min_node: str
    min_task: int
    ave: float
    total: int
    def __init__(self, max: _Optional[int] = ..., max_node: _Optional[str] = ..., max_task: _Optional[int] = ..., min: _Optional[int] = ..., min_node: _Optional[str] = ..., min_task: _Optional[int] = ..., ave: _Optional[float] = ..., total: _Optional[int] = ...) -> None: ...

class StepUsage(_message.Message):
    __slots__ = ("job_id", "step_id", "n_tasks", "nodes", "pids", "figures")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: UsageFigure
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[UsageFigure, _Mapping]] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    step_id: int
    n_tasks: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    pids: _containers.RepeatedScalarFieldContainer[int]
    figures: _containers.MessageMap[str, UsageFigure]
    def __init__(self, job_id: _Optional[int] = ..., step_id: _Optional[int] = ..., n_tasks: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., pids: _Optional[_Iterable[int]] = ..., figures: _Optional[_Mapping[str, UsageFigure]] = ...) -> None: ...

class JobUsageError(_message.Message):
    __slots__ = ("job_id", "problem")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    problem: JobUsageProblem
    def __init__(self, job_id: _Optional[int] = ..., problem: _Optional[_Union[JobUsageProblem, str]] = ...) -> None: ...

class JobUsageResponse(_message.Message):
    __slots__ = ("steps", "problems")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[StepUsage]
    problems: _containers.RepeatedCompositeFieldContainer[JobUsageError]
    def __init__(self, steps: _Optional[_Iterable[_Union[StepUsage, _Mapping]]] = ..., problems: _Optional[_Iterable[_Union[JobUsageError, _Mapping]]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("job_ids",)
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RequeuedRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[RequeuedRun, _Mapping]]] = ...) -> None: ...

class RequeuedRun(_message.Message):
    __slots__ = ("job_id", "run", "state", "start_time", "end_time", "nodes", "alloc_per_node", "exit_code", "exit_signal", "usage", "begin_time", "requeue_time", "next_begin_time", "retry", "detail")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ALLOC_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    BEGIN_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEGIN_TIME_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    run: int
    state: _common_pb2.JobState
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    nodes: _containers.RepeatedScalarFieldContainer[str]
    alloc_per_node: _common_pb2.Resources
    exit_code: int
    exit_signal: int
    usage: _common_pb2.JobUsage
    begin_time: _timestamp_pb2.Timestamp
    requeue_time: _timestamp_pb2.Timestamp
    next_begin_time: _timestamp_pb2.Timestamp
    retry: int
    detail: str
    def __init__(self, job_id: _Optional[int] = ..., run: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nodes: _Optional[_Iterable[str]] = ..., alloc_per_node: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[int] = ..., usage: _Optional[_Union[_common_pb2.JobUsage, _Mapping]] = ..., begin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requeue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_begin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retry: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class CrontabEntry(_message.Message):
    __slots__ = ("schedule", "spec", "user_signature", "job_id", "first_line", "last_line")
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    USER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_FIELD_NUMBER: _ClassVar[int]
    LAST_LINE_FIELD_NUMBER: _ClassVar[int]
    schedule: str
    spec: _common_pb2.JobSpec
    user_signature: str
    job_id: int
    first_line: int
    last_line: int
    def __init__(self, schedule: _Optional[str] = ..., spec: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ..., user_signature: _Optional[str] = ..., job_id: _Optional[int] = ..., first_line: _Optional[int] = ..., last_line: _Optional[int] = ...) -> None: ...

class SetCrontabRequest(_message.Message):
    __slots__ = ("user", "text", "entries", "remove")
    USER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    user: str
    text: str
    entries: _containers.RepeatedCompositeFieldContainer[CrontabEntry]
    remove: bool
    def __init__(self, user: _Optional[str] = ..., text: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[CrontabEntry, _Mapping]]] = ..., remove: _Optional[bool] = ...) -> None: ...

class SetCrontabResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CrontabEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[CrontabEntry, _Mapping]]] = ...) -> None: ...

class GetCrontabRequest(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: str
    def __init__(self, user: _Optional[str] = ...) -> None: ...

class GetCrontabResponse(_message.Message):
    __slots__ = ("exists", "text", "disabled_lines", "entries", "user")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_LINES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    text: str
    disabled_lines: _containers.RepeatedScalarFieldContainer[int]
    entries: _containers.RepeatedCompositeFieldContainer[CrontabEntry]
    user: str
    def __init__(self, exists: _Optional[bool] = ..., text: _Optional[str] = ..., disabled_lines: _Optional[_Iterable[int]] = ..., entries: _Optional[_Iterable[_Union[CrontabEntry, _Mapping]]] = ..., user: _Optional[str] = ...) -> None: ...
