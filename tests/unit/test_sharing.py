"""Jobs that carry the same script and environment hold one copy of them (jem.model.sharing)."""

from jem.model import sharing
from jem.model.job import JobSpec
from jem.store.codec import job_from_json, job_to_json
from jem.model.job import Job, JobShape
from jem.model.resources import Resources


def _spec(**fields) -> JobSpec:
    return JobSpec(**{"script": "#!/bin/sh\necho " + "x" * 50 + "\n", "environment": {"A": "1", "PATH": "/bin"},
                      **fields})


def test_equal_scripts_and_environments_are_held_once():
    first, second = sharing.shared_spec(_spec(name="a")), sharing.shared_spec(_spec(name="b"))
    assert first.environment is second.environment and first.script is second.script
    assert second.name == "b"
    other = sharing.shared_spec(_spec(environment={"A": "2", "PATH": "/bin"}))
    assert other.environment is not first.environment and other.environment == {"A": "2", "PATH": "/bin"}


def test_jobs_loaded_from_the_store_share_too():
    job = Job(job_id=1, spec=_spec(), user="ann", uid=1, gid=1, submit_time=0.0,
              shape=JobShape(1, 1, Resources(1, 1, 0)), time_limit_s=None)
    text = job_to_json(job)
    one, two = job_from_json(1, text), job_from_json(2, text)
    assert one.spec.environment is two.spec.environment and one.spec == job.spec


def test_the_tables_stay_bounded():
    for i in range(sharing.MAX_ENTRIES + 10):
        sharing.shared_spec(_spec(environment={"I": str(i)}))
    assert len(sharing._environments._values) == sharing.MAX_ENTRIES
