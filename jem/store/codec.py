"""Job, association and QOS records to and from JSON text, for the store's `record` columns.

Enums are stored by value and tuples as lists; `planned_start` (and whether it is an
estimate) is not stored (the scheduler recomputes it every cycle).
"""

import enum
import json

from jem.model.associations import TRES_LIMITS, Association, Limits, PreemptMode, Qos, QosFlag
from jem.model.crontab import Crontab, InstalledEntry
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.run import RequeuedRun
from jem.model.sharing import shared_spec
from jem.model.states import JobEvent, JobState
from jem.model.step import Step
from jem.model.tres import Tres


def _fields(record) -> dict:
    """A dataclass's fields by name, values as they are: json.dumps meets nested
    records and enums in `_plain` (dataclasses.asdict deep-copies every value, and
    was a tenth of the controller's time under a stream of submits)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _plain(value):
    if hasattr(value, "__dataclass_fields__"):
        return _fields(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot store a {type(value).__name__}")


def _dumps(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), default=_plain)


def job_to_json(job: Job) -> str:
    data = _fields(job)
    del data["job_id"], data["planned_start"], data["planned_start_is_estimate"], data["planned_nodes"]
    del data["planned_start_is_forecast"]
    return _dumps(data)


def job_from_json(job_id: int, text: str) -> Job:
    data = json.loads(text)
    spec = data.pop("spec")
    spec["script_args"] = tuple(spec["script_args"])
    spec["gres_per_node"] = tuple(tuple(item) for item in spec.get("gres_per_node", ()))
    spec["retry_on"] = tuple(JobState(s) for s in spec.get("retry_on", ()))
    shape = data.pop("shape")
    return Job(
        job_id=job_id,
        spec=shared_spec(JobSpec(**spec)),
        shape=JobShape(shape["n_nodes"], shape["n_tasks"], Resources(**shape["per_node"])),
        state=JobState(data.pop("state")),
        reason=JobReason(data.pop("reason")),
        kill_cause=JobEvent(kill_cause) if (kill_cause := data.pop("kill_cause")) else None,
        nodes=tuple(data.pop("nodes")),
        cpu_ids=tuple(tuple(ids) for ids in data.pop("cpu_ids", ())),
        gpu_ids=tuple(tuple(ids) for ids in data.pop("gpu_ids", ())),
        usage=JobUsage(**data.pop("usage")),
        array_pending=tuple(data.pop("array_pending", ())),
        **data,
    )


def run_to_json(run: RequeuedRun) -> str:
    return _dumps(_fields(run))


def run_from_json(text: str) -> RequeuedRun:
    data = json.loads(text)
    return RequeuedRun(**(data | {"state": JobState(data["state"]), "nodes": tuple(data["nodes"]),
                                  "alloc_per_node": Resources(**data["alloc_per_node"]),
                                  "usage": JobUsage(**data["usage"])}))


def step_to_json(step: Step) -> str:
    return _dumps(_fields(step))


def step_from_json(text: str) -> Step:
    data = json.loads(text)
    return Step(**(data | {"nodes": tuple(data["nodes"]), "state": JobState(data["state"]),
                           "usage": JobUsage(**data["usage"])}))


def association_to_json(assoc: Association) -> str:
    return _dumps(_accounting_fields(assoc))


def association_from_json(text: str) -> Association:
    data = json.loads(text)
    return Association(**(data | {"limits": _limits_from(data["limits"]), "qos": tuple(data["qos"])}))


def qos_to_json(qos: Qos) -> str:
    return _dumps(_accounting_fields(qos))


def qos_from_json(text: str) -> Qos:
    data = json.loads(text)
    return Qos(**(data | {
        "limits": _limits_from(data["limits"]), "flags": frozenset(QosFlag(f) for f in data["flags"]),
        "preempt": tuple(data["preempt"]), "preempt_mode": PreemptMode(data["preempt_mode"])}))


def _accounting_fields(record) -> dict:
    """An association's or QOS's fields, with its limits' TRES as plain dicts and flags sorted."""
    data = _fields(record)
    data["limits"] = {name: dict(value) if name in TRES_LIMITS else value
                      for name, value in _fields(record.limits).items()}
    if "flags" in data:
        data["flags"] = sorted(flag.value for flag in data["flags"])
    return data


def _limits_from(data: dict) -> Limits:
    return Limits(**{name: Tres(value) if name in TRES_LIMITS else value for name, value in data.items()})


def reservation_to_json(reservation: Reservation) -> str:
    data = _fields(reservation)
    data["flags"] = sorted(flag.value for flag in reservation.flags)
    return _dumps(data)


def reservation_from_json(text: str) -> Reservation:
    data = json.loads(text)
    return Reservation(**(data | {"node_names": tuple(data["node_names"]), "users": tuple(data["users"]),
                                  "accounts": tuple(data["accounts"]),
                                  "flags": frozenset(ReservationFlag(f) for f in data["flags"])}))


def crontab_to_json(crontab: Crontab) -> str:
    data = _fields(crontab)
    data["disabled_lines"] = sorted(crontab.disabled_lines)
    return _dumps(data)


def crontab_from_json(text: str) -> Crontab:
    data = json.loads(text)
    return Crontab(**(data | {"entries": tuple(InstalledEntry(**entry) for entry in data["entries"]),
                              "disabled_lines": frozenset(data["disabled_lines"])}))
