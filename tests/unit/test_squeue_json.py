"""squeue --json: Slurm 22.05's job keys (openapi v0.0.38) for every kind of job, and the
column encoder (jsonrows.encode_table) writing exactly what json.dumps(indent=2) writes."""

import json

from jem.model.job import Job, JobShape, JobSpec
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.step import Step
from jem.model.states import JobState
from jem_slurm import jsonrows, squeue_fields

NOW = 1_800_000_000.0
META = {"meta": {"plugin": {"type": "openapi/v0.0.38"}}, "errors": []}


def _job(job_id: int = 5, **fields) -> Job:
    spec = fields.pop("spec", JobSpec(script="#!/bin/sh\n", name="w", partition="debug", working_dir="/tmp"))
    base = dict(job_id=job_id, spec=spec, user="ann", uid=1000, gid=1000, submit_time=NOW - 100,
                shape=JobShape(1, 1, Resources(2, 200, 0)), time_limit_s=None)
    return Job(**{**base, **fields})


PENDING = _job(1, reason=JobReason.PRIORITY)
HELD_ARRAY = _job(2, spec=JobSpec(script="#!/bin/sh\n", array="1-4%2"), array_pending=(1, 2, 3, 4), held_by="user",
                  reason=JobReason.JOB_HELD_USER)
RUNNING = _job(3, state=JobState.RUNNING, start_time=NOW - 10, nodes=("n1", "n2"), cpu_ids=((0, 1), (2, 3)),
               shape=JobShape(2, 2, Resources(2, 200, 0)), time_limit_s=600)
FAILED = _job(4, state=JobState.FAILED, reason=JobReason.NON_ZERO_EXIT_CODE, start_time=NOW - 10, end_time=NOW - 5,
              nodes=("n1",), exit_code=3)
OOM = _job(6, state=JobState.OUT_OF_MEMORY, reason=JobReason.OUT_OF_MEMORY, start_time=NOW - 10, end_time=NOW - 5,
           nodes=("n1",), exit_code=137)


def test_a_job_has_slurms_keys_in_slurms_order():
    for job in (PENDING, HELD_ARRAY):
        assert tuple(squeue_fields.job_as_json(job, NOW, cluster_name="c")) == tuple(
            name for name in squeue_fields.JSON_NAMES if name != "job_resources")
    assert tuple(squeue_fields.job_as_json(RUNNING, NOW, cluster_name="c")) == squeue_fields.JSON_NAMES


def test_values_follow_slurms_types_and_meanings():
    running = squeue_fields.job_as_json(RUNNING, NOW, cluster_name="c")
    assert running["job_resources"] == {
        "nodes": "n[1-2]", "allocated_cores": 4, "allocated_hosts": 2,
        "allocated_nodes": [
            {"sockets": {"0": {"cores": {"0": "allocated", "1": "allocated"}}}, "nodename": "n1", "cpus_used": 0,
             "memory_used": 0, "memory_allocated": 200},
            {"sockets": {"0": {"cores": {"2": "allocated", "3": "allocated"}}}, "nodename": "n2", "cpus_used": 0,
             "memory_used": 0, "memory_allocated": 200}]}
    assert (running["time_limit"], running["billable_tres"], running["flags"]) == (10, 4.0, ["JOB_WAS_RUNNING"])
    assert running["tres_alloc_str"] == running["tres_req_str"] == "cpu=4,mem=400M,node=2,billing=4"
    pending = squeue_fields.job_as_json(PENDING, NOW, cluster_name="c")
    assert (pending["time_limit"], pending["billable_tres"], pending["tres_alloc_str"]) == (None, None, "")
    assert (pending["memory_per_node"], pending["memory_per_cpu"], pending["cpus_per_task"]) == (None, 100, None)
    array = squeue_fields.job_as_json(HELD_ARRAY, NOW, cluster_name="c")
    assert (array["array_job_id"], array["array_task_id"], array["array_task_string"],
            array["array_max_tasks"], array["eligible_time"]) == (2, None, "1-4%2", 2, 0)


def test_exit_codes_are_wait_statuses_and_derived_is_the_highest_step():
    steps = [Step(4, 0, "sh", ("n1",), 1, 1, NOW - 9, end_time=NOW - 8, exit_code=5),
             Step(4, 1, "sh", ("n1",), 1, 1, NOW - 8, end_time=NOW - 7, exit_signal=9)]
    failed = squeue_fields.job_as_json(FAILED, NOW, cluster_name="c", steps=steps)
    assert (failed["exit_code"], failed["derived_exit_code"], failed["state_reason"]) == (768, 1280, "NonZeroExitCode")
    assert squeue_fields.job_as_json(OOM, NOW, cluster_name="c")["exit_code"] == 253   # Slurm's SIG_OOM


def _dumped(document: dict) -> bytes:
    return json.dumps(document, indent=2).encode()


def test_the_column_encoder_writes_what_json_dumps_writes():
    jobs = [PENDING, HELD_ARRAY, RUNNING, FAILED, OOM]
    context = squeue_fields.JsonContext(NOW, "c", {})
    text = bytes(jsonrows.encode_table(META, "jobs", squeue_fields.JSON_NAMES,
                                       squeue_fields.json_columns(jobs, context)))
    rows = [squeue_fields.job_as_json(job, NOW, cluster_name="c") for job in jobs]
    assert text == json.dumps({**META, "jobs": rows}, indent=2).encode()
    empty = jsonrows.encode_table(META, "jobs", squeue_fields.JSON_NAMES, squeue_fields.json_columns([], context))
    assert bytes(empty) == json.dumps({**META, "jobs": []}, indent=2).encode()


def test_the_column_encoder_handles_same_absent_nested_and_odd_text():
    names = ("a", "b", "c", "%d")
    columns = [["x\n\"%s\" ü", "y"], jsonrows.Same([1, {"k": None}]), [jsonrows.ABSENT, {"n": [1.5, True]}],
               [[], {}]]
    expected = [{"a": "x\n\"%s\" ü", "b": [1, {"k": None}], "%d": []},
                {"a": "y", "b": [1, {"k": None}], "c": {"n": [1.5, True]}, "%d": {}}]
    assert bytes(jsonrows.encode_table(META, "rows", names, columns)) == _dumped({**META, "rows": expected})


def test_the_column_encoder_writes_fields_alike_in_every_row_once_and_keeps_types_apart():
    names = ("id", "same", "flag", "mixed", "f", "gone", "tail")
    columns = [[1, 2, 3], ["s", "s", "s"], [True, True, True], [1, True, 1.0], [0.0, -0.0, 0.0],
               [jsonrows.ABSENT] * 3, jsonrows.Same(None)]
    rows = [{"id": i, "same": "s", "flag": True, "mixed": m, "f": f, "tail": None}
            for i, m, f in zip((1, 2, 3), (1, True, 1.0), (0.0, -0.0, 0.0))]
    assert bytes(jsonrows.encode_table(META, "rows", names, columns)) == _dumped({**META, "rows": rows})
    alike = [["a", "a"], [None, None]]   # rows all alike: no field varies
    assert bytes(jsonrows.encode_table(META, "rows", ("k", "v"), alike)) == _dumped(
        {**META, "rows": [{"k": "a", "v": None}] * 2})


def test_the_column_encoder_matches_json_dumps_on_random_columns():
    import random

    rng = random.Random(7)   # (seeded: the same columns every run)
    kinds = [lambda: rng.randint(0, 3), lambda: rng.choice([True, False, 0, 1]), lambda: rng.choice(["", "a", "é\n"]),
             lambda: rng.choice([None, 0.5, -0.0, 0.0, 2]), lambda: rng.choice([[], {"k": [1]}, [None], "x"]),
             lambda: rng.choice([jsonrows.ABSENT, 1, [2]])]
    for n_rows in (1, 2, 17):
        names = ("id", *(f"c{i}" for i in range(len(kinds))), "end")
        columns = [list(range(n_rows)), *([make() for _ in range(n_rows)] for make in kinds), jsonrows.Same({"z": 0})]
        rows = [{name: column.value if isinstance(column, jsonrows.Same) else column[i]
                 for name, column in zip(names, columns)} for i in range(n_rows)]
        rows = [{name: value for name, value in row.items() if value is not jsonrows.ABSENT} for row in rows]
        assert bytes(jsonrows.encode_table(META, "rows", names, columns)) == _dumped({**META, "rows": rows})


def test_the_column_encoder_writes_every_character_as_json_dumps_does():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalar = st.one_of(st.text(max_size=6), st.integers(-2**70, 2**70), st.booleans(), st.none(),
                       st.floats(allow_nan=True, allow_infinity=True))
    value = st.one_of(scalar, st.lists(scalar, max_size=2), st.just(jsonrows.ABSENT))

    @settings(derandomize=True, max_examples=300, deadline=None)
    @given(st.lists(st.lists(value, min_size=3, max_size=3), min_size=1, max_size=4))
    def check(rows):
        names = ("id", "a", "b", "c")
        columns = [list(range(len(rows))), *map(list, zip(*rows))]
        expected = [{name: v for name, v in zip(names, (i, *row)) if v is not jsonrows.ABSENT}
                    for i, row in enumerate(rows)]
        assert bytes(jsonrows.encode_table(META, "rows", names, columns)) == json.dumps(
            {**META, "rows": expected}, indent=2).encode()

    check()


def test_json_goes_to_a_stdout_without_bytes_too():
    import contextlib
    import io

    from jem_slurm import squeue

    for stdout in (io.StringIO(), io.TextIOWrapper(io.BytesIO(), encoding="ascii")):
        with contextlib.redirect_stdout(stdout):
            squeue._write_ascii(b'{"jobs": []}')
            stdout.flush()
        written = stdout.getvalue() if isinstance(stdout, io.StringIO) else stdout.buffer.getvalue().decode()
        assert written == '{"jobs": []}\n'
