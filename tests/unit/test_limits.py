"""Bounded input: every string and repeated field of a job or step has a limit, NUL bytes and
impossible environment names are refused, times are clamped (jem.model.limits)."""

import pytest

from jem.controller.submission import checked_spec
from jem.model.config import parse_config
from jem.model.errors import ConfigError, InvalidJobSpec, ParameterTooLong
from jem.model.job import JobSpec
from jem.model.limits import MAX_EPOCH_S, MAX_TIME_LIMIT_S, InputLimits
from jem.model.step import StepSpec

SCRIPT = "#!/bin/sh\ntrue\n"
SMALL = InputLimits(max_script_size=100, max_env_size=64, max_env_vars=3, max_arg_size=32, max_args=2,
                    max_path_len=16, max_name_len=8, max_dependency_jobs=2, max_array_text=10)


def spec(**fields) -> JobSpec:
    return JobSpec(**{"script": SCRIPT, **fields})


def test_a_spec_at_every_limit_passes():
    spec(script="#!/bin/sh\n" + "x" * 90, script_args=("a" * 32, "b"), environment={"A": "x" * 29, "B": "1"},
         working_dir="/" + "d" * 15, stdout_pattern="o" * 16, name="n" * 8, account="a" * 8, constraint="c" * 8,
         array="0-9", dependency="afterok:1:2").validate(SMALL)


@pytest.mark.parametrize("fields, field_name", [
    ({"script": "#!/bin/sh\n" + "x" * 91}, "script"),
    ({"script": "#!/bin/sh\n" + "é" * 46}, "script"),          # bytes, not characters
    ({"script_args": ("a", "b", "c")}, "script_args"),
    ({"script_args": ("a" * 33,)}, "script_args"),
    ({"environment": {"A": "1", "B": "2", "C": "3", "D": "4"}}, "environment"),
    ({"environment": {"A": "x" * 31}}, "environment 'A'"),
    ({"environment": {"A": "x" * 29, "B": "x" * 29, "C": "x"}}, "environment"),
    ({"working_dir": "/" + "d" * 16}, "working_dir"),
    ({"stdout_pattern": "o" * 17}, "stdout_pattern"),
    ({"stderr_pattern": "e" * 17}, "stderr_pattern"),
    ({"stdin_path": "i" * 17}, "stdin_path"),
    ({"name": "n" * 9}, "name"),
    ({"account": "a" * 9}, "account"),
    ({"partition": "p" * 9}, "partition"),
    ({"qos": "q" * 9}, "qos"),
    ({"constraint": "c" * 9}, "constraint"),
    ({"array": "0-1,3,5,70"}, None),   # 10 characters: allowed
    ({"array": "0-1,3,5,7,9"}, "array"),
    ({"dependency": "afterok:" + "1:" * 20 + "1"}, "dependency"),
    ({"gres_per_node": (("g" * 9, 1),)}, "gres_per_node"),
])
def test_a_field_over_its_limit_is_refused_with_slurms_wording(fields, field_name):
    if field_name is None:
        spec(**fields).validate(SMALL)
        return
    with pytest.raises(ParameterTooLong) as caught:
        spec(**fields).validate(SMALL)
    assert caught.value.detail.startswith(f"{field_name}: "), caught.value.detail
    assert str(caught.value).startswith("Pathname of a file, directory or other parameter too long: ")
    assert len(str(caught.value)) < 200     # never the user's huge value echoed back


@pytest.mark.parametrize("fields, field_name", [
    ({"script": SCRIPT + "\0"}, "script"),
    ({"script_args": ("a\0b",)}, "script_args"),
    ({"environment": {"A": "x\0y"}}, "environment 'A'"),
    ({"environment": {"A\0B": "x"}}, "environment 'A\\x00B'"),
    ({"environment": {"A=B": "x"}}, "environment"),
    ({"environment": {"": "x"}}, "environment"),
    ({"working_dir": "/tmp/\0"}, "working_dir"),
    ({"stdout_pattern": "out\0"}, "stdout_pattern"),
    ({"name": "a\0"}, "name"),
    ({"account": "\0"}, "account"),
    ({"dependency": "afterok:1\0"}, "dependency"),
])
def test_a_value_no_program_could_be_given_is_an_invalid_spec(fields, field_name):
    with pytest.raises(InvalidJobSpec) as caught:
        spec(**fields).validate()
    assert caught.value.detail.startswith(f"{field_name}"), caught.value.detail


def test_times_are_clamped_to_what_the_platform_holds():
    clamped = checked_spec(spec(time_limit_s=10 ** 15, begin_time=1e30), InputLimits())
    assert clamped.time_limit_s == MAX_TIME_LIMIT_S
    assert clamped.begin_time == MAX_EPOCH_S
    assert checked_spec(spec(begin_time=-5.0), InputLimits()).begin_time == 0.0
    same = spec(time_limit_s=60, begin_time=1000.0)
    assert checked_spec(same, InputLimits()) == same


def test_a_step_spec_has_the_same_bounds():
    StepSpec(argv=("a" * 32, "b"), environment={"A": "1"}, name="n" * 8, working_dir="/w").check_sizes(SMALL)
    for step, field_name in [(StepSpec(argv=("a",) * 3), "argv"), (StepSpec(argv=("a" * 33,)), "argv"),
                             (StepSpec(argv=("a",), environment={"A": "x" * 40}), "environment 'A'"),
                             (StepSpec(argv=("a",), working_dir="/" + "w" * 16), "working_dir"),
                             (StepSpec(argv=("a",), stdout_pattern="o" * 17), "stdout_pattern"),
                             (StepSpec(argv=("a",), name="n" * 9), "name")]:
        with pytest.raises(ParameterTooLong) as caught:
            step.check_sizes(SMALL)
        assert caught.value.detail.startswith(f"{field_name}: ")
    with pytest.raises(InvalidJobSpec):
        StepSpec(argv=("a\0",)).check_sizes(SMALL)


def test_limits_come_from_the_limits_section():
    config = parse_config({"limits": {"max_script_size": 1000, "max_dependency_jobs": 5}})
    assert config.limits.max_script_size == 1000 and config.limits.max_dependency_jobs == 5
    assert parse_config({}).limits == InputLimits()
    assert InputLimits().max_script_size == 4 * 1024 * 1024   # Slurm's max_script_size default
    with pytest.raises(ConfigError, match="limits.max_args"):
        parse_config({"limits": {"max_args": 0}})
    with pytest.raises(ConfigError, match="limits.max_scripts"):
        parse_config({"limits": {"max_scripts": 1}})


def test_users_and_private_data_come_from_the_config_and_bad_values_are_named():
    from jem.model.identity import AdminLevel
    config = parse_config({"cluster": {"private_data": ["jobs", "usage"]},
                           "users": [{"name": "alice", "admin_level": "operator"}, {"name": "bob"}]})
    assert config.cluster.is_private("jobs") and not config.cluster.is_private("accounts")
    assert config.admin_levels() == {"alice": AdminLevel.OPERATOR}
    for raw, key in [({"cluster": {"private_data": ["secrets"]}}, "cluster.private_data"),
                     ({"cluster": {"private_data": "jobs"}}, "cluster.private_data"),
                     ({"users": [{"name": "a", "admin_level": "root"}]}, "admin_level"),
                     ({"users": [{"name": "a"}, {"name": "a"}]}, "users")]:
        with pytest.raises(ConfigError, match=key):
            parse_config(raw)
