"""jem.model.filenames: sbatch's -o/-e placeholders."""

import pytest

from jem.model.filenames import (
    DEFAULT_ARRAY_STDOUT,
    DEFAULT_STDOUT,
    NO_ARRAY_TASK,
    PatternValues,
    expand_pattern,
)

PLAIN = PatternValues(job_id=42, job_name="hello", user="ann", node="n07")
ARRAY = PatternValues(job_id=57, job_name="sweep", user="bob", node="gpu1", array_job_id=50, array_task_id=7)


@pytest.mark.parametrize("pattern, expected", [
    ("%j", "42"),
    ("%x", "hello"),
    ("%u", "ann"),
    ("%N", "n07"),
    ("%A", "42"),                      # outside an array, %A is the job id
    ("%a", str(NO_ARRAY_TASK)),        # ... and %a is Slurm's NO_VAL-1
    ("%%", "%"),
    ("100%%.log", "100%.log"),
    ("%%j", "%j"),                     # an escaped percent does not start a placeholder
    ("%4j", "0042"),
    ("%1j", "42"),                     # padding never truncates
    ("%10j", "0000000042"),
    ("out-%x-%j.txt", "out-hello-42.txt"),
    ("/scratch/%u/%x/%j.out", "/scratch/ann/hello/42.out"),
    ("plain.log", "plain.log"),
    ("%n-%t", "0-0"),
    ("%s", "batch"),
    ("%J", "42"),                      # the batch script's: the job id alone, as Slurm writes it
])
def test_expand_pattern_outside_an_array(pattern, expected):
    assert expand_pattern(pattern, PLAIN) == expected


def test_a_steps_J_is_job_dot_step():
    assert expand_pattern("%J.out", PatternValues(job_id=42, job_name="x", user="ann", node="n1", step="3")) == "42.3.out"


def test_no_array_task_is_slurms_value():
    assert NO_ARRAY_TASK == 4294967294


@pytest.mark.parametrize("pattern, expected", [
    ("%A_%a", "50_7"),
    ("%j", "57"),
    ("%3a", "007"),
    ("%5A-%2a", "00050-07"),
    ("%x-%u-%N", "sweep-bob-gpu1"),
])
def test_expand_pattern_inside_an_array(pattern, expected):
    assert expand_pattern(pattern, ARRAY) == expected


def test_array_task_zero_is_not_treated_as_missing():
    values = PatternValues(job_id=5, job_name="a", user="u", node="n", array_job_id=5, array_task_id=0)
    assert expand_pattern("%a", values) == "0"


def test_default_patterns():
    assert expand_pattern(DEFAULT_STDOUT, PLAIN) == "slurm-42.out"
    assert expand_pattern(DEFAULT_ARRAY_STDOUT, ARRAY) == "slurm-50_7.out"


def test_unknown_placeholder_is_left_alone():
    assert expand_pattern("%q-%z-%", PLAIN) == "%q-%z-%"


def test_width_on_text_placeholders_does_not_pad():
    assert expand_pattern("%8x", PLAIN) == "hello"


def test_percent_in_values_is_not_expanded_again():
    values = PatternValues(job_id=1, job_name="%j", user="u", node="n")
    assert expand_pattern("%x", values) == "%j"
