# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.
import datetime

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

class KillCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KILL_CAUSE_UNSPECIFIED: _ClassVar[KillCause]
    KILL_CAUSE_CANCEL: _ClassVar[KillCause]
    KILL_CAUSE_PREEMPTION: _ClassVar[KillCause]
    KILL_CAUSE_NODE_FAILURE: _ClassVar[KillCause]
    KILL_CAUSE_REQUEUE: _ClassVar[KillCause]

class JobEnd(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_END_UNSPECIFIED: _ClassVar[JobEnd]
    JOB_END_EXITED: _ClassVar[JobEnd]
    JOB_END_TIME_LIMIT: _ClassVar[JobEnd]
    JOB_END_KILLED: _ClassVar[JobEnd]
    JOB_END_OUT_OF_MEMORY: _ClassVar[JobEnd]
    JOB_END_LAUNCH_FAILED: _ClassVar[JobEnd]
    JOB_END_NODE_SHUTDOWN: _ClassVar[JobEnd]
KILL_CAUSE_UNSPECIFIED: KillCause
KILL_CAUSE_CANCEL: KillCause
KILL_CAUSE_PREEMPTION: KillCause
KILL_CAUSE_NODE_FAILURE: KillCause
KILL_CAUSE_REQUEUE: KillCause
JOB_END_UNSPECIFIED: JobEnd
JOB_END_EXITED: JobEnd
JOB_END_TIME_LIMIT: JobEnd
JOB_END_KILLED: JobEnd
JOB_END_OUT_OF_MEMORY: JobEnd
JOB_END_LAUNCH_FAILED: JobEnd
JOB_END_NODE_SHUTDOWN: JobEnd

class JobLaunch(_message.Message):
    __slots__ = ("job_id", "spec", "user", "uid", "gid", "nodes", "alloc", "time_limit_s", "kill_wait_s", "submit_dir", "cluster_name", "n_tasks", "cpu_ids", "gpu_ids", "array_job_id", "array_task_id", "restart_count", "credential", "user_signature", "node_epoch")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ALLOC_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    KILL_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_DIR_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    CPU_IDS_FIELD_NUMBER: _ClassVar[int]
    GPU_IDS_FIELD_NUMBER: _ClassVar[int]
    ARRAY_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ARRAY_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    USER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    NODE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    spec: _common_pb2.JobSpec
    user: str
    uid: int
    gid: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    alloc: _common_pb2.Resources
    time_limit_s: int
    kill_wait_s: int
    submit_dir: str
    cluster_name: str
    n_tasks: int
    cpu_ids: _containers.RepeatedScalarFieldContainer[int]
    gpu_ids: _containers.RepeatedScalarFieldContainer[int]
    array_job_id: int
    array_task_id: int
    restart_count: int
    credential: str
    user_signature: str
    node_epoch: int
    def __init__(self, job_id: _Optional[int] = ..., spec: _Optional[_Union[_common_pb2.JobSpec, _Mapping]] = ..., user: _Optional[str] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., alloc: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., time_limit_s: _Optional[int] = ..., kill_wait_s: _Optional[int] = ..., submit_dir: _Optional[str] = ..., cluster_name: _Optional[str] = ..., n_tasks: _Optional[int] = ..., cpu_ids: _Optional[_Iterable[int]] = ..., gpu_ids: _Optional[_Iterable[int]] = ..., array_job_id: _Optional[int] = ..., array_task_id: _Optional[int] = ..., restart_count: _Optional[int] = ..., credential: _Optional[str] = ..., user_signature: _Optional[str] = ..., node_epoch: _Optional[int] = ...) -> None: ...

class LaunchJobsRequest(_message.Message):
    __slots__ = ("launches",)
    LAUNCHES_FIELD_NUMBER: _ClassVar[int]
    launches: _containers.RepeatedCompositeFieldContainer[JobLaunch]
    def __init__(self, launches: _Optional[_Iterable[_Union[JobLaunch, _Mapping]]] = ...) -> None: ...

class LaunchJobsResponse(_message.Message):
    __slots__ = ("accepted_job_ids",)
    ACCEPTED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    accepted_job_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, accepted_job_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SignalJobRequest(_message.Message):
    __slots__ = ("job_id", "signal", "kill_wait_s", "scope", "restart_count", "cause")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    KILL_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    signal: int
    kill_wait_s: int
    scope: _common_pb2.SignalScope
    restart_count: int
    cause: KillCause
    def __init__(self, job_id: _Optional[int] = ..., signal: _Optional[int] = ..., kill_wait_s: _Optional[int] = ..., scope: _Optional[_Union[_common_pb2.SignalScope, str]] = ..., restart_count: _Optional[int] = ..., cause: _Optional[_Union[KillCause, str]] = ...) -> None: ...

class SuspendRunRequest(_message.Message):
    __slots__ = ("job_id", "restart_count", "resume")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    restart_count: int
    resume: bool
    def __init__(self, job_id: _Optional[int] = ..., restart_count: _Optional[int] = ..., resume: _Optional[bool] = ...) -> None: ...

class SuspendRunResponse(_message.Message):
    __slots__ = ("suspended_s",)
    SUSPENDED_S_FIELD_NUMBER: _ClassVar[int]
    suspended_s: float
    def __init__(self, suspended_s: _Optional[float] = ...) -> None: ...

class SetTimeLimitRequest(_message.Message):
    __slots__ = ("job_id", "restart_count", "time_limit_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    restart_count: int
    time_limit_s: int
    def __init__(self, job_id: _Optional[int] = ..., restart_count: _Optional[int] = ..., time_limit_s: _Optional[int] = ...) -> None: ...

class SetTimeLimitResponse(_message.Message):
    __slots__ = ("is_expired",)
    IS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    is_expired: bool
    def __init__(self, is_expired: _Optional[bool] = ...) -> None: ...

class SignalJobResponse(_message.Message):
    __slots__ = ("n_processes",)
    N_PROCESSES_FIELD_NUMBER: _ClassVar[int]
    n_processes: int
    def __init__(self, n_processes: _Optional[int] = ...) -> None: ...

class JobReport(_message.Message):
    __slots__ = ("job_id", "has_ended", "end", "exit_code", "exit_signal", "start_time", "end_time", "usage", "detail", "restart_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_ENDED_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    has_ended: bool
    end: JobEnd
    exit_code: int
    exit_signal: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    usage: _common_pb2.JobUsage
    detail: str
    restart_count: int
    def __init__(self, job_id: _Optional[int] = ..., has_ended: _Optional[bool] = ..., end: _Optional[_Union[JobEnd, str]] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.JobUsage, _Mapping]] = ..., detail: _Optional[str] = ..., restart_count: _Optional[int] = ...) -> None: ...

class JobRun(_message.Message):
    __slots__ = ("job_id", "restart_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    restart_count: int
    def __init__(self, job_id: _Optional[int] = ..., restart_count: _Optional[int] = ...) -> None: ...

class RegisterNodeRequest(_message.Message):
    __slots__ = ("name", "agent_address", "capacity", "running_job_ids", "cgroup_mode", "boot_id", "gpu_isolation", "runs", "unreported_runs", "epoch")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    CGROUP_MODE_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    GPU_ISOLATION_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    UNREPORTED_RUNS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    name: str
    agent_address: str
    capacity: _common_pb2.Resources
    running_job_ids: _containers.RepeatedScalarFieldContainer[int]
    cgroup_mode: str
    boot_id: str
    gpu_isolation: str
    runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    unreported_runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    epoch: int
    def __init__(self, name: _Optional[str] = ..., agent_address: _Optional[str] = ..., capacity: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., running_job_ids: _Optional[_Iterable[int]] = ..., cgroup_mode: _Optional[str] = ..., boot_id: _Optional[str] = ..., gpu_isolation: _Optional[str] = ..., runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ..., unreported_runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ..., epoch: _Optional[int] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("heartbeat_interval_s", "cluster_name")
    HEARTBEAT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_s: int
    cluster_name: str
    def __init__(self, heartbeat_interval_s: _Optional[int] = ..., cluster_name: _Optional[str] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("name", "running_job_ids", "boot_id", "unreported_job_ids", "health_error", "runs", "unreported_runs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    UNREPORTED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_ERROR_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    UNREPORTED_RUNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    running_job_ids: _containers.RepeatedScalarFieldContainer[int]
    boot_id: str
    unreported_job_ids: _containers.RepeatedScalarFieldContainer[int]
    health_error: str
    runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    unreported_runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    def __init__(self, name: _Optional[str] = ..., running_job_ids: _Optional[_Iterable[int]] = ..., boot_id: _Optional[str] = ..., unreported_job_ids: _Optional[_Iterable[int]] = ..., health_error: _Optional[str] = ..., runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ..., unreported_runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("is_registered", "orphan_job_ids", "orphan_runs")
    IS_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_RUNS_FIELD_NUMBER: _ClassVar[int]
    is_registered: bool
    orphan_job_ids: _containers.RepeatedScalarFieldContainer[int]
    orphan_runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    def __init__(self, is_registered: _Optional[bool] = ..., orphan_job_ids: _Optional[_Iterable[int]] = ..., orphan_runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ...) -> None: ...

class ReportJobEventsRequest(_message.Message):
    __slots__ = ("name", "reports")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    reports: _containers.RepeatedCompositeFieldContainer[JobReport]
    def __init__(self, name: _Optional[str] = ..., reports: _Optional[_Iterable[_Union[JobReport, _Mapping]]] = ...) -> None: ...

class ReportJobEventsResponse(_message.Message):
    __slots__ = ("n_acked",)
    N_ACKED_FIELD_NUMBER: _ClassVar[int]
    n_acked: int
    def __init__(self, n_acked: _Optional[int] = ...) -> None: ...

class GetRunUsageRequest(_message.Message):
    __slots__ = ("job_id", "restart_count")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    restart_count: int
    def __init__(self, job_id: _Optional[int] = ..., restart_count: _Optional[int] = ...) -> None: ...

class TaskUsage(_message.Message):
    __slots__ = ("step_id", "task_id", "node", "cpu_us", "rss_kib", "max_rss_kib", "vmsize_kib", "max_vmsize_kib", "pages", "read_bytes", "write_bytes", "pids")
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    CPU_US_FIELD_NUMBER: _ClassVar[int]
    RSS_KIB_FIELD_NUMBER: _ClassVar[int]
    MAX_RSS_KIB_FIELD_NUMBER: _ClassVar[int]
    VMSIZE_KIB_FIELD_NUMBER: _ClassVar[int]
    MAX_VMSIZE_KIB_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    step_id: int
    task_id: int
    node: str
    cpu_us: int
    rss_kib: int
    max_rss_kib: int
    vmsize_kib: int
    max_vmsize_kib: int
    pages: int
    read_bytes: int
    write_bytes: int
    pids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, step_id: _Optional[int] = ..., task_id: _Optional[int] = ..., node: _Optional[str] = ..., cpu_us: _Optional[int] = ..., rss_kib: _Optional[int] = ..., max_rss_kib: _Optional[int] = ..., vmsize_kib: _Optional[int] = ..., max_vmsize_kib: _Optional[int] = ..., pages: _Optional[int] = ..., read_bytes: _Optional[int] = ..., write_bytes: _Optional[int] = ..., pids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetRunUsageResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskUsage]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskUsage, _Mapping]]] = ...) -> None: ...
