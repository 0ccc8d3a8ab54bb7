"""The cgroup device program JEM assembles: its bytes for a known deny list, and what
it answers, run through a small interpreter of the five opcodes it uses (loading and
attaching it for real needs root: tests/integration/test_enforcement.py)."""

import struct

from jem.agent.bpf_devices import BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR, Device, assemble_deny

ACC_READ, ACC_WRITE, ACC_MKNOD = 2, 4, 1   # BPF_DEVCG_ACC_*, in access_type's upper 16 bits


def run(program: bytes, access_type: int, major: int, minor: int) -> int:
    """r0 at exit, for the context { access_type, major, minor } in r1."""
    ctx = {0: access_type, 4: major, 8: minor}
    regs = [0] * 11
    pc = 0
    while True:
        code, regs_byte, off, imm = struct.unpack_from("<BBhi", program, pc * 8)
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == 0x61:
            assert src == 1, "loads read the context only"
            regs[dst] = ctx[off]
        elif code == 0x57:
            regs[dst] &= imm
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def test_program_for_one_gpu_is_these_instructions():
    expected = ("6112000000000000" "57020000ffff0000" "6113040000000000" "6114080000000000"   # load the context
                "5502040002000000" "55030300c3000000" "5504020001000000"                     # char 195:1?
                "b700000000000000" "9500000000000000"                                        # deny
                "b700000001000000" "9500000000000000")                                       # allow the rest
    assert assemble_deny((Device(BPF_DEVCG_DEV_CHAR, 195, 1),)).hex() == expected


def test_program_denies_exactly_the_listed_devices_for_any_access():
    denied = (Device(BPF_DEVCG_DEV_CHAR, 195, 0), Device(BPF_DEVCG_DEV_CHAR, 195, 2),
              Device(BPF_DEVCG_DEV_BLOCK, 8, 0))
    program = assemble_deny(denied)
    for device in denied:
        for access in (ACC_READ, ACC_WRITE, ACC_MKNOD, ACC_READ | ACC_WRITE | ACC_MKNOD):
            assert run(program, access << 16 | device.kind, device.major, device.minor) == 0
    allowed = [(BPF_DEVCG_DEV_CHAR, 195, 1), (BPF_DEVCG_DEV_CHAR, 195, 255), (BPF_DEVCG_DEV_CHAR, 1, 3),
               (BPF_DEVCG_DEV_BLOCK, 195, 0), (BPF_DEVCG_DEV_CHAR, 8, 0), (BPF_DEVCG_DEV_BLOCK, 8, 1)]
    for kind, major, minor in allowed:
        assert run(program, ACC_READ << 16 | kind, major, minor) == 1


def test_program_without_devices_allows_everything():
    program = assemble_deny(())
    assert len(program) == 6 * 8
    assert run(program, ACC_WRITE << 16 | BPF_DEVCG_DEV_CHAR, 195, 0) == 1
