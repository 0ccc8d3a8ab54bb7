"""jem.gateway.rowsjson against jsonprint (itself checked against protobuf's json_format): every
answer of jem.v1 with one repeated message field, its records filled at random, prints the same
from its bytes a column at a time; and the answers portals list most never fall back."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem import convert
from jem.gateway import rowsjson, transcode
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.v1 import jobs_pb2
from tests.unit.test_jsonprint import MESSAGE_TYPES, _fill

LIST_ANSWERS = [m for m in MESSAGE_TYPES if rowsjson.records_field(m.DESCRIPTOR) is not None]


def _generic(message) -> bytes:
    return transcode.response_json(message)


def _assert_prints_as_jsonprint(printed: bytes, answer) -> None:
    """The same text; where a map holds two entries or more, the same JSON (a map's entries come in
    the wire's order here, in the protobuf runtime's there: JSON objects have none)."""
    expected = _generic(answer)
    assert json.loads(printed) == json.loads(expected)
    if not _has_a_map_of_two(answer):
        assert printed == expected


def _has_a_map_of_two(message) -> bool:
    for field, value in message.ListFields():
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if is_map and len(value) > 1:
            return True
        if field.message_type is not None and not is_map:
            if any(_has_a_map_of_two(item) for item in (value if field.is_repeated else [value])):
                return True
    return False


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(LIST_ANSWERS), st.integers(0, 5))
def test_columns_print_what_jsonprint_prints(rng, answer_class, n_records):
    answer = answer_class()
    _fill(answer, rng)
    records = getattr(answer, rowsjson.records_field(answer_class.DESCRIPTOR).name)
    del records[:]
    for _ in range(n_records):
        _fill(records.add(), rng)
    try:
        printed = rowsjson.answer_json(answer_class, answer.SerializeToString())
    except rowsjson.Unsupported:
        return
    _assert_prints_as_jsonprint(bytes(printed), answer)
    _assert_prints_as_jsonprint(transcode.answer_json(answer_class, answer.SerializeToString()), answer)


def test_every_list_answer_prints_through_the_gateway_the_same():
    rng = random.Random(3)
    for answer_class in LIST_ANSWERS:
        answer = answer_class()
        _fill(answer, rng)
        _assert_prints_as_jsonprint(transcode.answer_json(answer_class, answer.SerializeToString()), answer)


def _listed_job(job_id: int, **fields) -> Job:
    return Job(job_id=job_id, spec=JobSpec(script="", name=f"n\u00e9{job_id}", partition="debug", working_dir="/tmp",
                                           hold=True, **fields.pop("spec", {})),
               user="ann", uid=1000, gid=1000, submit_time=1.8e9 + job_id / 8, shape=JobShape(1, 2, Resources(1, 376, 0)),
               time_limit_s=None if job_id % 2 else 600, held_by="user", **fields)


def test_a_controllers_listing_prints_by_columns():
    jobs = [_listed_job(i, **({"start_time": 1.8e9 + 9, "nodes": ("n1",), "cpu_ids": ((0, 1),)} if i % 3 == 0 else {}),
                        spec={"time_limit_s": 60 if i % 4 == 0 else None, "gres_per_node": (("nvme", 1),) if i == 5 else (),
                              "environment": {}})
            for i in range(1, 40)]
    answer = jobs_pb2.ListJobsResponse(jobs=[convert.job_to_pb(j, with_script=False) for j in jobs], next_after_job_id=7)
    printed = bytes(rowsjson.answer_json(jobs_pb2.ListJobsResponse, answer.SerializeToString()))
    assert printed == _generic(answer)
    document = json.loads(printed)
    assert document["next_after_job_id"] == "7" and len(document["jobs"]) == 39
    assert "start_time" in document["jobs"][2] and "start_time" not in document["jobs"][0]
    empty = jobs_pb2.ListJobsResponse()
    assert bytes(rowsjson.answer_json(jobs_pb2.ListJobsResponse, b"")) == _generic(empty)


def test_records_lacking_a_nested_message_are_left_to_jsonprint():
    answer = jobs_pb2.ListJobsResponse(jobs=[convert.job_to_pb(_listed_job(1), with_script=False)])
    answer.jobs.add(job_id=2)   # (no spec: the columns cannot print it)
    with pytest.raises(rowsjson.Unsupported):
        rowsjson.answer_json(jobs_pb2.ListJobsResponse, answer.SerializeToString())
    assert transcode.answer_json(jobs_pb2.ListJobsResponse, answer.SerializeToString()) == _generic(answer)
