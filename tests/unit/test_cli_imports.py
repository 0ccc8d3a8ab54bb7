"""What `jem` imports: a command's parser pulls in nothing heavy (numpy, grpc, the scheduler, the
security stack, psutil), `jem jobs` pays for grpc but never numpy, `jem sim` for numpy but never
grpc. Checked in fresh interpreters through sys.modules: a structure, not a timing."""

import json
import os
import subprocess
import sys

import pytest

from jem.cli import ca as cli_ca
from jem.cli import sim as cli_sim
from jem.cli.main import COMMAND_MODULES, build_parser

# What no parser needs: each is imported by the commands that use it, when they run.
HEAVY = ("numpy", "grpc", "google.protobuf", "jem.client", "jem.v1", "jem.convert", "jem.accountingwire",
         "jem.relay", "jem.scheduler", "jem._core", "jem.security", "jem.controller", "jem.agent", "jem.store",
         "psutil", "cryptography", "jwt", "matplotlib")

PARSE = """
import json, sys
from jem.cli.main import build_parser, parse
argv = json.loads(sys.argv[1])
parser = build_parser(argv)
if argv:
    parse(parser, argv)
else:
    parser.format_help()   # (what `jem --help` prints: every command's parser)
print(json.dumps(sorted(sys.modules)))
"""

RUN = """
import json, sys
from jem.cli.main import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules(code: str, argv: list[str], tmp_path, **env) -> dict | list:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JEM_", "SLURM_"))}
    environment.update(HOME=str(tmp_path), JEM_STATE_DIR=str(tmp_path / "state"), **env)
    result = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True,
                            env=environment, cwd=str(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _heavy(modules) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [
    ["jobs"], ["submit", "--wrap", "true"], ["why", "4"], ["nodes"], ["ping"], ["show", "1"], ["cancel", "3_5"],
    ["shares"], ["accounts", "add-user", "alice", "-A", "physics", "MaxJobs=2"], ["audit", "--since", "2h"],
    ["steps", "1"], ["token"], ["authd"], ["ca", "init"], ["up"], ["down"], ["controller", "--config", "x"],
    ["sim", "trace.swf"], ["slurm-path"], [],
], ids=lambda argv: " ".join(argv[:2]) or "--help")
def test_parsing_a_command_imports_nothing_heavy(argv, tmp_path):
    assert _heavy(_modules(PARSE, argv, tmp_path)) == []


def test_jem_jobs_loads_its_own_module_alone(tmp_path):
    modules = _modules(PARSE, ["jobs"], tmp_path)
    assert sorted(m for m in modules if m.startswith("jem.cli.")) == [
        "jem.cli.connection", "jem.cli.jobs", "jem.cli.main", "jem.cli.table", "jem.cli.views"]


def test_running_jem_jobs_imports_grpc_but_no_numpy_nor_the_scheduler(tmp_path):
    """Against no controller (the import happens all the same): the client, and nothing of jem sim's."""
    out = _modules(RUN, ["jobs"], tmp_path, JEM_CONTROLLER="127.0.0.1:1", JEM_AUTHD_SOCKET=str(tmp_path / "none"))
    assert out["code"] == 1
    assert "jem.client" in out["modules"] and "grpc" in out["modules"]
    # (of jem._core, the wire kernel alone: the client reads listings with it, and it needs no numpy)
    scheduling_kernels = tuple(f"jem._core.{name}" for name in ("fit", "backfill", "replay", "records", "fairtree"))
    unwanted = ("numpy", "jem.scheduler", *scheduling_kernels, "matplotlib", "psutil", "jem.controller", "jem.store")
    assert [m for m in out["modules"] if m.split(".")[0] in unwanted or m.startswith(unwanted)] == []


def test_running_jem_sim_imports_no_grpc_nor_the_client(tmp_path):
    trace = tmp_path / "t.swf"
    trace.write_text("; MaxProcs: 4\n1 0 -1 10 2 -1 -1 2 10 -1 1 1 1 -1 -1 -1 -1 -1\n")
    out = _modules(RUN, ["sim", str(trace), "--json"], tmp_path)
    assert out["code"] == 0 and "jem.scheduler.sim" in out["modules"]
    unwanted = ("grpc", "jem.client", "jem.v1", "jem.security", "psutil", "cryptography")
    assert [m for m in out["modules"] if m.split(".")[0] in unwanted or m.startswith(unwanted)] == []


def _commands(parser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)


def test_the_command_table_names_the_module_of_every_command():
    assert _commands(build_parser([])) == set(COMMAND_MODULES)
    for command, module in COMMAND_MODULES.items():
        assert command in _commands(build_parser([command])), (command, module)


def test_a_command_with_name_value_settings_takes_them_after_its_options(capsys):
    from jem.cli.main import parse

    argv = ["accounts", "add-user", "alice", "-A", "physics", "MaxJobs=2", "GrpJobs=4"]
    args = parse(build_parser(argv), argv)
    assert (args.name, args.account, args.settings) == ("alice", "physics", ["MaxJobs=2", "GrpJobs=4"])
    for wrong in (["accounts", "add-user", "alice", "-A", "physics", "--bogus"], ["jobs", "MaxJobs=2"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(build_parser(wrong), wrong)
        assert exit_info.value.code == 1 and "unrecognized arguments" in capsys.readouterr().err


def test_the_parsers_constants_are_the_libraries():
    """Named again in the CLI so that its parsers need neither the scheduler nor cryptography."""
    from jem.scheduler.policy import POLICY_DEPTHS
    from jem.security import ca

    assert cli_sim.POLICIES == tuple(sorted(POLICY_DEPTHS))
    assert (cli_ca.CA_DAYS, cli_ca.LEAF_DAYS) == (ca.CA_DAYS, ca.LEAF_DAYS)
