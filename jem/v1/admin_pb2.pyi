# Generated from proto/jem/v1 by tools/gen_proto.py -- do not edit.
import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from jem.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Limits(_message.Message):
    __slots__ = ("grp_tres", "grp_tres_run_mins", "grp_jobs", "grp_submit_jobs", "max_tres_per_job", "max_tres_per_user", "max_jobs", "max_submit_jobs", "max_wall_s")
    class GrpTresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GrpTresRunMinsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MaxTresPerJobEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MaxTresPerUserEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    GRP_TRES_FIELD_NUMBER: _ClassVar[int]
    GRP_TRES_RUN_MINS_FIELD_NUMBER: _ClassVar[int]
    GRP_JOBS_FIELD_NUMBER: _ClassVar[int]
    GRP_SUBMIT_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_TRES_PER_JOB_FIELD_NUMBER: _ClassVar[int]
    MAX_TRES_PER_USER_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMIT_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_S_FIELD_NUMBER: _ClassVar[int]
    grp_tres: _containers.ScalarMap[str, int]
    grp_tres_run_mins: _containers.ScalarMap[str, int]
    grp_jobs: int
    grp_submit_jobs: int
    max_tres_per_job: _containers.ScalarMap[str, int]
    max_tres_per_user: _containers.ScalarMap[str, int]
    max_jobs: int
    max_submit_jobs: int
    max_wall_s: int
    def __init__(self, grp_tres: _Optional[_Mapping[str, int]] = ..., grp_tres_run_mins: _Optional[_Mapping[str, int]] = ..., grp_jobs: _Optional[int] = ..., grp_submit_jobs: _Optional[int] = ..., max_tres_per_job: _Optional[_Mapping[str, int]] = ..., max_tres_per_user: _Optional[_Mapping[str, int]] = ..., max_jobs: _Optional[int] = ..., max_submit_jobs: _Optional[int] = ..., max_wall_s: _Optional[int] = ...) -> None: ...

class Association(_message.Message):
    __slots__ = ("account", "user", "parent", "shares", "limits", "qos", "default_qos", "description", "organization")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_QOS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    account: str
    user: str
    parent: str
    shares: int
    limits: Limits
    qos: _containers.RepeatedScalarFieldContainer[str]
    default_qos: str
    description: str
    organization: str
    def __init__(self, account: _Optional[str] = ..., user: _Optional[str] = ..., parent: _Optional[str] = ..., shares: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., qos: _Optional[_Iterable[str]] = ..., default_qos: _Optional[str] = ..., description: _Optional[str] = ..., organization: _Optional[str] = ...) -> None: ...

class AccountingUser(_message.Message):
    __slots__ = ("name", "default_account", "admin_level")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ADMIN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_account: str
    admin_level: str
    def __init__(self, name: _Optional[str] = ..., default_account: _Optional[str] = ..., admin_level: _Optional[str] = ...) -> None: ...

class AssociationFilter(_message.Message):
    __slots__ = ("accounts", "users", "parents", "only_accounts", "only_users")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    ONLY_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ONLY_USERS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedScalarFieldContainer[str]
    parents: _containers.RepeatedScalarFieldContainer[str]
    only_accounts: bool
    only_users: bool
    def __init__(self, accounts: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[str]] = ..., parents: _Optional[_Iterable[str]] = ..., only_accounts: _Optional[bool] = ..., only_users: _Optional[bool] = ...) -> None: ...

class NameList(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class AssociationChange(_message.Message):
    __slots__ = ("shares", "limits", "qos", "qos_added", "qos_removed", "default_qos", "description", "organization", "parent", "default_account")
    SHARES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    QOS_ADDED_FIELD_NUMBER: _ClassVar[int]
    QOS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_QOS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    shares: int
    limits: Limits
    qos: NameList
    qos_added: _containers.RepeatedScalarFieldContainer[str]
    qos_removed: _containers.RepeatedScalarFieldContainer[str]
    default_qos: str
    description: str
    organization: str
    parent: str
    default_account: str
    def __init__(self, shares: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., qos: _Optional[_Union[NameList, _Mapping]] = ..., qos_added: _Optional[_Iterable[str]] = ..., qos_removed: _Optional[_Iterable[str]] = ..., default_qos: _Optional[str] = ..., description: _Optional[str] = ..., organization: _Optional[str] = ..., parent: _Optional[str] = ..., default_account: _Optional[str] = ...) -> None: ...

class ListAssociationsRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: AssociationFilter
    def __init__(self, filter: _Optional[_Union[AssociationFilter, _Mapping]] = ...) -> None: ...

class ListAssociationsResponse(_message.Message):
    __slots__ = ("associations", "users", "effective")
    ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    associations: _containers.RepeatedCompositeFieldContainer[Association]
    users: _containers.RepeatedCompositeFieldContainer[AccountingUser]
    effective: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, associations: _Optional[_Iterable[_Union[Association, _Mapping]]] = ..., users: _Optional[_Iterable[_Union[AccountingUser, _Mapping]]] = ..., effective: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class AddAccountsRequest(_message.Message):
    __slots__ = ("accounts",)
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, accounts: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class AddAccountsResponse(_message.Message):
    __slots__ = ("added",)
    ADDED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, added: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class AddUsersRequest(_message.Message):
    __slots__ = ("associations", "default_account")
    ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    associations: _containers.RepeatedCompositeFieldContainer[Association]
    default_account: str
    def __init__(self, associations: _Optional[_Iterable[_Union[Association, _Mapping]]] = ..., default_account: _Optional[str] = ...) -> None: ...

class AddUsersResponse(_message.Message):
    __slots__ = ("added",)
    ADDED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, added: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class ModifyAssociationsRequest(_message.Message):
    __slots__ = ("filter", "change")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    filter: AssociationFilter
    change: AssociationChange
    def __init__(self, filter: _Optional[_Union[AssociationFilter, _Mapping]] = ..., change: _Optional[_Union[AssociationChange, _Mapping]] = ...) -> None: ...

class ModifyAssociationsResponse(_message.Message):
    __slots__ = ("modified",)
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    modified: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, modified: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class DeleteAssociationsRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: AssociationFilter
    def __init__(self, filter: _Optional[_Union[AssociationFilter, _Mapping]] = ...) -> None: ...

class DeleteAssociationsResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: _containers.RepeatedCompositeFieldContainer[Association]
    def __init__(self, deleted: _Optional[_Iterable[_Union[Association, _Mapping]]] = ...) -> None: ...

class Qos(_message.Message):
    __slots__ = ("name", "description", "priority", "limits", "flags", "preempt", "preempt_mode", "grace_time_s", "preempt_exempt_time_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_MODE_FIELD_NUMBER: _ClassVar[int]
    GRACE_TIME_S_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_EXEMPT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    priority: int
    limits: Limits
    flags: _containers.RepeatedScalarFieldContainer[str]
    preempt: _containers.RepeatedScalarFieldContainer[str]
    preempt_mode: str
    grace_time_s: int
    preempt_exempt_time_s: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., priority: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., flags: _Optional[_Iterable[str]] = ..., preempt: _Optional[_Iterable[str]] = ..., preempt_mode: _Optional[str] = ..., grace_time_s: _Optional[int] = ..., preempt_exempt_time_s: _Optional[int] = ...) -> None: ...

class QosChange(_message.Message):
    __slots__ = ("description", "priority", "limits", "flags", "flags_added", "flags_removed", "preempt", "preempt_mode", "grace_time_s", "preempt_exempt_time_s")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_ADDED_FIELD_NUMBER: _ClassVar[int]
    FLAGS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_MODE_FIELD_NUMBER: _ClassVar[int]
    GRACE_TIME_S_FIELD_NUMBER: _ClassVar[int]
    PREEMPT_EXEMPT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    description: str
    priority: int
    limits: Limits
    flags: NameList
    flags_added: _containers.RepeatedScalarFieldContainer[str]
    flags_removed: _containers.RepeatedScalarFieldContainer[str]
    preempt: NameList
    preempt_mode: str
    grace_time_s: int
    preempt_exempt_time_s: int
    def __init__(self, description: _Optional[str] = ..., priority: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., flags: _Optional[_Union[NameList, _Mapping]] = ..., flags_added: _Optional[_Iterable[str]] = ..., flags_removed: _Optional[_Iterable[str]] = ..., preempt: _Optional[_Union[NameList, _Mapping]] = ..., preempt_mode: _Optional[str] = ..., grace_time_s: _Optional[int] = ..., preempt_exempt_time_s: _Optional[int] = ...) -> None: ...

class ListQosRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListQosResponse(_message.Message):
    __slots__ = ("qos",)
    QOS_FIELD_NUMBER: _ClassVar[int]
    qos: _containers.RepeatedCompositeFieldContainer[Qos]
    def __init__(self, qos: _Optional[_Iterable[_Union[Qos, _Mapping]]] = ...) -> None: ...

class AddQosRequest(_message.Message):
    __slots__ = ("qos",)
    QOS_FIELD_NUMBER: _ClassVar[int]
    qos: _containers.RepeatedCompositeFieldContainer[Qos]
    def __init__(self, qos: _Optional[_Iterable[_Union[Qos, _Mapping]]] = ...) -> None: ...

class AddQosResponse(_message.Message):
    __slots__ = ("added",)
    ADDED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Qos]
    def __init__(self, added: _Optional[_Iterable[_Union[Qos, _Mapping]]] = ...) -> None: ...

class ModifyQosRequest(_message.Message):
    __slots__ = ("names", "change")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    change: QosChange
    def __init__(self, names: _Optional[_Iterable[str]] = ..., change: _Optional[_Union[QosChange, _Mapping]] = ...) -> None: ...

class ModifyQosResponse(_message.Message):
    __slots__ = ("modified",)
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    modified: _containers.RepeatedCompositeFieldContainer[Qos]
    def __init__(self, modified: _Optional[_Iterable[_Union[Qos, _Mapping]]] = ...) -> None: ...

class DeleteQosRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteQosResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: _containers.RepeatedCompositeFieldContainer[Qos]
    def __init__(self, deleted: _Optional[_Iterable[_Union[Qos, _Mapping]]] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("since", "until", "user", "job_id", "limit")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    user: str
    job_id: int
    limit: int
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user: _Optional[str] = ..., job_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("seq", "time", "user", "uid", "peer", "method", "request", "result", "detail", "job_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: _timestamp_pb2.Timestamp
    user: str
    uid: int
    peer: str
    method: str
    request: str
    result: str
    detail: str
    job_id: int
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user: _Optional[str] = ..., uid: _Optional[int] = ..., peer: _Optional[str] = ..., method: _Optional[str] = ..., request: _Optional[str] = ..., result: _Optional[str] = ..., detail: _Optional[str] = ..., job_id: _Optional[int] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("user", "lifespan_s")
    USER_FIELD_NUMBER: _ClassVar[int]
    LIFESPAN_S_FIELD_NUMBER: _ClassVar[int]
    user: str
    lifespan_s: int
    def __init__(self, user: _Optional[str] = ..., lifespan_s: _Optional[int] = ...) -> None: ...

class IssueTokenResponse(_message.Message):
    __slots__ = ("token", "expires")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("name", "state", "capacity", "allocated", "reason", "agent_address", "last_heartbeat", "partitions", "job_ids", "cgroup_mode", "gpu_isolation", "is_responding", "features", "gres", "gres_allocated", "gpu_type")
    class GresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GresAllocatedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    CGROUP_MODE_FIELD_NUMBER: _ClassVar[int]
    GPU_ISOLATION_FIELD_NUMBER: _ClassVar[int]
    IS_RESPONDING_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GRES_FIELD_NUMBER: _ClassVar[int]
    GRES_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    GPU_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: _common_pb2.NodeState
    capacity: _common_pb2.Resources
    allocated: _common_pb2.Resources
    reason: str
    agent_address: str
    last_heartbeat: _timestamp_pb2.Timestamp
    partitions: _containers.RepeatedScalarFieldContainer[str]
    job_ids: _containers.RepeatedScalarFieldContainer[int]
    cgroup_mode: str
    gpu_isolation: str
    is_responding: bool
    features: _containers.RepeatedScalarFieldContainer[str]
    gres: _containers.ScalarMap[str, int]
    gres_allocated: _containers.ScalarMap[str, int]
    gpu_type: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.NodeState, str]] = ..., capacity: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., allocated: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., reason: _Optional[str] = ..., agent_address: _Optional[str] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partitions: _Optional[_Iterable[str]] = ..., job_ids: _Optional[_Iterable[int]] = ..., cgroup_mode: _Optional[str] = ..., gpu_isolation: _Optional[str] = ..., is_responding: _Optional[bool] = ..., features: _Optional[_Iterable[str]] = ..., gres: _Optional[_Mapping[str, int]] = ..., gres_allocated: _Optional[_Mapping[str, int]] = ..., gpu_type: _Optional[str] = ...) -> None: ...

class Partition(_message.Message):
    __slots__ = ("name", "is_default", "is_up", "nodes", "max_time_s", "default_time_s", "default_mem_per_cpu_mib", "priority_tier", "max_nodes", "allow_accounts", "allow_qos", "allow_groups", "qos")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    IS_UP_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_S_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MEM_PER_CPU_MIB_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_TIER_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    ALLOW_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_QOS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_GROUPS_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    name: str
    is_default: bool
    is_up: bool
    nodes: _containers.RepeatedScalarFieldContainer[str]
    max_time_s: int
    default_time_s: int
    default_mem_per_cpu_mib: int
    priority_tier: int
    max_nodes: int
    allow_accounts: _containers.RepeatedScalarFieldContainer[str]
    allow_qos: _containers.RepeatedScalarFieldContainer[str]
    allow_groups: _containers.RepeatedScalarFieldContainer[str]
    qos: str
    def __init__(self, name: _Optional[str] = ..., is_default: _Optional[bool] = ..., is_up: _Optional[bool] = ..., nodes: _Optional[_Iterable[str]] = ..., max_time_s: _Optional[int] = ..., default_time_s: _Optional[int] = ..., default_mem_per_cpu_mib: _Optional[int] = ..., priority_tier: _Optional[int] = ..., max_nodes: _Optional[int] = ..., allow_accounts: _Optional[_Iterable[str]] = ..., allow_qos: _Optional[_Iterable[str]] = ..., allow_groups: _Optional[_Iterable[str]] = ..., qos: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ...) -> None: ...

class DrainNodeRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class ResumeNodeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResumeNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class UndrainNodeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class UndrainNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class DownNodeRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DownNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class ListPartitionsRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPartitionsResponse(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[Partition]
    def __init__(self, partitions: _Optional[_Iterable[_Union[Partition, _Mapping]]] = ...) -> None: ...

class ShareAssociation(_message.Message):
    __slots__ = ("account", "user", "depth", "raw_shares", "norm_shares", "raw_usage", "effective_usage", "level_fs", "fairshare")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    RAW_SHARES_FIELD_NUMBER: _ClassVar[int]
    NORM_SHARES_FIELD_NUMBER: _ClassVar[int]
    RAW_USAGE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_USAGE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FS_FIELD_NUMBER: _ClassVar[int]
    FAIRSHARE_FIELD_NUMBER: _ClassVar[int]
    account: str
    user: str
    depth: int
    raw_shares: int
    norm_shares: float
    raw_usage: float
    effective_usage: float
    level_fs: float
    fairshare: float
    def __init__(self, account: _Optional[str] = ..., user: _Optional[str] = ..., depth: _Optional[int] = ..., raw_shares: _Optional[int] = ..., norm_shares: _Optional[float] = ..., raw_usage: _Optional[float] = ..., effective_usage: _Optional[float] = ..., level_fs: _Optional[float] = ..., fairshare: _Optional[float] = ...) -> None: ...

class ListSharesRequest(_message.Message):
    __slots__ = ("accounts",)
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accounts: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSharesResponse(_message.Message):
    __slots__ = ("associations", "algorithm")
    ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    associations: _containers.RepeatedCompositeFieldContainer[ShareAssociation]
    algorithm: str
    def __init__(self, associations: _Optional[_Iterable[_Union[ShareAssociation, _Mapping]]] = ..., algorithm: _Optional[str] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("name", "start_time", "end_time", "node_names", "users", "accounts", "flags", "partition", "node_count", "core_count", "cores_per_node")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NODE_NAMES_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORES_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    node_names: _containers.RepeatedScalarFieldContainer[str]
    users: _containers.RepeatedScalarFieldContainer[str]
    accounts: _containers.RepeatedScalarFieldContainer[str]
    flags: _containers.RepeatedScalarFieldContainer[str]
    partition: str
    node_count: int
    core_count: int
    cores_per_node: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., node_names: _Optional[_Iterable[str]] = ..., users: _Optional[_Iterable[str]] = ..., accounts: _Optional[_Iterable[str]] = ..., flags: _Optional[_Iterable[str]] = ..., partition: _Optional[str] = ..., node_count: _Optional[int] = ..., core_count: _Optional[int] = ..., cores_per_node: _Optional[_Iterable[int]] = ...) -> None: ...

class ListReservationsRequest(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListReservationsResponse(_message.Message):
    __slots__ = ("reservations",)
    RESERVATIONS_FIELD_NUMBER: _ClassVar[int]
    reservations: _containers.RepeatedCompositeFieldContainer[Reservation]
    def __init__(self, reservations: _Optional[_Iterable[_Union[Reservation, _Mapping]]] = ...) -> None: ...

class CreateReservationRequest(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class CreateReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class UpdateReservationRequest(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class UpdateReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class DeleteReservationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class GetDiagnosticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RpcCount(_message.Message):
    __slots__ = ("name", "id", "count", "total_us")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: int
    count: int
    total_us: int
    def __init__(self, name: _Optional[str] = ..., id: _Optional[int] = ..., count: _Optional[int] = ..., total_us: _Optional[int] = ...) -> None: ...

class CycleCounts(_message.Message):
    __slots__ = ("count", "last_us", "max_us", "sum_us", "last_depth", "depth_sum", "last_queue_len", "queue_len_sum", "last_time", "last_nodes", "nodes_sum")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_US_FIELD_NUMBER: _ClassVar[int]
    MAX_US_FIELD_NUMBER: _ClassVar[int]
    SUM_US_FIELD_NUMBER: _ClassVar[int]
    LAST_DEPTH_FIELD_NUMBER: _ClassVar[int]
    DEPTH_SUM_FIELD_NUMBER: _ClassVar[int]
    LAST_QUEUE_LEN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LEN_SUM_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_NODES_FIELD_NUMBER: _ClassVar[int]
    NODES_SUM_FIELD_NUMBER: _ClassVar[int]
    count: int
    last_us: int
    max_us: int
    sum_us: int
    last_depth: int
    depth_sum: int
    last_queue_len: int
    queue_len_sum: int
    last_time: _timestamp_pb2.Timestamp
    last_nodes: int
    nodes_sum: int
    def __init__(self, count: _Optional[int] = ..., last_us: _Optional[int] = ..., max_us: _Optional[int] = ..., sum_us: _Optional[int] = ..., last_depth: _Optional[int] = ..., depth_sum: _Optional[int] = ..., last_queue_len: _Optional[int] = ..., queue_len_sum: _Optional[int] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_nodes: _Optional[int] = ..., nodes_sum: _Optional[int] = ...) -> None: ...

class GetDiagnosticsResponse(_message.Message):
    __slots__ = ("time", "since", "rpcs_in_flight", "agent_calls_in_flight", "jobs_submitted", "jobs_started", "jobs_completed", "jobs_canceled", "jobs_failed", "jobs_pending", "jobs_running", "cycles", "backfilled_since_start", "backfilled_since_reset", "by_method", "by_user", "clock_latency_us")
    TIME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    RPCS_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    AGENT_CALLS_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    JOBS_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    JOBS_STARTED_FIELD_NUMBER: _ClassVar[int]
    JOBS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    JOBS_CANCELED_FIELD_NUMBER: _ClassVar[int]
    JOBS_FAILED_FIELD_NUMBER: _ClassVar[int]
    JOBS_PENDING_FIELD_NUMBER: _ClassVar[int]
    JOBS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    CYCLES_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_SINCE_START_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_SINCE_RESET_FIELD_NUMBER: _ClassVar[int]
    BY_METHOD_FIELD_NUMBER: _ClassVar[int]
    BY_USER_FIELD_NUMBER: _ClassVar[int]
    CLOCK_LATENCY_US_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    since: _timestamp_pb2.Timestamp
    rpcs_in_flight: int
    agent_calls_in_flight: int
    jobs_submitted: int
    jobs_started: int
    jobs_completed: int
    jobs_canceled: int
    jobs_failed: int
    jobs_pending: int
    jobs_running: int
    cycles: CycleCounts
    backfilled_since_start: int
    backfilled_since_reset: int
    by_method: _containers.RepeatedCompositeFieldContainer[RpcCount]
    by_user: _containers.RepeatedCompositeFieldContainer[RpcCount]
    clock_latency_us: int
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rpcs_in_flight: _Optional[int] = ..., agent_calls_in_flight: _Optional[int] = ..., jobs_submitted: _Optional[int] = ..., jobs_started: _Optional[int] = ..., jobs_completed: _Optional[int] = ..., jobs_canceled: _Optional[int] = ..., jobs_failed: _Optional[int] = ..., jobs_pending: _Optional[int] = ..., jobs_running: _Optional[int] = ..., cycles: _Optional[_Union[CycleCounts, _Mapping]] = ..., backfilled_since_start: _Optional[int] = ..., backfilled_since_reset: _Optional[int] = ..., by_method: _Optional[_Iterable[_Union[RpcCount, _Mapping]]] = ..., by_user: _Optional[_Iterable[_Union[RpcCount, _Mapping]]] = ..., clock_latency_us: _Optional[int] = ...) -> None: ...

class ResetDiagnosticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetDiagnosticsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    class SettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: _containers.ScalarMap[str, str]
    def __init__(self, settings: _Optional[_Mapping[str, str]] = ...) -> None: ...
