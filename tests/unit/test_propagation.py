"""What a node takes from the submitter's SLURM_UMASK and SLURM_RLIMIT_* (jem.agent.propagation),
against a user who writes them by hand: a soft limit above the node's hard limit (this process's,
as for the agent) is lowered to it, never the hard limit raised; malformed values are ignored,
and a limit the tasks inherit anyway is left out. The start-up shell applies the result as the
user (tests/integration/test_steps.py checks that end to end)."""

import resource

import pytest

from jem.agent.propagation import NOTHING, propagated, without_limits


@pytest.fixture
def low_soft_nofile():
    """This process's soft RLIMIT_NOFILE lowered below its hard limit for the test (as the agent's
    may be), and its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard != resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard // 2), hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_soft_limit_above_the_nodes_hard_limit_is_lowered_to_it(low_soft_nofile):
    hard = low_soft_nofile
    for text in (str(hard + 1), str(2 ** 64 - 1), "unlimited", "99999999999999999999999"):
        assert propagated({"SLURM_RLIMIT_NOFILE": text}).soft_limits == (("NOFILE", hard),)
    assert propagated({"SLURM_RLIMIT_NOFILE": "100"}).prlimit_args() == "--nofile=100:"


@pytest.mark.parametrize("text", ["-5", "1e9", "0x10", "", " ", "12abc", "١٢"])
def test_a_malformed_limit_is_ignored(text):
    assert propagated({"SLURM_RLIMIT_NOFILE": text}) == NOTHING


@pytest.mark.parametrize("text, umask", [("0027", 0o27), ("077", 0o77), ("0", 0), ("8", None), ("07777", None),
                                         ("abc", None), ("-1", None), ("", None), ("0o22", None)])
def test_only_an_octal_umask_of_at_most_0777_is_taken(text, umask):
    assert propagated({"SLURM_UMASK": text}).umask == umask


def test_a_limit_the_tasks_inherit_anyway_is_left_out_and_the_variables_are_dropped():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert propagated({"SLURM_RLIMIT_NOFILE": str(soft)}) == NOTHING
    assert without_limits({"SLURM_RLIMIT_CORE": "0", "SLURM_UMASK": "0022", "A": "1"}) == {"SLURM_UMASK": "0022",
                                                                                         "A": "1"}
