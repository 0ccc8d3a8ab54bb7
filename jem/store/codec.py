"""Job records to and from JSON text, for the store's `record` column.

Enums are stored by value and tuples as lists; `planned_start` is not stored
(the scheduler recomputes it every cycle).
"""

import json
from dataclasses import asdict

from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.model.step import Step


def job_to_json(job: Job) -> str:
    data = asdict(job)
    del data["job_id"], data["planned_start"]
    data["state"] = job.state.value
    data["reason"] = job.reason.value
    data["kill_cause"] = job.kill_cause.value if job.kill_cause else None
    return json.dumps(data, separators=(",", ":"))


def job_from_json(job_id: int, text: str) -> Job:
    data = json.loads(text)
    spec = data.pop("spec")
    spec["script_args"] = tuple(spec["script_args"])
    spec["gres_per_node"] = tuple(tuple(item) for item in spec.get("gres_per_node", ()))
    shape = data.pop("shape")
    return Job(
        job_id=job_id,
        spec=JobSpec(**spec),
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


def step_to_json(step: Step) -> str:
    data = asdict(step)
    data["state"] = step.state.value
    return json.dumps(data, separators=(",", ":"))


def step_from_json(text: str) -> Step:
    data = json.loads(text)
    return Step(**(data | {"nodes": tuple(data["nodes"]), "state": JobState(data["state"]),
                           "usage": JobUsage(**data["usage"])}))
