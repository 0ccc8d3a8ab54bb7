# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jem.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STREAM_UNSPECIFIED: _ClassVar[TaskStream]
    TASK_STREAM_STDOUT: _ClassVar[TaskStream]
    TASK_STREAM_STDERR: _ClassVar[TaskStream]
TASK_STREAM_UNSPECIFIED: TaskStream
TASK_STREAM_STDOUT: TaskStream
TASK_STREAM_STDERR: TaskStream

class StepSpec(_message.Message):
    __slots__ = ("argv", "n_tasks", "n_nodes", "cpus_per_task", "n_tasks_per_node", "name", "stdout_pattern", "stderr_pattern", "environment", "working_dir", "ends_job", "overcommit", "multi_prog", "task_prolog", "task_epilog", "input", "open_mode")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARGV_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    N_NODES_FIELD_NUMBER: _ClassVar[int]
    CPUS_PER_TASK_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STDOUT_PATTERN_FIELD_NUMBER: _ClassVar[int]
    STDERR_PATTERN_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIR_FIELD_NUMBER: _ClassVar[int]
    ENDS_JOB_FIELD_NUMBER: _ClassVar[int]
    OVERCOMMIT_FIELD_NUMBER: _ClassVar[int]
    MULTI_PROG_FIELD_NUMBER: _ClassVar[int]
    TASK_PROLOG_FIELD_NUMBER: _ClassVar[int]
    TASK_EPILOG_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OPEN_MODE_FIELD_NUMBER: _ClassVar[int]
    argv: _containers.RepeatedScalarFieldContainer[str]
    n_tasks: int
    n_nodes: int
    cpus_per_task: int
    n_tasks_per_node: int
    name: str
    stdout_pattern: str
    stderr_pattern: str
    environment: _containers.ScalarMap[str, str]
    working_dir: str
    ends_job: bool
    overcommit: bool
    multi_prog: str
    task_prolog: str
    task_epilog: str
    input: str
    open_mode: str
    def __init__(self, argv: _Optional[_Iterable[str]] = ..., n_tasks: _Optional[int] = ..., n_nodes: _Optional[int] = ..., cpus_per_task: _Optional[int] = ..., n_tasks_per_node: _Optional[int] = ..., name: _Optional[str] = ..., stdout_pattern: _Optional[str] = ..., stderr_pattern: _Optional[str] = ..., environment: _Optional[_Mapping[str, str]] = ..., working_dir: _Optional[str] = ..., ends_job: _Optional[bool] = ..., overcommit: _Optional[bool] = ..., multi_prog: _Optional[str] = ..., task_prolog: _Optional[str] = ..., task_epilog: _Optional[str] = ..., input: _Optional[str] = ..., open_mode: _Optional[str] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("task_id", "stream", "data")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    stream: TaskStream
    data: bytes
    def __init__(self, task_id: _Optional[int] = ..., stream: _Optional[_Union[TaskStream, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TaskExit(_message.Message):
    __slots__ = ("task_id", "node", "exit_code", "exit_signal", "usage", "launch_error")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_ERROR_FIELD_NUMBER: _ClassVar[int]
    task_id: int
    node: str
    exit_code: int
    exit_signal: int
    usage: _common_pb2.JobUsage
    launch_error: str
    def __init__(self, task_id: _Optional[int] = ..., node: _Optional[str] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[int] = ..., usage: _Optional[_Union[_common_pb2.JobUsage, _Mapping]] = ..., launch_error: _Optional[str] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("job_id", "step_id", "name", "nodes", "n_tasks", "n_cpus", "start_time", "end_time", "state", "exit_code", "exit_signal", "usage", "ends_job")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    N_CPUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    ENDS_JOB_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    step_id: int
    name: str
    nodes: _containers.RepeatedScalarFieldContainer[str]
    n_tasks: int
    n_cpus: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    state: _common_pb2.JobState
    exit_code: int
    exit_signal: int
    usage: _common_pb2.JobUsage
    ends_job: bool
    def __init__(self, job_id: _Optional[int] = ..., step_id: _Optional[int] = ..., name: _Optional[str] = ..., nodes: _Optional[_Iterable[str]] = ..., n_tasks: _Optional[int] = ..., n_cpus: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., exit_code: _Optional[int] = ..., exit_signal: _Optional[int] = ..., usage: _Optional[_Union[_common_pb2.JobUsage, _Mapping]] = ..., ends_job: _Optional[bool] = ...) -> None: ...

class RunStepRequest(_message.Message):
    __slots__ = ("job_id", "spec", "user_signature")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    USER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    spec: StepSpec
    user_signature: str
    def __init__(self, job_id: _Optional[int] = ..., spec: _Optional[_Union[StepSpec, _Mapping]] = ..., user_signature: _Optional[str] = ...) -> None: ...

class RunStepResponse(_message.Message):
    __slots__ = ("step", "output", "exit")
    STEP_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    step: Step
    output: TaskOutput
    exit: TaskExit
    def __init__(self, step: _Optional[_Union[Step, _Mapping]] = ..., output: _Optional[_Union[TaskOutput, _Mapping]] = ..., exit: _Optional[_Union[TaskExit, _Mapping]] = ...) -> None: ...

class ListStepsRequest(_message.Message):
    __slots__ = ("job_ids",)
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListStepsResponse(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[Step]
    def __init__(self, steps: _Optional[_Iterable[_Union[Step, _Mapping]]] = ...) -> None: ...

class StepTasksRequest(_message.Message):
    __slots__ = ("job_id", "step_id", "spec", "user", "uid", "gid", "task_ids", "step_nodes", "job_nodes", "n_tasks", "alloc", "cpu_ids", "gpu_ids", "job_name", "array_job_id", "array_task_id", "credential", "user_signature", "restart_count", "node_epoch")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    STEP_NODES_FIELD_NUMBER: _ClassVar[int]
    JOB_NODES_FIELD_NUMBER: _ClassVar[int]
    N_TASKS_FIELD_NUMBER: _ClassVar[int]
    ALLOC_FIELD_NUMBER: _ClassVar[int]
    CPU_IDS_FIELD_NUMBER: _ClassVar[int]
    GPU_IDS_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    ARRAY_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ARRAY_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    USER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    NODE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    job_id: int
    step_id: int
    spec: StepSpec
    user: str
    uid: int
    gid: int
    task_ids: _containers.RepeatedScalarFieldContainer[int]
    step_nodes: _containers.RepeatedScalarFieldContainer[str]
    job_nodes: _containers.RepeatedScalarFieldContainer[str]
    n_tasks: int
    alloc: _common_pb2.Resources
    cpu_ids: _containers.RepeatedScalarFieldContainer[int]
    gpu_ids: _containers.RepeatedScalarFieldContainer[int]
    job_name: str
    array_job_id: int
    array_task_id: int
    credential: str
    user_signature: str
    restart_count: int
    node_epoch: int
    def __init__(self, job_id: _Optional[int] = ..., step_id: _Optional[int] = ..., spec: _Optional[_Union[StepSpec, _Mapping]] = ..., user: _Optional[str] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., task_ids: _Optional[_Iterable[int]] = ..., step_nodes: _Optional[_Iterable[str]] = ..., job_nodes: _Optional[_Iterable[str]] = ..., n_tasks: _Optional[int] = ..., alloc: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., cpu_ids: _Optional[_Iterable[int]] = ..., gpu_ids: _Optional[_Iterable[int]] = ..., job_name: _Optional[str] = ..., array_job_id: _Optional[int] = ..., array_task_id: _Optional[int] = ..., credential: _Optional[str] = ..., user_signature: _Optional[str] = ..., restart_count: _Optional[int] = ..., node_epoch: _Optional[int] = ...) -> None: ...

class StepTasksResponse(_message.Message):
    __slots__ = ("output", "exit")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    output: TaskOutput
    exit: TaskExit
    def __init__(self, output: _Optional[_Union[TaskOutput, _Mapping]] = ..., exit: _Optional[_Union[TaskExit, _Mapping]] = ...) -> None: ...
