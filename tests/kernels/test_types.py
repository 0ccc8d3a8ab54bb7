"""jem/_core/_types.pxd mirrors jem.model.resources.Res: same names, same column numbers."""

import re
from pathlib import Path

import jem._core
from jem.model import resources
from jem.model.resources import N_RES, Res

TYPES_PXD = Path(jem._core.__file__).with_name("_types.pxd")


def pxd_enum_values() -> dict[str, int]:
    """The NAME = value members of the anonymous `cdef enum:` blocks in _types.pxd."""
    text = TYPES_PXD.read_text()
    values = {}
    for block in re.finditer(r"^cdef enum:\n((?:[ \t]+.*\n?|\n)+)", text, flags=re.MULTILINE):
        for name, value in re.findall(r"^[ \t]+([A-Z_][A-Z0-9_]*)\s*=\s*(-?\d+)", block.group(1), flags=re.MULTILINE):
            values[name] = int(value)
    return values


def test_types_pxd_declares_resource_columns():
    values = pxd_enum_values()
    assert {"RES_CPU", "RES_MEM_MIB", "RES_GPU", "N_RES"} <= set(values), values


def test_every_res_member_has_a_matching_pxd_constant():
    values = pxd_enum_values()
    for member in Res:
        assert values.get(f"RES_{member.name}") == member.value, member


def test_pxd_declares_no_resource_column_missing_from_res():
    pxd_columns = {name.removeprefix("RES_") for name in pxd_enum_values() if name.startswith("RES_")}
    assert pxd_columns == {member.name for member in Res}


def test_n_res_agrees():
    assert pxd_enum_values()["N_RES"] == N_RES == len(Res) == 3


def test_res_columns_are_the_documented_order():
    assert (Res.CPU, Res.MEM_MIB, Res.GPU) == (0, 1, 2)
    assert sorted(m.value for m in Res) == list(range(N_RES))


def test_resources_as_row_follows_res_order():
    row = resources.Resources(cpus=4, mem_mib=2048, gpus=1).as_row()
    assert row[Res.CPU] == 4 and row[Res.MEM_MIB] == 2048 and row[Res.GPU] == 1
    assert len(row) == N_RES
