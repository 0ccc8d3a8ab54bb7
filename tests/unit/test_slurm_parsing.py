"""The pure parts of slurm-compat: getopt rules, #SBATCH directives, --export, time forms, column cells."""

import doctest
import importlib

import pytest

from jem_slurm import getopt, sbatch_options
from jem_slurm.command import Failure

MODULES = ["jem_slurm.layout", "jem_slurm.sbatch_options", "jem_slurm.sacct_fields", "jem_slurm.srun_io",
           "jem_slurm.propagate", "jem_slurm.states", "jem_slurm.times"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def test_getopt_takes_unique_prefixes_clusters_and_stops_at_the_script():
    found, operands = sbatch_options.OPTIONS.parse(
        ["--part=debug", "-HJname", "--nice", "-t", "5", "job.sh", "-p", "x"], stop_at_operand=True)
    assert [(o.name, v) for o, v in found] == [("partition", "debug"), ("hold", None), ("job_name", "name"),
                                               ("nice", None), ("time", "5")]
    assert operands == ["job.sh", "-p", "x"]


@pytest.mark.parametrize("argv, message", [
    (["--bogus"], "unrecognized option '--bogus'"),
    (["-Z"], "invalid option -- 'Z'"),
    (["--time"], "option '--time' requires an argument"),
    (["--hold=1"], "option '--hold' doesn't allow an argument"),
    (["--no"], "option '--no' is ambiguous; possibilities:"),
])
def test_getopt_errors_read_like_gnu_getopt(argv, message):
    with pytest.raises(getopt.UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        sbatch_options.OPTIONS.parse(argv, stop_at_operand=True)


def test_directives_stop_at_the_first_command_and_keep_quoted_values():
    script = ('#!/bin/bash\n#SBATCH --job-name="two words"\n#SBATCH -t 10 # ten minutes\n'
              '#SBATCHX -p ignored\n\n#SBATCH --mem=1G\necho hi\n#SBATCH -p late\n')
    assert sbatch_options.directive_args(script) == ["--job-name=two words", "-t", "10", "--mem=1G"]


def test_memory_options_of_one_source_exclude_each_other_but_a_later_source_overrides():
    table = sbatch_options.OPTIONS
    settings: dict = {}
    sbatch_options.apply_settings(settings, table.parse(["--mem=1G"], stop_at_operand=True)[0])
    sbatch_options.apply_settings(settings, table.parse(["--mem-per-cpu=100"], stop_at_operand=True)[0])
    assert settings == {"mem_per_cpu": 100}
    with pytest.raises(Failure):
        sbatch_options.apply_settings({}, table.parse(["--mem=1", "--mem-per-cpu=1"], stop_at_operand=True)[0])


@pytest.mark.parametrize("value, code", [("--time=abc", 255), ("--mem=-5", 255), ("-N", 255), ("-n", 1),
                                         ("--nodelist=n1", 1), ("--gres=disk:a:b", 1)])
def test_bad_values_fail_with_slurms_exit_code(value, code):
    argv = [value] if "=" in value else [value, "abc"]
    found, _ = sbatch_options.OPTIONS.parse(argv, stop_at_operand=True)
    with pytest.raises(Failure) as info:
        sbatch_options.apply_settings({}, found)
    assert info.value.code == code


def test_json_rows_print_as_the_indented_encoder_does():
    import json

    from jem_slurm import jsonrows

    document = {"meta": {"plugin": {"type": "openapi/v0.0.38"}}, "errors": []}
    rows = [{"name": f"j{i}\n\"%s\" ü", "id": i, "ok": i % 2 == 0, "limit": None, "f": i / 3, "%key": ""}
            for i in range(50)]
    for some in (rows, rows[:1], []):
        expected = json.dumps({**document, "jobs": some}, indent=2).encode()
        assert bytes(jsonrows.encode_indented(document, "jobs", some)) == expected
    uneven = [{"a": 1}, {"b": 2}]
    nested = [{"a": [1, 2]}, {"a": {"b": 1}}]
    for odd in (uneven, nested):  # not flat rows of one shape: the plain encoder's text still
        expected = json.dumps({**document, "jobs": odd}, indent=2).encode()
        assert bytes(jsonrows.encode_indented(document, "jobs", odd)) == expected


def test_lines_a_column_at_a_time_are_the_rendered_lines():
    from jem_slurm import layout

    getters = {"i": lambda item, sep: f"{item}{sep}", "j": lambda item, sep: "x" * item}
    columns = {letter: (lambda get: lambda items, sep: [get(item, sep) for item in items])(get)
               for letter, get in getters.items()}
    items = [0, 7, 12345]
    for fmt in ("%.5i %-3j|{lit}%%", "%i%z %j", "%s %d%5.3j", "plain 100% text"):
        parts = layout.parse_format(fmt)
        expected = [layout.render(parts, {letter: get(item, ":") for letter, get in getters.items()})
                    for item in items]
        assert expected == ["".join(part if isinstance(part, str) else
                                    layout.cell(getters[part.letter](item, ":") if part.letter in getters else "",
                                                part.width, is_right=part.is_right) for part in parts)
                            for item in items]
        assert layout.lines(parts, columns, items, ":") == expected


def test_iso_times_from_the_cache_are_datetime_s():
    import datetime as dt
    import random

    from jem_slurm import jobview

    rng = random.Random(4)
    times = [1.7e9 + rng.random() * 1e6 for _ in range(2000)] + [1700000000.9999996, 1700000000.9999994, 5.5]
    for t in times + times:  # the second pass answers from the cache
        assert jobview.iso(t) == dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")
    assert jobview.iso(None) == "N/A" and jobview.iso(0, "-") == "-"
