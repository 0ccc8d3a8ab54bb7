"""`scontrol suspend|resume JOBLIST` as parsed and worded: Slurm 22.05's job list forms (ids, array
tasks, comma lists, several words) and the lines it prints for each refusal (taken from the real
scontrol: `Job is pending execution for job 12`, `12_3: Job is not suspended`, ...)."""

import pytest

from jem.model.errors import (AlreadyDone, InternalError, JobIsPending, JobNotFound, NotJobOwner,
                              PermissionDenied)
from jem_slurm import scontrol
from jem_slurm.scontrol_suspend import Target, parse_word, refusal_line, split_ids


@pytest.mark.parametrize("word, ids", [
    ("12", ["12"]),
    ("12,13", ["12", "13"]),
    ("12_[1,3],13", ["12_[1,3]", "13"]),
    ("12_1,12_2", ["12_1", "12_2"]),
    (",12,,", ["12"]),
    (",", []),
])
def test_a_word_splits_on_commas_outside_brackets(word, ids):
    assert split_ids(word) == ids


@pytest.mark.parametrize("word, targets", [
    ("12", [Target("12", 12)]),
    ("12,13", [Target("12", 12), Target("13", 13)]),
    ("12_3", [Target("12_3", 12, (3,))]),
    ("12_[1-3,7]", [Target("12_[1-3,7]", 12, (1, 2, 3, 7))]),
    ("12_[1,3],13", [Target("12_[1,3]", 12, (1, 3)), Target("13", 13)]),
    (",", []),
])
def test_job_lists_take_slurms_forms(word, targets):
    assert parse_word(word) == targets


@pytest.mark.parametrize("word", ["abc", "12,abc", "12_[1-2],abc", "12_", "12.0", "0", "12_x", "-5", "١٢"])
def test_a_malformed_id_refuses_its_whole_word(word):
    assert parse_word(word) is None


@pytest.mark.parametrize("exc, label, line", [
    (JobIsPending(), None, "Job is pending execution for job 12"),
    (AlreadyDone(), None, "Job/step already completing or completed for job 12"),
    (JobNotFound(), None, "Invalid job id specified for job 12"),
    (PermissionDenied(), None, "Access/permission denied for job 12"),
    (JobIsPending(), "12_1-4", "12_1-4: Job is pending execution"),
    (AlreadyDone("ended"), "12_3", "12_3: Job/step already completing or completed"),
    # A refused permission refuses Slurm's whole request: reported for the id as written.
    (NotJobOwner(), "12_3", "Access/permission denied for job 12"),
    (InternalError("UNIMPLEMENTED: Method not found!"), None, "UNIMPLEMENTED: Method not found! for job 12"),
])
def test_each_refusal_prints_slurms_line(exc, label, line):
    assert refusal_line(exc, text="12", label=label) == line


def test_no_job_list_is_too_few_arguments(capsys):
    assert scontrol.main(["suspend"]) == 1
    assert capsys.readouterr().err == "too few arguments for keyword:suspend\n"
    assert scontrol.main(["SUSP"]) == 1   # (a keyword's prefix, as Slurm matches it)
    assert capsys.readouterr().err == "too few arguments for keyword:SUSP\n"


def test_malformed_words_are_refused_without_asking_the_controller(capsys, monkeypatch):
    # No controller exists here: only well-formed ids would need one.
    monkeypatch.setenv("JEM_CONTROLLER", "127.0.0.1:1")
    assert scontrol.main(["resume", "abc", "12.batch,13"]) == 1
    assert capsys.readouterr().err == ("Invalid job id specified for job abc\n"
                                       "Invalid job id specified for job 12.batch,13\n")
    assert scontrol.main(["suspend", ","]) == 0   # (commas alone name nothing, as in Slurm)
    assert capsys.readouterr().err == ""


def test_ping_takes_no_arguments(capsys):
    assert scontrol.main(["ping", "extra"]) == 1
    assert capsys.readouterr().err == "too many arguments for keyword:ping\n"
    assert scontrol.main(["pi"]) == 1   # (ping's shortest prefix is "pin", as in Slurm)
    assert capsys.readouterr().err == "invalid keyword: pi\n"
