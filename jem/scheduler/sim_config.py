"""The `[sim]` table of jem.toml: what `jem sim` replays beyond the controller's own policy,
the reservations of the replayed period and the QOS each trace job runs under.

The controller's loader (jem.model.config.parse_config) rejects tables it does not know,
so `split_sim_table` takes `[sim]` out of the parsed TOML first: the rest is loaded as the
controller loads it. Times are integer seconds from the trace's time 0 (the origin of the
SWF submit times); an error names the key, the value and the unit expected.

    [sim]
    qos_by_queue = {"1" = "high"}      # SWF queue number (field 15) -> QOS name
    qos_by_partition = {"2" = "low"}   # SWF partition number (field 16) -> QOS name (the queue's first)
    [[sim.reservations]]
    name = "maint"
    start = "2-00:00:00"               # Slurm time from the trace's time 0, or start_s = 172800
    duration = "4:00:00"               # Slurm time (a bare number is minutes), or duration_s = 14400
    procs = 64                         # processors it holds (default: all of the machine)
    flags = ["MAINT", "WEEKLY"]        # ReservationFlag names
    users = ["root"]                   # trace users are u<uid>, accounts g<gid>
"""

import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jem._core.records import parse_records
from jem.model.errors import ConfigError, InvalidReservation
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.units import parse_time_limit
from jem.scheduler.swf import Trace

SIM_NODE = "sim"   # the one node of P CPUs the machine is planned as (reservations' node list)
SIM_KEYS = ("qos_by_queue", "qos_by_partition", "reservations")
RESERVATION_KEYS = ("name", "start", "start_s", "duration", "duration_s", "procs", "flags", "users", "accounts")


@dataclass(frozen=True, slots=True)
class SimReservation:
    """A reservation of `procs` processors of the simulated machine (None: all of them)."""

    reservation: Reservation
    procs: int | None = None


@dataclass(frozen=True, slots=True)
class SimSettings:
    reservations: tuple[SimReservation, ...] = ()
    qos_by_queue: Mapping[int, str] = field(default_factory=dict)
    qos_by_partition: Mapping[int, str] = field(default_factory=dict)

    @property
    def maps_qos(self) -> bool:
        return bool(self.qos_by_queue or self.qos_by_partition)


def split_sim_table(raw: dict[str, Any]) -> tuple[dict[str, Any], SimSettings]:
    """(the parsed TOML without `[sim]`, the `[sim]` settings); ConfigError naming the key."""
    rest = {key: value for key, value in raw.items() if key != "sim"}
    return rest, parse_sim_table(raw.get("sim", {}))


def parse_sim_table(table: Any) -> SimSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"sim: expected a table, got {table!r}")
    _known("sim.", table, SIM_KEYS)
    entries = table.get("reservations", [])
    if not isinstance(entries, list):
        raise ConfigError("sim.reservations: expected an array of tables ([[sim.reservations]])")
    reservations = tuple(_reservation(f"sim.reservations[{i}]", entry) for i, entry in enumerate(entries))
    names = [r.reservation.name for r in reservations]
    if len(set(names)) != len(names):
        raise ConfigError(f"sim.reservations: duplicate name in {names}")
    return SimSettings(reservations, _qos_map("sim.qos_by_queue", table.get("qos_by_queue", {})),
                       _qos_map("sim.qos_by_partition", table.get("qos_by_partition", {})))


def job_qos(path: str, trace: Trace, settings: SimSettings, *, default: str = "normal") -> tuple[str, ...]:
    """The QOS of each of `trace`'s jobs (trace order): its SWF queue number's (field 15) in
    `qos_by_queue`, else its partition number's (field 16) in `qos_by_partition`, else `default`.
    The file is read again for those two fields (jem.scheduler.swf keeps only what every replay
    needs); a job is found by its job number, which must then be unique. ValueError if not."""
    if not settings.maps_qos:
        return (default,) * len(trace)
    with open(path, "rb") as f:
        raw = f.read()
    values = parse_records(gzip.decompress(raw) if path.endswith(".gz") else raw, (0, 14, 15))
    numbers, first = np.unique(values[:, 0], return_index=True)
    if len(numbers) != len(values):
        raise ValueError(f"{path}: job numbers repeat; the QOS of a job cannot be told from its number")
    rows = first[np.searchsorted(numbers, trace.job_number)]
    names = []
    for queue, partition in values[rows, 1:].tolist():
        names.append(settings.qos_by_queue.get(queue) or settings.qos_by_partition.get(partition) or default)
    return tuple(names)


def _reservation(where: str, entry: Any) -> SimReservation:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table, got {entry!r}")
    _known(f"{where}.", entry, RESERVATION_KEYS)
    start = _seconds(where, entry, "start", least=0)
    duration = _seconds(where, entry, "duration", least=1)
    procs = entry.get("procs")
    if procs is not None and (not isinstance(procs, int) or isinstance(procs, bool) or procs < 1):
        raise ConfigError(f"{where}.procs: expected a number of processors >= 1, got {procs!r}")
    flags = entry.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise ConfigError(f"{where}.flags: expected a list of names, got {flags!r}")
    try:
        parsed = frozenset(ReservationFlag(f.upper()) for f in flags)
    except ValueError:
        raise ConfigError(f"{where}.flags: expected some of {', '.join(f.value for f in ReservationFlag)}, "
                          f"got {flags!r}") from None
    reservation = Reservation(str(entry.get("name", "")), float(start), float(start + duration), (SIM_NODE,),
                              users=_names(f"{where}.users", entry.get("users", [])),
                              accounts=_names(f"{where}.accounts", entry.get("accounts", [])), flags=parsed)
    try:
        reservation.check()   # (the controller's own rules: a name, users or accounts, not DAILY and WEEKLY, ...)
    except InvalidReservation as exc:
        raise ConfigError(f"{where}: {exc.detail}") from None
    return SimReservation(reservation, procs)


def _seconds(where: str, entry: dict, key: str, *, least: int) -> int:
    """`key` (a Slurm time string) or `key_s` (integer seconds), exactly one of them."""
    text, seconds = entry.get(key), entry.get(f"{key}_s")
    if (text is None) == (seconds is None):
        raise ConfigError(f"{where}: give one of {key} (Slurm time) or {key}_s (seconds)")
    if seconds is not None:
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < least:
            raise ConfigError(f"{where}.{key}_s: expected whole seconds >= {least}, got {seconds!r}")
        return seconds
    try:
        value = parse_time_limit(str(text))
    except ValueError as exc:
        raise ConfigError(f"{where}.{key}: {exc}") from None
    value = value or 0   # ("0" parses as unlimited: as a start, it is the trace's time 0)
    if value < least:
        raise ConfigError(f"{where}.{key}: expected a Slurm time of at least {least} s, got {text!r}")
    return value


def _names(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _qos_map(where: str, table: Any) -> dict[int, str]:
    """{"1" = "high"}: SWF numbers (TOML keys are strings) to QOS names."""
    if not isinstance(table, dict):
        raise ConfigError(f'{where}: expected a table of number = QOS name ({{"1" = "high"}}), got {table!r}')
    result = {}
    for key, qos in table.items():
        try:
            number = int(key)
        except ValueError:
            raise ConfigError(f"{where}.{key}: expected an SWF number as the key") from None
        if not isinstance(qos, str) or not qos:
            raise ConfigError(f"{where}.{key}: expected a QOS name, got {qos!r}")
        result[number] = qos
    return result


def _known(where: str, table: dict, known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}{key}: unknown key (expected one of {', '.join(known)})")
