"""What this machine offers: CPUs, memory and GPUs (psutil, nvidia-smi), and its cgroup layout."""

import os
import shutil
import subprocess

import psutil

from jem.model.resources import Resources


def detect_capacity() -> Resources:
    """The machine's usable CPUs (affinity), memory in MiB and NVIDIA GPUs."""
    cpus = len(os.sched_getaffinity(0))
    mem_mib = psutil.virtual_memory().total // (1024 * 1024)
    return Resources(cpus=cpus, mem_mib=mem_mib, gpus=count_gpus())


def count_gpus() -> int:
    """GPUs nvidia-smi lists; 0 where it is absent or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def gpu_device_files() -> tuple[str, ...]:
    """/dev/nvidia0, /dev/nvidia1, ... in index order (GPU slot i is file i)."""
    found = [name for name in os.listdir("/dev") if name.startswith("nvidia") and name[6:].isdigit()]
    return tuple(f"/dev/{name}" for name in sorted(found, key=lambda n: int(n[6:])))


def detect_cgroup_mode(root: str = "/sys/fs/cgroup") -> str:
    """'v2' (unified only), 'hybrid' (v1 controllers plus a v2 tree), 'v1', or 'none'."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "v2"
    has_v1 = os.path.isdir(os.path.join(root, "memory")) or os.path.isdir(os.path.join(root, "cpu"))
    if has_v1 and os.path.exists(os.path.join(root, "unified", "cgroup.controllers")):
        return "hybrid"
    return "v1" if has_v1 else "none"
