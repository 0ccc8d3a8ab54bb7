"""The --array and --dependency grammars and the pure dependency rules."""

import pytest

from jem.model.arrays import format_ranges, parse_array, parse_job_label
from jem.model.dependency import (DependencyStatus, RefState, combine, parse_dependency, per_task_part,
                                  ref_status)
from jem.model.errors import DependencyProblem, InvalidArraySpec
from jem.model.states import JobState

MET, WAITING, NEVER = DependencyStatus.MET, DependencyStatus.WAITING, DependencyStatus.NEVER


@pytest.mark.parametrize("text, indices, throttle", [
    ("0-3", (0, 1, 2, 3), 0), ("1,3,5", (1, 3, 5), 0), ("0-15:4", (0, 4, 8, 12), 0),
    ("1-3,2-4%2", (1, 2, 3, 4), 2), ("7", (7,), 0), (" 2-3 ", (2, 3), 0),
])
def test_array_specs_parse(text, indices, throttle):
    spec = parse_array(text, max_size=100)
    assert spec.indices == indices and spec.max_running == throttle


@pytest.mark.parametrize("text", ["abc", "-1", "5-3", "1-3:0", "1-3%x", "", "1,,2", "1-"])
def test_bad_array_specs_are_refused_with_slurms_message(text):
    with pytest.raises(InvalidArraySpec) as info:
        parse_array(text, max_size=100)
    assert info.value.message == "Invalid job array specification"


def test_the_size_limit_counts_tasks_not_index_values():
    assert parse_array("1000000-1000009", max_size=10).indices[-1] == 1000009
    with pytest.raises(InvalidArraySpec):
        parse_array("0-10", max_size=10)


def test_step_of_regular_and_irregular_arrays():
    assert parse_array("0-15:4", max_size=100).step == 4
    assert parse_array("1,2,5", max_size=100).step == 1


def test_ranges_format_as_squeue_prints_them():
    assert format_ranges([4, 5, 6, 7, 8, 9, 10]) == "4-10"
    assert format_ranges([1, 3, 4, 5, 9]) == "1,3-5,9"
    assert format_ranges([]) == ""


@pytest.mark.parametrize("text, parsed", [
    ("12", (12, ())), ("12_3", (12, (3,))), ("12_[1-3,7]", (12, (1, 2, 3, 7))), ("12.batch", (12, ())),
    ("12_3.0", (12, (3,))),
])
def test_job_labels_parse(text, parsed):
    assert parse_job_label(text) == parsed


@pytest.mark.parametrize("text", ["x", "0", "12_x", "12_[", "-3"])
def test_bad_job_labels_raise(text):
    with pytest.raises(ValueError):
        parse_job_label(text)


def test_dependencies_parse_to_canonical_text():
    assert str(parse_dependency("afterok:12:13,afterany:14")) == "afterok:12:13,afterany:14"
    assert str(parse_dependency("after:12+5?singleton")) == "after:12+5?singleton"
    assert str(parse_dependency("afterok:12_3")) == "afterok:12_3"
    assert parse_dependency("  ") is None
    assert per_task_part("afterok:1,aftercorr:2") == "aftercorr:2"


@pytest.mark.parametrize("text", ["foo:1", "afterok", "afterok:x", "singleton:3", "afterok:1,afterany:2?singleton",
                                  "afterok:1+5", "afterok:0"])
def test_bad_dependencies_are_a_dependency_problem(text):
    with pytest.raises(DependencyProblem) as info:
        parse_dependency(text)
    assert info.value.message == "Job dependency problem"


def _ref(state, start=None):
    return RefState(state, start)


@pytest.mark.parametrize("kind, state, expected", [
    ("afterok", JobState.COMPLETED, MET), ("afterok", JobState.FAILED, NEVER), ("afterok", JobState.RUNNING, WAITING),
    ("afternotok", JobState.FAILED, MET), ("afternotok", JobState.TIMEOUT, MET),
    ("afternotok", JobState.COMPLETED, NEVER), ("afterany", JobState.CANCELLED, MET),
    ("afterany", JobState.PENDING, WAITING), ("after", JobState.RUNNING, MET), ("after", JobState.PENDING, WAITING),
    ("after", JobState.CANCELLED, MET),
])
def test_each_kind_against_one_job(kind, state, expected):
    assert ref_status(kind, [_ref(state, 100.0)], now=200.0) is expected


def test_after_with_a_delay_waits_that_long_after_the_start():
    assert ref_status("after", [_ref(JobState.RUNNING, 100.0)], now=150.0, delay_s=60) is WAITING
    assert ref_status("after", [_ref(JobState.RUNNING, 100.0)], now=160.0, delay_s=60) is MET


def test_an_array_reference_needs_every_task():
    tasks = [_ref(JobState.COMPLETED), _ref(JobState.RUNNING)]
    assert ref_status("afterok", tasks, now=0.0) is WAITING
    assert ref_status("afterok", [_ref(JobState.COMPLETED), _ref(JobState.FAILED)], now=0.0) is NEVER


def test_all_and_any_combinations():
    assert combine([MET, WAITING], is_any=False) is WAITING
    assert combine([MET, NEVER], is_any=False) is NEVER
    assert combine([NEVER, MET], is_any=True) is MET
    assert combine([NEVER, WAITING], is_any=True) is WAITING
    assert combine([NEVER, NEVER], is_any=True) is NEVER


@pytest.mark.parametrize("text", ["12", "12_3", "12_[1-3,7]"])
def test_job_labels_format_back_as_written(text):
    from jem.model.arrays import format_job_label

    assert format_job_label(*parse_job_label(text)) == text
