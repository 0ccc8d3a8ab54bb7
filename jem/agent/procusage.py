"""What one process tree (a job step's task, or a batch script) has used so far, read from
/proc: sstat's per-task figures (AgentService.GetRunUsage). Step tasks share their job's cgroup,
so per-task figures cannot come from it; Slurm's own jobacct_gather/linux reads /proc too."""

import os
from dataclasses import dataclass

from jem.agent.cgroups import CLOCK_TICKS


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """What one process tree (a task, or the batch script) has used so far, from /proc: sstat's
    per-task figures. Sizes in KiB; CPU time counts the descendants already reaped."""

    cpu_us: int = 0
    rss_kib: int = 0
    max_rss_kib: int = 0
    vmsize_kib: int = 0
    max_vmsize_kib: int = 0
    pages: int = 0          # major page faults
    read_bytes: int = 0     # rchar, wchar: what the processes read and wrote, the page cache's included
    write_bytes: int = 0
    pids: tuple[int, ...] = ()


def _children() -> dict[int, list[int]]:
    """Every process's parent pid, as parent -> children."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from its state field on (index 0 is the state, 1 the parent pid); [] if gone."""
    try:
        text = _read(f"/proc/{pid}/stat")
    except OSError:
        return []
    return text[text.rfind(")") + 2:].split()


def tree_usage(root_pid: int) -> TreeUsage:
    """The usage so far of `root_pid` and its descendants (TreeUsage(), no pids, once it is gone)."""
    children = _children()
    pids, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, ()))
    ticks_us = 1_000_000 // CLOCK_TICKS
    total = dict(cpu_us=0, rss_kib=0, vmsize_kib=0, max_vmsize_kib=0, pages=0, read_bytes=0, write_bytes=0)
    hwm, alive = 0, []
    for pid in pids:
        fields = _stat_fields(pid)
        if not fields or fields[0] == "Z":
            continue
        alive.append(pid)
        # utime stime cutime cstime are fields 14-17 of stat, majflt 12 and cmajflt 13 (1-based).
        total["cpu_us"] += sum(int(f) for f in fields[11:15]) * ticks_us
        total["pages"] += int(fields[9]) + int(fields[10])
        status = _keyed_kib(f"/proc/{pid}/status")
        total["rss_kib"] += status.get("VmRSS", 0)
        total["vmsize_kib"] += status.get("VmSize", 0)
        total["max_vmsize_kib"] += status.get("VmPeak", 0)
        hwm = max(hwm, status.get("VmHWM", 0))
        io = _keyed_colon(f"/proc/{pid}/io")
        total["read_bytes"] += io.get("rchar", 0)    # (what Slurm's jobacct_gather/linux counts)
        total["write_bytes"] += io.get("wchar", 0)
    if not alive:
        return TreeUsage()
    return TreeUsage(max_rss_kib=max(hwm, total["rss_kib"]), pids=tuple(sorted(alive)), **total)


def _keyed_colon(path: str) -> dict[str, int]:
    """A "key: value" file (/proc/<pid>/io) as a dict; {} where it cannot be read."""
    result = {}
    try:
        for line in _read(path).splitlines():
            key, _, value = line.partition(":")
            if value.strip().isdigit():
                result[key] = int(value)
    except OSError:
        pass
    return result


def _keyed_kib(path: str) -> dict[str, int]:
    """The "Vm...: N kB" lines of /proc/<pid>/status, in KiB."""
    result = {}
    try:
        for line in _read(path).splitlines():
            if line.startswith("Vm"):
                key, _, value = line.partition(":")
                result[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return result
