"""Per-job control groups: the source of truth for which processes a job has, and
what holds it to its memory and CPUs. cgroup v2 and v1 behind one small interface.

Layout: `<root>/<name>/job_<id>` in v2, `<mount>/<controller>/<name>/job_<id>` in
v1, where `name` is e.g. "jem/n1" (one agent per node name, several per
machine in tests). A job's cgroup is made before its first instruction runs
(the agent attaches the stopped process, then lets it go) and removed after its
last process is gone. Memory limits are bytes; CPU ids are the machine's.
"""

import logging
import os
import signal
import stat
import time
from dataclasses import dataclass
from typing import Protocol

from jem.agent import bpf_devices

log = logging.getLogger(__name__)

# Every job gets these; "devices" only a job that must be kept from other jobs' GPUs.
# Each controller is one more hierarchy to attach the job to, and in v1 the first
# attach of a burst waits for an RCU grace period: keep the list short.
V1_JOB_CONTROLLERS = ("memory", "cpuset", "cpuacct", "freezer")
V1_CONTROLLERS = (*V1_JOB_CONTROLLERS, "devices")
V2_CONTROLLERS = ("memory", "cpuset", "cpu", "pids")
FREEZE_TIMEOUT_S = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """What a job may use on this node."""

    cpu_ids: tuple[int, ...] | None   # machine CPU ids; None: no cpuset
    mem_bytes: int | None             # hard memory limit (swap included where possible); None: none
    denied_devices: tuple[str, ...] = ()   # device files the job may not open (other jobs' GPUs)


@dataclass(frozen=True, slots=True)
class CgroupUsage:
    cpu_user_us: int
    cpu_system_us: int
    peak_bytes: int | None            # None where the kernel keeps no peak


class JobCgroup(Protocol):
    path: str
    is_suspended: bool   # frozen by `suspend` until `resume`

    def attach(self, pid: int) -> None: ...
    def procs_files(self) -> list[str]: ...
    def pids(self) -> list[int]: ...
    def signal_all(self, signum: int) -> int: ...
    def suspend(self) -> None: ...
    def resume(self) -> None: ...
    def is_oom_killed(self) -> bool: ...
    def usage(self) -> CgroupUsage: ...
    def remove(self) -> bool: ...


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _keyed(path: str) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines) as a dict."""
    result = {}
    try:
        for line in _read(path).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                result[parts[0]] = int(parts[1])
    except OSError:
        pass
    return result


def _pids_in(procs_file: str) -> list[int]:
    try:
        return [int(p) for p in _read(procs_file).split()]
    except OSError:
        return []


def kill_each(pids: list[int], signum: int) -> int:
    count = 0
    for pid in pids:
        try:
            os.kill(pid, signum)
            count += 1
        except ProcessLookupError:
            pass
    return count


def _rmdir(path: str) -> bool:
    """Remove an (empty of processes) cgroup directory, retrying while it drains."""
    for _ in range(50):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)
    log.warning("cgroup not removed path=%s", path)
    return False


# ---------------------------------------------------------------- v2


class JobCgroupV2:
    def __init__(self, path: str):
        self.path = path
        self.is_suspended = False   # frozen until `resume`: a signal in between leaves it frozen

    def suspend(self) -> None:
        """Freeze every process of the job until `resume` (scontrol suspend, preemption's SUSPEND)."""
        self.is_suspended = True
        self._freeze()

    def resume(self) -> None:
        self.is_suspended = False
        _write(os.path.join(self.path, "cgroup.freeze"), "0")

    def _freeze(self) -> bool:
        """Freeze the cgroup and wait (FREEZE_TIMEOUT_S at most) until it is; False where the kernel
        has no v2 freezer."""
        freeze = os.path.join(self.path, "cgroup.freeze")
        if not os.path.exists(freeze):
            return False
        _write(freeze, "1")
        deadline = time.monotonic() + FREEZE_TIMEOUT_S
        while _keyed(os.path.join(self.path, "cgroup.events")).get("frozen") != 1:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        return True

    def attach(self, pid: int) -> None:
        _write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def procs_files(self) -> list[str]:
        """The file a process writes its pid to, to join the cgroup."""
        return [os.path.join(self.path, "cgroup.procs")]

    def pids(self) -> list[int]:
        return _pids_in(os.path.join(self.path, "cgroup.procs"))

    def signal_all(self, signum: int) -> int:
        """Signal every process; frozen first, so none can fork away meanwhile."""
        kill_file = os.path.join(self.path, "cgroup.kill")
        if signum == signal.SIGKILL and os.path.exists(kill_file):
            n = len(self.pids())
            _write(kill_file, "1")
            return n
        can_freeze = self._freeze()
        try:
            return kill_each(self.pids(), signum)
        finally:
            if can_freeze and not self.is_suspended:
                _write(os.path.join(self.path, "cgroup.freeze"), "0")

    def is_oom_killed(self) -> bool:
        return _keyed(os.path.join(self.path, "memory.events")).get("oom_kill", 0) > 0

    def usage(self) -> CgroupUsage:
        stat = _keyed(os.path.join(self.path, "cpu.stat"))
        try:
            peak = int(_read(os.path.join(self.path, "memory.peak")))
        except (OSError, ValueError):
            peak = None
        return CgroupUsage(stat.get("user_usec", 0), stat.get("system_usec", 0), peak)

    def remove(self) -> bool:
        return _rmdir(self.path)


class CgroupsV2:
    """Job cgroups in a unified (v2) hierarchy rooted at `root`."""

    mode = "v2"

    def __init__(self, *, root: str, name: str):
        self.root = root
        self.base = os.path.join(root, name)
        available = set(_read(os.path.join(root, "cgroup.controllers")).split())
        self.controllers = [c for c in V2_CONTROLLERS if c in available]
        os.makedirs(self.base, exist_ok=True)
        self._enable_controllers()
        self.device_isolation_error = _probe_device_programs(self.base)

    def _enable_controllers(self) -> None:
        """Delegate the controllers down to the node directory (no process lives there)."""
        if not self.controllers:
            return
        wanted = " ".join("+" + c for c in self.controllers)
        here = self.root
        for part in os.path.relpath(self.base, self.root).split(os.sep):
            _write(os.path.join(here, "cgroup.subtree_control"), wanted)
            here = os.path.join(here, part)
        _write(os.path.join(self.base, "cgroup.subtree_control"), wanted)

    @property
    def limits_devices(self) -> bool:
        """Whether job cgroups here get a device program (bpf_devices); without one,
        other jobs' GPUs are hidden by CUDA_VISIBLE_DEVICES only."""
        return not self.device_isolation_error

    @property
    def gpu_isolation(self) -> str:
        return "ebpf" if self.limits_devices else "none"

    @property
    def limits_memory(self) -> bool:
        return "memory" in self.controllers

    @property
    def limits_cpus(self) -> bool:
        return "cpuset" in self.controllers

    def create(self, job_id: int, limits: CgroupLimits, *, kind: str = "job") -> JobCgroupV2:
        """The cgroup `<kind>_<job_id>`: "job" for a batch script, "steps" for a job's
        step tasks on a node where its batch script does not run."""
        path = os.path.join(self.base, f"{kind}_{job_id}")
        os.makedirs(path, exist_ok=True)
        if limits.mem_bytes is not None and self.limits_memory:
            _write(os.path.join(path, "memory.max"), str(limits.mem_bytes))
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                _write(os.path.join(path, "memory.swap.max"), "0")
        if limits.cpu_ids is not None and self.limits_cpus:
            _write(os.path.join(path, "cpuset.cpus"), ",".join(map(str, limits.cpu_ids)))
        if limits.denied_devices and self.limits_devices:
            try:
                bpf_devices.deny_devices(path, limits.denied_devices)
            except OSError:   # no job may start with GPUs the node claims to deny it
                _rmdir(path)
                raise
        return JobCgroupV2(path)

    def existing_jobs(self, kind: str = "job") -> dict[int, JobCgroupV2]:
        """The `<kind>_<id>` cgroups there are, by job id."""
        return {job_id: JobCgroupV2(os.path.join(self.base, f"{kind}_{job_id}"))
                for job_id in _job_dirs(self.base, kind)}

    def remove_base(self) -> None:
        """Remove the node directory and the empty levels above it, up to the root."""
        path = self.base
        while path != self.root:
            try:
                os.rmdir(path)
            except OSError:
                break
            path = os.path.dirname(path)


# ---------------------------------------------------------------- v1


class JobCgroupV1:
    def __init__(self, paths: dict[str, str]):
        self.paths = paths                      # controller -> directory
        self.path = paths["freezer"]
        self.is_suspended = False               # frozen until `resume`: a signal in between leaves it frozen

    def suspend(self) -> None:
        """Freeze every process of the job until `resume` (scontrol suspend, preemption's SUSPEND)."""
        self.is_suspended = True
        self._freeze()

    def resume(self) -> None:
        self.is_suspended = False
        _write(os.path.join(self.paths["freezer"], "freezer.state"), "THAWED")

    def _freeze(self) -> None:
        """Freeze the cgroup and wait (FREEZE_TIMEOUT_S at most) until it is."""
        state = os.path.join(self.paths["freezer"], "freezer.state")
        _write(state, "FROZEN")
        deadline = time.monotonic() + FREEZE_TIMEOUT_S
        while _read(state).strip() != "FROZEN" and time.monotonic() < deadline:
            time.sleep(0.005)

    def attach(self, pid: int) -> None:
        for path in self.procs_files():
            _write(path, str(pid))

    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join the cgroup (one per controller)."""
        return [os.path.join(path, "cgroup.procs") for path in self.paths.values()]

    def pids(self) -> list[int]:
        """Every process in any of the job's controllers: one still joining (its pid written to
        some controllers' cgroup.procs, not yet all) is the job's too."""
        return sorted(set().union(*(_pids_in(path) for path in self.procs_files())))

    def signal_all(self, signum: int) -> int:
        """Freeze, signal every process, thaw (unless suspended): nothing forks away in between."""
        self._freeze()
        try:
            return kill_each(self.pids(), signum)
        finally:
            if not self.is_suspended:
                _write(os.path.join(self.paths["freezer"], "freezer.state"), "THAWED")

    def is_oom_killed(self) -> bool:
        return _keyed(os.path.join(self.paths["memory"], "memory.oom_control")).get("oom_kill", 0) > 0

    def usage(self) -> CgroupUsage:
        stat = _keyed(os.path.join(self.paths["cpuacct"], "cpuacct.stat"))
        try:
            peak = int(_read(os.path.join(self.paths["memory"], "memory.max_usage_in_bytes")))
        except (OSError, ValueError):
            peak = None
        to_us = 1_000_000 // CLOCK_TICKS
        return CgroupUsage(stat.get("user", 0) * to_us, stat.get("system", 0) * to_us, peak)

    def remove(self) -> bool:
        """Remove every controller's directory, the freezer's last, stopping at one that a
        process still holds: what is left can still be frozen and killed, then removed again."""
        others = [path for controller, path in self.paths.items() if controller != "freezer"]
        return all(_rmdir(path) for path in [*others, self.paths["freezer"]])


class CgroupsV1:
    """Job cgroups in per-controller (v1) hierarchies mounted under `mount`."""

    mode = "v1"
    limits_memory = True
    limits_cpus = True
    limits_devices = True
    gpu_isolation = "devices"
    device_isolation_error = ""

    def __init__(self, *, mount: str, name: str):
        self.mount = mount
        self.name = name
        for controller in V1_CONTROLLERS:
            base = os.path.join(mount, controller, name)
            os.makedirs(base, exist_ok=True)
        self._fill_cpuset_chain()

    def _fill_cpuset_chain(self) -> None:
        """v1 cpusets start empty: copy cpus and mems down from the root."""
        here = os.path.join(self.mount, "cpuset")
        for part in self.name.split("/"):
            parent, here = here, os.path.join(here, part)
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not _read(os.path.join(here, key)).strip():
                    _write(os.path.join(here, key), _read(os.path.join(parent, key)).strip())

    def create(self, job_id: int, limits: CgroupLimits, *, kind: str = "job") -> JobCgroupV1:
        """As CgroupsV2.create."""
        controllers = V1_JOB_CONTROLLERS + (("devices",) if limits.denied_devices else ())
        paths = {c: os.path.join(self.mount, c, self.name, f"{kind}_{job_id}") for c in controllers}
        for path in paths.values():
            os.makedirs(path, exist_ok=True)
        node_cpuset = os.path.join(self.mount, "cpuset", self.name)
        cpus = ",".join(map(str, limits.cpu_ids)) if limits.cpu_ids else _read(os.path.join(node_cpuset, "cpuset.cpus"))
        _write(os.path.join(paths["cpuset"], "cpuset.cpus"), cpus.strip())
        _write(os.path.join(paths["cpuset"], "cpuset.mems"), _read(os.path.join(node_cpuset, "cpuset.mems")).strip())
        for device in limits.denied_devices:
            _write(os.path.join(paths["devices"], "devices.deny"), _device_rule(device))
        if limits.mem_bytes is not None:
            _write(os.path.join(paths["memory"], "memory.limit_in_bytes"), str(limits.mem_bytes))
            memsw = os.path.join(paths["memory"], "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # with swap accounting: no escape into swap
                _write(memsw, str(limits.mem_bytes))
        return JobCgroupV1(paths)

    def existing_jobs(self, kind: str = "job") -> dict[int, JobCgroupV1]:
        """The `<kind>_<id>` cgroups there are, by job id."""
        base = os.path.join(self.mount, "freezer", self.name)
        found = {}
        for job_id in _job_dirs(base, kind):
            paths = {c: os.path.join(self.mount, c, self.name, f"{kind}_{job_id}") for c in V1_CONTROLLERS}
            found[job_id] = JobCgroupV1({c: p for c, p in paths.items() if os.path.isdir(p)} | {"freezer": paths["freezer"]})
        return found

    def remove_base(self) -> None:
        for controller in V1_CONTROLLERS:
            path = os.path.join(self.mount, controller, self.name)
            while path != os.path.join(self.mount, controller):
                try:
                    os.rmdir(path)
                except OSError:
                    break
                path = os.path.dirname(path)


def _probe_device_programs(base: str) -> str:
    """'' where device programs load and attach under `base`, else why not."""
    probe = os.path.join(base, "device_probe")
    try:
        os.makedirs(probe, exist_ok=True)
        bpf_devices.deny_devices(probe, ())
        return ""
    except OSError as exc:
        return str(exc)
    finally:
        _rmdir(probe)


def _device_rule(path: str) -> str:
    """The v1 devices rule ("c 195:1 rwm") that covers the device file `path`."""
    st = os.stat(path)
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
    return f"{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} rwm"


def _job_dirs(base: str, kind: str) -> list[int]:
    try:
        names = os.listdir(base)
    except OSError:
        return []
    prefix = kind + "_"
    return sorted(int(n[len(prefix):]) for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())


Cgroups = CgroupsV1 | CgroupsV2


def open_cgroups(mode: str, *, root: str = "/sys/fs/cgroup", name: str) -> Cgroups | None:
    """The job cgroups to use: mode "v2", "v1", "auto" (v2 when the machine is pure
    v2, else v1 where its memory controller is mounted) or "none". Raises OSError
    when the asked-for layout cannot be used (e.g. not root)."""
    if mode == "none":
        return None
    if mode == "auto":
        if os.path.exists(os.path.join(root, "cgroup.controllers")):
            mode = "v2"
        elif os.path.isdir(os.path.join(root, "memory")):
            mode = "v1"
        else:
            return None
    if mode == "v2":
        v2_root = root if os.path.exists(os.path.join(root, "cgroup.controllers")) else os.path.join(root, "unified")
        return CgroupsV2(root=v2_root, name=name)
    if mode == "v1":
        return CgroupsV1(mount=root, name=name)
    raise ValueError(f"unknown cgroup mode {mode!r} (auto, v2, v1 or none)")
