"""srun --multi-prog's configuration (jem.model.multiprog) against what Slurm 22.05's srun and
slurmstepd were seen to do: the error lines for a configuration that does not fit the step,
and each task's argv (quotes, backslashes, %t, %o, `*`)."""

import doctest

import pytest

from jem.model import multiprog


def test_docstring_examples_hold():
    result = doctest.testmod(multiprog)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("text, n_tasks, lines", [
    ("* echo all\n0 echo zero\n", 2, ("Task range specification with asterisk must be last",
                                     "Line 2 of configuration file f.conf invalid")),
    ("0-5 echo a\n", 2, ("Invalid task id, 5 >= ntasks", "Line 1 of configuration file f.conf invalid")),
    ("0 echo a\n0 echo b\n1 echo c\n", 2, ("Duplicate record for task 0",
                                           "Line 2 of configuration file f.conf invalid")),
    ("0\n1 echo c\n", 2, ("Line 1 of configuration file f.conf invalid",)),
    ("x echo a\n1 echo c\n", 2, ("Invalid task range specification (x)",
                                 "Line 1 of configuration file f.conf invalid")),
    ("3-1 echo a\n", 4, ("Invalid task range specification (3-1)", "Line 1 of configuration file f.conf invalid")),
    ("0 echo zero\n", 2, ("Configuration file f.conf invalid, no record for task id 1",)),
    ("", 1, ("Configuration file f.conf invalid, no record for task id 0",)),
])
def test_a_configuration_that_does_not_fit_the_step_gets_slurms_lines(text, n_tasks, lines):
    with pytest.raises(multiprog.MultiProgError) as caught:
        multiprog.check(text, n_tasks, name="f.conf")
    assert caught.value.lines == lines


def test_each_task_gets_its_records_words_then_the_command_lines_arguments():
    text = ("# comment\n\n  # indented comment\n0,2 echo 'a b  %t' x%ty\n1 echo one # kept\n"
            "3\techo\t\t'a'b\"c\" '%o'%o \\'q %5t %%t\n*   echo star %t %o\n")
    records = multiprog.check(text, 6, name="c")
    argv = {t: multiprog.task_argv(records, t, ("extra",)) for t in range(6)}
    assert argv == {0: ("echo", "a b  %t", "x0y", "extra"), 1: ("echo", "one", "#", "kept", "extra"),
                    2: ("echo", "a b  %t", "x2y", "extra"), 3: ("echo", 'ab"c"', "%o0", "'q", "t", "t", "extra"),
                    4: ("echo", "star", "4", "4", "extra"), 5: ("echo", "star", "5", "5", "extra")}


def test_a_line_whose_quote_does_not_close_gives_its_task_no_program():
    records = multiprog.check("0 echo ok\n1 echo 'open\n", 2, name="c")
    assert multiprog.task_argv(records, 0, ()) == ("echo", "ok")
    assert multiprog.task_argv(records, 1, ()) is None

