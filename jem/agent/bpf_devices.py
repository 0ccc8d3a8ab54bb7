"""Device access on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program per job cgroup.

cgroup v2 has no devices controller. On every open (and mknod) of a device file the
kernel runs the BPF_CGROUP_DEVICE programs attached to the task's v2 cgroup and its
ancestors; any of them answering 0 makes the open fail with EPERM. systemd, runc and
crun confine containers this way, and so does JEM: a job's cgroup gets a program that
denies the listed (type, major, minor) devices (other jobs' GPUs) and allows the rest.

The program is a handful of instructions assembled here and loaded with the bpf(2)
syscall through ctypes: no compiler, no libbpf, no new dependency. It is attached with
BPF_F_ALLOW_MULTI, so programs of outer cgroups (systemd's) still apply, and its fd is
closed at once: the attachment holds the program until the cgroup is removed.
"""

import ctypes
import ctypes.util
import errno
import os
import platform
import stat
import struct
from dataclasses import dataclass

# bpf(2) is not in every libc as a function: call it by number.
SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6                  # attach type
BPF_F_ALLOW_MULTI = 2
BPF_DEVCG_DEV_BLOCK = 1                # low 16 bits of bpf_cgroup_dev_ctx.access_type
BPF_DEVCG_DEV_CHAR = 2

# Opcodes (linux/bpf_common.h, linux/bpf.h) of the few instructions the program uses.
_LDX_MEM_W = 0x61                      # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
_ALU64_AND_K = 0x57                    # dst &= imm
_JMP_JNE_K = 0x55                      # if dst != imm: pc += off
_ALU64_MOV_K = 0xB7                    # dst = imm
_JMP_EXIT = 0x95                       # return r0

_VERIFIER_LOG_BYTES = 4096


class DeviceIsolationError(OSError):
    """The kernel refused to load or attach a device program (errno kept)."""


@dataclass(frozen=True, slots=True)
class Device:
    """A device number as the kernel hands it to the program."""

    kind: int                          # BPF_DEVCG_DEV_CHAR or BPF_DEVCG_DEV_BLOCK
    major: int
    minor: int


def device_of(path: str) -> Device:
    """The device that the device file `path` opens."""
    st = os.stat(path)
    if stat.S_ISCHR(st.st_mode):
        kind = BPF_DEVCG_DEV_CHAR
    elif stat.S_ISBLK(st.st_mode):
        kind = BPF_DEVCG_DEV_BLOCK
    else:
        raise DeviceIsolationError(errno.ENODEV, "not a device file", path)
    return Device(kind, os.major(st.st_rdev), os.minor(st.st_rdev))


def _insn(code: int, *, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One `struct bpf_insn`: u8 code, u4 dst_reg | u4 src_reg << 4, s16 off, s32 imm."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def assemble_deny(devices: tuple[Device, ...]) -> bytes:
    """The program, as bpf_insn bytes: 0 (deny) for any access to one of `devices`,
    1 (allow) for everything else. r1 points at struct bpf_cgroup_dev_ctx
    { u32 access_type; u32 major; u32 minor; }."""
    code = [
        _insn(_LDX_MEM_W, dst=2, src=1, off=0),          # r2 = access_type
        _insn(_ALU64_AND_K, dst=2, imm=0xFFFF),          # r2 = device type (access bits dropped)
        _insn(_LDX_MEM_W, dst=3, src=1, off=4),          # r3 = major
        _insn(_LDX_MEM_W, dst=4, src=1, off=8),          # r4 = minor
    ]
    for device in devices:   # each block: 3 tests skipping to the next block, then deny
        code += [
            _insn(_JMP_JNE_K, dst=2, off=4, imm=device.kind),
            _insn(_JMP_JNE_K, dst=3, off=3, imm=device.major),
            _insn(_JMP_JNE_K, dst=4, off=2, imm=device.minor),
            _insn(_ALU64_MOV_K, dst=0, imm=0),
            _insn(_JMP_EXIT),
        ]
    code += [_insn(_ALU64_MOV_K, dst=0, imm=1), _insn(_JMP_EXIT)]
    return b"".join(code)


class _ProgLoadAttr(ctypes.Structure):
    """The BPF_PROG_LOAD part of `union bpf_attr`, up to expected_attach_type."""

    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32),
                ("prog_flags", ctypes.c_uint32), ("prog_name", ctypes.c_char * 16),
                ("prog_ifindex", ctypes.c_uint32), ("expected_attach_type", ctypes.c_uint32)]


class _ProgAttachAttr(ctypes.Structure):
    """The BPF_PROG_ATTACH part of `union bpf_attr`."""

    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("replace_bpf_fd", ctypes.c_uint32)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: ctypes.Structure, what: str) -> int:
    number = SYS_BPF.get(platform.machine())
    if number is None:
        raise DeviceIsolationError(errno.ENOSYS, f"bpf(2) number unknown on {platform.machine()}")
    result = _libc.syscall(ctypes.c_long(number), ctypes.c_int(cmd), ctypes.byref(attr),
                           ctypes.c_uint(ctypes.sizeof(attr)))
    if result < 0:
        err = ctypes.get_errno()
        raise DeviceIsolationError(err, f"{what}: {os.strerror(err)}{_hint(err)}")
    return result


def _hint(err: int) -> str:
    if err == errno.EPERM:
        return " (needs CAP_SYS_ADMIN, or CAP_BPF with CAP_NET_ADMIN; most containers lack them)"
    if err in (errno.EINVAL, errno.ENOSYS):
        return " (kernel without CONFIG_CGROUP_BPF?)"
    return ""


def load(insns: bytes) -> int:
    """Load the program; its fd (the caller closes it)."""
    code = ctypes.create_string_buffer(insns, len(insns))
    license_text = ctypes.create_string_buffer(b"GPL")
    log_buf = ctypes.create_string_buffer(_VERIFIER_LOG_BYTES)
    attr = _ProgLoadAttr(prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt=len(insns) // 8,
                         insns=ctypes.addressof(code), license=ctypes.addressof(license_text),
                         prog_name=b"jem_devices", expected_attach_type=BPF_CGROUP_DEVICE)
    try:
        return _bpf(BPF_PROG_LOAD, attr, "loading the cgroup device program")
    except DeviceIsolationError as exc:
        if exc.errno != errno.EACCES:   # EACCES: the verifier refused it; ask it why
            raise
    attr.log_level, attr.log_size, attr.log_buf = 1, _VERIFIER_LOG_BYTES, ctypes.addressof(log_buf)
    try:
        return _bpf(BPF_PROG_LOAD, attr, "loading the cgroup device program")
    except DeviceIsolationError as exc:
        verifier = log_buf.value.decode(errors="replace").strip()
        raise DeviceIsolationError(exc.errno, f"{exc.strerror}; verifier: {verifier}") from None


def attach(prog_fd: int, cgroup_dir: str) -> None:
    """Attach the loaded program to the v2 cgroup directory, beside any others."""
    cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        attr = _ProgAttachAttr(target_fd=cgroup_fd, attach_bpf_fd=prog_fd,
                               attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI)
        _bpf(BPF_PROG_ATTACH, attr, f"attaching the cgroup device program to {cgroup_dir}")
    finally:
        os.close(cgroup_fd)


def deny_devices(cgroup_dir: str, device_files: tuple[str, ...]) -> None:
    """From now on no process of the cgroup (or its children) opens these devices.
    Raises DeviceIsolationError (an OSError) when the kernel refuses."""
    prog_fd = load(assemble_deny(tuple(device_of(path) for path in device_files)))
    try:
        attach(prog_fd, cgroup_dir)
    finally:
        os.close(prog_fd)   # the attachment keeps the program alive
