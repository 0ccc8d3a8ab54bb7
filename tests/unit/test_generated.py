"""The committed stubs in jem/v1 are exactly what the pinned generator makes of proto/."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_grpc_modules_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_proto.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_proto_enum_starts_with_unspecified_zero():
    from jem.v1 import admin_pb2, agent_pb2, common_pb2, jobs_pb2

    for module in (admin_pb2, agent_pb2, common_pb2, jobs_pb2):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            assert enum.values[0].number == 0 and enum.values[0].name.endswith("_UNSPECIFIED"), enum.name
