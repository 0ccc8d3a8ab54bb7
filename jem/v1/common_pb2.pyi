# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_PENDING: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUSPENDED: _ClassVar[JobState]
    JOB_STATE_COMPLETING: _ClassVar[JobState]
    JOB_STATE_COMPLETED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_TIMEOUT: _ClassVar[JobState]
    JOB_STATE_NODE_FAIL: _ClassVar[JobState]
    JOB_STATE_OUT_OF_MEMORY: _ClassVar[JobState]
    JOB_STATE_PREEMPTED: _ClassVar[JobState]
    JOB_STATE_REQUEUED: _ClassVar[JobState]
    JOB_STATE_BOOT_FAIL: _ClassVar[JobState]
    JOB_STATE_DEADLINE: _ClassVar[JobState]

class JobReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_REASON_UNSPECIFIED: _ClassVar[JobReason]
    JOB_REASON_NONE: _ClassVar[JobReason]
    JOB_REASON_PRIORITY: _ClassVar[JobReason]
    JOB_REASON_RESOURCES: _ClassVar[JobReason]
    JOB_REASON_DEPENDENCY: _ClassVar[JobReason]
    JOB_REASON_JOB_HELD_USER: _ClassVar[JobReason]
    JOB_REASON_JOB_HELD_ADMIN: _ClassVar[JobReason]
    JOB_REASON_BEGIN_TIME: _ClassVar[JobReason]
    JOB_REASON_PARTITION_DOWN: _ClassVar[JobReason]
    JOB_REASON_NODE_DOWN: _ClassVar[JobReason]
    JOB_REASON_PARTITION_TIME_LIMIT: _ClassVar[JobReason]
    JOB_REASON_DEPENDENCY_NEVER_SATISFIED: _ClassVar[JobReason]
    JOB_REASON_LAUNCH_FAILED: _ClassVar[JobReason]
    JOB_REASON_NON_ZERO_EXIT_CODE: _ClassVar[JobReason]
    JOB_REASON_TIME_LIMIT: _ClassVar[JobReason]
    JOB_REASON_NODE_FAIL: _ClassVar[JobReason]
    JOB_REASON_BEGIN_TIME_REQUEUE: _ClassVar[JobReason]
    JOB_REASON_RAISED_SIGNAL: _ClassVar[JobReason]
    JOB_REASON_PARTITION_NODE_LIMIT: _ClassVar[JobReason]
    JOB_REASON_OUT_OF_MEMORY: _ClassVar[JobReason]
    JOB_REASON_JOB_ARRAY_TASK_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_JOBS_LIMIT: _ClassVar[JobReason]
    JOB_REASON_LAUNCH_FAILED_REQUEUE_HELD: _ClassVar[JobReason]
    JOB_REASON_REQ_NODE_NOT_AVAIL: _ClassVar[JobReason]
    JOB_REASON_ACCOUNT_NOT_ALLOWED: _ClassVar[JobReason]
    JOB_REASON_QOS_NOT_ALLOWED: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_CPU_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_MEM_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_NODE_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_ENERGY: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_BILLING: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_GRES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_CPU_RUN_MINUTES_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_MEM_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_NODE_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_ENERGY_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_BILLING_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_GRES_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_JOBS_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_GRP_SUBMIT_JOBS_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_CPU_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_MEM_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_NODE_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_ENERGY_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_BILLING_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_GRES_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_SUBMIT_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_ASSOC_MAX_WALL_DURATION_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_CPU_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_MEM_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_NODE_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_ENERGY: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_BILLING: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_GRES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_CPU_RUN_MINUTES_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_MEMORY_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_NODE_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_ENERGY_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_BILLING_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_GRES_RUN_MINUTES: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_JOBS_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_GRP_SUBMIT_JOBS_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_CPU_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_MEMORY_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_NODE_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_ENERGY_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_BILLING_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_GRES_PER_JOB: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_CPU_PER_USER_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_MEMORY_PER_USER: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_NODE_PER_USER_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_ENERGY_PER_USER: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_BILLING_PER_USER: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_GRES_PER_USER: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_JOBS_PER_USER_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_SUBMIT_JOB_PER_USER_LIMIT: _ClassVar[JobReason]
    JOB_REASON_QOS_MAX_WALL_DURATION_PER_JOB_LIMIT: _ClassVar[JobReason]
    JOB_REASON_RESERVATION: _ClassVar[JobReason]
    JOB_REASON_RESERVATION_DELETED: _ClassVar[JobReason]

class SignalScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_SCOPE_UNSPECIFIED: _ClassVar[SignalScope]
    SIGNAL_SCOPE_STEPS: _ClassVar[SignalScope]
    SIGNAL_SCOPE_BATCH: _ClassVar[SignalScope]
    SIGNAL_SCOPE_FULL: _ClassVar[SignalScope]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_IDLE: _ClassVar[NodeState]
    NODE_STATE_MIXED: _ClassVar[NodeState]
    NODE_STATE_ALLOCATED: _ClassVar[NodeState]
    NODE_STATE_DRAINING: _ClassVar[NodeState]
    NODE_STATE_DRAINED: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_PENDING: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUSPENDED: JobState
JOB_STATE_COMPLETING: JobState
JOB_STATE_COMPLETED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_TIMEOUT: JobState
JOB_STATE_NODE_FAIL: JobState
JOB_STATE_OUT_OF_MEMORY: JobState
JOB_STATE_PREEMPTED: JobState
JOB_STATE_REQUEUED: JobState
JOB_STATE_BOOT_FAIL: JobState
JOB_STATE_DEADLINE: JobState
JOB_REASON_UNSPECIFIED: JobReason
JOB_REASON_NONE: JobReason
JOB_REASON_PRIORITY: JobReason
JOB_REASON_RESOURCES: JobReason
JOB_REASON_DEPENDENCY: JobReason
JOB_REASON_JOB_HELD_USER: JobReason
JOB_REASON_JOB_HELD_ADMIN: JobReason
JOB_REASON_BEGIN_TIME: JobReason
JOB_REASON_PARTITION_DOWN: JobReason
JOB_REASON_NODE_DOWN: JobReason
JOB_REASON_PARTITION_TIME_LIMIT: JobReason
JOB_REASON_DEPENDENCY_NEVER_SATISFIED: JobReason
JOB_REASON_LAUNCH_FAILED: JobReason
JOB_REASON_NON_ZERO_EXIT_CODE: JobReason
JOB_REASON_TIME_LIMIT: JobReason
JOB_REASON_NODE_FAIL: JobReason
JOB_REASON_BEGIN_TIME_REQUEUE: JobReason
JOB_REASON_RAISED_SIGNAL: JobReason
JOB_REASON_PARTITION_NODE_LIMIT: JobReason
JOB_REASON_OUT_OF_MEMORY: JobReason
JOB_REASON_JOB_ARRAY_TASK_LIMIT: JobReason
JOB_REASON_ASSOC_MAX_JOBS_LIMIT: JobReason
JOB_REASON_LAUNCH_FAILED_REQUEUE_HELD: JobReason
JOB_REASON_REQ_NODE_NOT_AVAIL: JobReason
JOB_REASON_ACCOUNT_NOT_ALLOWED: JobReason
JOB_REASON_QOS_NOT_ALLOWED: JobReason
JOB_REASON_ASSOC_GRP_CPU_LIMIT: JobReason
JOB_REASON_ASSOC_GRP_MEM_LIMIT: JobReason
JOB_REASON_ASSOC_GRP_NODE_LIMIT: JobReason
JOB_REASON_ASSOC_GRP_ENERGY: JobReason
JOB_REASON_ASSOC_GRP_BILLING: JobReason
JOB_REASON_ASSOC_GRP_GRES: JobReason
JOB_REASON_ASSOC_GRP_CPU_RUN_MINUTES_LIMIT: JobReason
JOB_REASON_ASSOC_GRP_MEM_RUN_MINUTES: JobReason
JOB_REASON_ASSOC_GRP_NODE_RUN_MINUTES: JobReason
JOB_REASON_ASSOC_GRP_ENERGY_RUN_MINUTES: JobReason
JOB_REASON_ASSOC_GRP_BILLING_RUN_MINUTES: JobReason
JOB_REASON_ASSOC_GRP_GRES_RUN_MINUTES: JobReason
JOB_REASON_ASSOC_GRP_JOBS_LIMIT: JobReason
JOB_REASON_ASSOC_GRP_SUBMIT_JOBS_LIMIT: JobReason
JOB_REASON_ASSOC_MAX_CPU_PER_JOB_LIMIT: JobReason
JOB_REASON_ASSOC_MAX_MEM_PER_JOB: JobReason
JOB_REASON_ASSOC_MAX_NODE_PER_JOB_LIMIT: JobReason
JOB_REASON_ASSOC_MAX_ENERGY_PER_JOB: JobReason
JOB_REASON_ASSOC_MAX_BILLING_PER_JOB: JobReason
JOB_REASON_ASSOC_MAX_GRES_PER_JOB: JobReason
JOB_REASON_ASSOC_MAX_SUBMIT_JOB_LIMIT: JobReason
JOB_REASON_ASSOC_MAX_WALL_DURATION_PER_JOB_LIMIT: JobReason
JOB_REASON_QOS_GRP_CPU_LIMIT: JobReason
JOB_REASON_QOS_GRP_MEM_LIMIT: JobReason
JOB_REASON_QOS_GRP_NODE_LIMIT: JobReason
JOB_REASON_QOS_GRP_ENERGY: JobReason
JOB_REASON_QOS_GRP_BILLING: JobReason
JOB_REASON_QOS_GRP_GRES: JobReason
JOB_REASON_QOS_GRP_CPU_RUN_MINUTES_LIMIT: JobReason
JOB_REASON_QOS_GRP_MEMORY_RUN_MINUTES: JobReason
JOB_REASON_QOS_GRP_NODE_RUN_MINUTES: JobReason
JOB_REASON_QOS_GRP_ENERGY_RUN_MINUTES: JobReason
JOB_REASON_QOS_GRP_BILLING_RUN_MINUTES: JobReason
JOB_REASON_QOS_GRP_GRES_RUN_MINUTES: JobReason
JOB_REASON_QOS_GRP_JOBS_LIMIT: JobReason
JOB_REASON_QOS_GRP_SUBMIT_JOBS_LIMIT: JobReason
JOB_REASON_QOS_MAX_CPU_PER_JOB_LIMIT: JobReason
JOB_REASON_QOS_MAX_MEMORY_PER_JOB: JobReason
JOB_REASON_QOS_MAX_NODE_PER_JOB_LIMIT: JobReason
JOB_REASON_QOS_MAX_ENERGY_PER_JOB: JobReason
JOB_REASON_QOS_MAX_BILLING_PER_JOB: JobReason
JOB_REASON_QOS_MAX_GRES_PER_JOB: JobReason
JOB_REASON_QOS_MAX_CPU_PER_USER_LIMIT: JobReason
JOB_REASON_QOS_MAX_MEMORY_PER_USER: JobReason
JOB_REASON_QOS_MAX_NODE_PER_USER_LIMIT: JobReason
JOB_REASON_QOS_MAX_ENERGY_PER_USER: JobReason
JOB_REASON_QOS_MAX_BILLING_PER_USER: JobReason
JOB_REASON_QOS_MAX_GRES_PER_USER: JobReason
JOB_REASON_QOS_MAX_JOBS_PER_USER_LIMIT: JobReason
JOB_REASON_QOS_MAX_SUBMIT_JOB_PER_USER_LIMIT: JobReason
JOB_REASON_QOS_MAX_WALL_DURATION_PER_JOB_LIMIT: JobReason
JOB_REASON_RESERVATION: JobReason
JOB_REASON_RESERVATION_DELETED: JobReason
SIGNAL_SCOPE_UNSPECIFIED: SignalScope
SIGNAL_SCOPE_STEPS: SignalScope
SIGNAL_SCOPE_BATCH: SignalScope
SIGNAL_SCOPE_FULL: SignalScope
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_IDLE: NodeState
NODE_STATE_MIXED: NodeState
NODE_STATE_ALLOCATED: NodeState
NODE_STATE_DRAINING: NodeState
NODE_STATE_DRAINED: NodeState
NODE_STATE_DOWN: NodeState

class Resources(_message.Message):
    __slots__ = ("cpus", "mem_mib", "gpus")
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEM_MIB_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    cpus: int
    mem_mib: int
    gpus: int
    def __init__(self, cpus: _Optional[int] = ..., mem_mib: _Optional[int] = ..., gpus: _Optional[int] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("name", "account", "partition", "n_nodes", "n_tasks", "cpus_per_task", "n_tasks_per_node", "mem_per_node_mib", "mem_per_cpu_mib", "gpus_per_node", "time_limit_s", "time_limit_unlimited", "script", "script_args", "working_dir", "environment", "stdout_pattern", "stderr_pattern", "hold", "begin_time", "nice", "requeue", "stdin_path", "array", "dependency", "open_mode", "warn_signal", "warn_time_s", "warn_batch_only", "constraint", "exclusive", "qos", "gres_per_node", "reservation")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class GresPerNodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    N_NODES_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    CPUS_PER_TASK_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    MEM_PER_NODE_MIB_FIELD_NUMBER: _ClassVar[int]
    MEM_PER_CPU_MIB_FIELD_NUMBER: _ClassVar[int]
    GPUS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_ARGS_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STDOUT_PATTERN_FIELD_NUMBER: _ClassVar[int]
    STDERR_PATTERN_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    BEGIN_TIME_FIELD_NUMBER: _ClassVar[int]
    NICE_FIELD_NUMBER: _ClassVar[int]
    REQUEUE_FIELD_NUMBER: _ClassVar[int]
    STDIN_PATH_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_FIELD_NUMBER: _ClassVar[int]
    OPEN_MODE_FIELD_NUMBER: _ClassVar[int]
    WARN_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    WARN_TIME_S_FIELD_NUMBER: _ClassVar[int]
    WARN_BATCH_ONLY_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    GRES_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    account: str
    partition: str
    n_nodes: int
    n_tasks: int
    cpus_per_task: int
    n_tasks_per_node: int
    mem_per_node_mib: int
    mem_per_cpu_mib: int
    gpus_per_node: int
    time_limit_s: int
    time_limit_unlimited: bool
    script: str
    script_args: _containers.RepeatedScalarFieldContainer[str]
    working_dir: str
    environment: _containers.ScalarMap[str, str]
    stdout_pattern: str
    stderr_pattern: str
    hold: bool
    begin_time: _timestamp_pb2.Timestamp
    nice: int
    requeue: bool
    stdin_path: str
    array: str
    dependency: str
    open_mode: str
    warn_signal: int
    warn_time_s: int
    warn_batch_only: bool
    constraint: str
    exclusive: bool
    qos: str
    gres_per_node: _containers.ScalarMap[str, int]
    reservation: str
    def __init__(self, name: _Optional[str] = ..., account: _Optional[str] = ..., partition: _Optional[str] = ..., n_nodes: _Optional[int] = ..., n_tasks: _Optional[int] = ..., cpus_per_task: _Optional[int] = ..., n_tasks_per_node: _Optional[int] = ..., mem_per_node_mib: _Optional[int] = ..., mem_per_cpu_mib: _Optional[int] = ..., gpus_per_node: _Optional[int] = ..., time_limit_s: _Optional[int] = ..., time_limit_unlimited: _Optional[bool] = ..., script: _Optional[str] = ..., script_args: _Optional[_Iterable[str]] = ..., working_dir: _Optional[str] = ..., environment: _Optional[_Mapping[str, str]] = ..., stdout_pattern: _Optional[str] = ..., stderr_pattern: _Optional[str] = ..., hold: _Optional[bool] = ..., begin_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nice: _Optional[int] = ..., requeue: _Optional[bool] = ..., stdin_path: _Optional[str] = ..., array: _Optional[str] = ..., dependency: _Optional[str] = ..., open_mode: _Optional[str] = ..., warn_signal: _Optional[int] = ..., warn_time_s: _Optional[int] = ..., warn_batch_only: _Optional[bool] = ..., constraint: _Optional[str] = ..., exclusive: _Optional[bool] = ..., qos: _Optional[str] = ..., gres_per_node: _Optional[_Mapping[str, int]] = ..., reservation: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "spec", "state", "reason", "reason_detail", "user", "uid", "gid", "submit_time", "start_time", "end_time", "nodes", "exit_code", "exit_signal", "priority", "alloc_per_node", "planned_start_time", "time_limit_s", "time_limit_unlimited", "restart_count", "held_by", "usage", "n_nodes", "n_tasks", "cpu_ids", "gpu_ids", "array_job_id", "array_task_id", "array_pending", "dependency", "label", "planned_start_is_estimate")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_DETAIL_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ALLOC_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    PLANNED_START_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    HELD_BY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    N_NODES_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    CPU_IDS_FIELD_NUMBER: _ClassVar[int]
    GPU_IDS_FIELD_NUMBER: _ClassVar[int]
    ARRAY_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ARRAY_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ARRAY_PENDING_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PLANNED_START_IS_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    spec: JobSpec
    state: JobState
    reason: JobReason
    reason_detail: str
    user: str
    uid: int
    gid: int
    submit_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    nodes: _containers.RepeatedScalarFieldContainer[str]
    exit_code: int
    exit_signal: int
    priority: int
    alloc_per_node: Resources
    planned_start_time: _timestamp_pb2.Timestamp
    time_limit_s: int
    time_limit_unlimited: bool
    restart_count: int
    held_by: str
    usage: JobUsage
    n_nodes: int
    n_tasks: int
    cpu_ids: _containers.RepeatedScalarFieldContainer[str]
    gpu_ids: _containers.RepeatedScalarFieldContainer[str]
    array_job_id: int
    array_task_id: int
    array_pending: str
    dependency: str
    label: str
    planned_start_is_estimate: bool
    def __init__(self, job_id: _Optional[int] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., reason: _Optional[_Union[JobReason, str]] = ..., reason_detail: _Optional[str] = ..., user: _Optional[str] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nodes: _Optional[_Iterable[str]] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[int] = ..., priority: _Optional[int] = ..., alloc_per_node: _Optional[_Union[Resources, _Mapping]] = ..., planned_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_limit_s: _Optional[int] = ..., time_limit_unlimited: _Optional[bool] = ..., restart_count: _Optional[int] = ..., held_by: _Optional[str] = ..., usage: _Optional[_Union[JobUsage, _Mapping]] = ..., n_nodes: _Optional[int] = ..., n_tasks: _Optional[int] = ..., cpu_ids: _Optional[_Iterable[str]] = ..., gpu_ids: _Optional[_Iterable[str]] = ..., array_job_id: _Optional[int] = ..., array_task_id: _Optional[int] = ..., array_pending: _Optional[str] = ..., dependency: _Optional[str] = ..., label: _Optional[str] = ..., planned_start_is_estimate: _Optional[bool] = ...) -> None: ...

class JobUsage(_message.Message):
    __slots__ = ("cpu_user_us", "cpu_system_us", "max_rss_kib")
    CPU_USER_US_FIELD_NUMBER: _ClassVar[int]
    CPU_SYSTEM_US_FIELD_NUMBER: _ClassVar[int]
    MAX_RSS_KIB_FIELD_NUMBER: _ClassVar[int]
    cpu_user_us: int
    cpu_system_us: int
    max_rss_kib: int
    def __init__(self, cpu_user_us: _Optional[int] = ..., cpu_system_us: _Optional[int] = ..., max_rss_kib: _Optional[int] = ...) -> None: ...
