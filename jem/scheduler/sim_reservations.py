"""Reservations on the simulated machine: the processors each holds when, whose jobs run in it,
and the steps of the availability profile that keep every other job out of its windows.

The machine is planned as one node of P CPUs (jem.scheduler.sim). The controller's cycle keeps
jobs out of a reservation with the kernel's `blocks` (jem.scheduler.cycle.reservation_blocks), which take
whole nodes: on the one node a reservation of k processors would take all P. So a window of k
processors is written as two steps of the node's profile, which the kernel builds from the
units free now plus, at each running allocation's end, the units it gives back (linear in
them): an allocation of -k "ending" at the window's start takes k processors from then on, one
of +k at its end gives them back. A window on now takes k from the free units at once.

Worked example: P = 8, a job holds 4 until t = 40, a window of 4 over [50, 80). With the
pairs (40, +4), (50, -4), (80, +4) the profile is 4 on [now, 40), 8 on [40, 50), 4 on
[50, 80) and 8 after: a job of 4 for 100 s fits now (on the other half), a job of 6 for 20 s
first fits at 80.

Reservations whose windows are on at once hold disjoint processors, at most P together
(`held_reservations` checks it). Times are integer seconds.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from jem.model.errors import ConfigError
from jem.model.reservation import DAY_S, Reservation
from jem.scheduler.sim_config import SimReservation


@dataclass(frozen=True, slots=True)
class HeldReservation:
    reservation: Reservation
    procs: int          # processors it holds over each window


def held_reservations(reservations: Sequence[SimReservation], procs: int) -> tuple[HeldReservation, ...]:
    """The reservations with their processor counts (None: the whole machine); ConfigError if
    one is larger than the machine or windows on at once hold more than it."""
    held = tuple(HeldReservation(r.reservation, procs if r.procs is None else r.procs) for r in reservations)
    for h in held:
        if h.procs > procs:
            raise ConfigError(f"sim.reservations: {h.reservation.name} holds {h.procs} processors, "
                              f"more than the machine's {procs}")
    if len(held) > 1:
        _check_concurrent(held, procs)
    return held


def _check_concurrent(held: Sequence[HeldReservation], procs: int) -> None:
    """Sweep the windows from the earliest start to two weeks past the last first window (every
    way daily and weekly windows meet): at no instant may they hold more than the machine."""
    t0 = min(h.reservation.start_time for h in held)
    until = max(h.reservation.end_time for h in held) + 14 * DAY_S
    events = sorted((t, amount, h.reservation.name) for h in held for start, end in windows(h, t0, until)
                    for t, amount in ((end, -h.procs), (start, h.procs)))   # (an end before a start at one time)
    total, names = 0, set()
    for _, amount, name in events:
        total += amount
        (names.add if amount > 0 else names.discard)(name)
        if total > procs:
            raise ConfigError(f"sim.reservations: {', '.join(sorted(names))} hold {total} processors at once, "
                              f"more than the machine's {procs}")


def windows(held: HeldReservation, now: float, until: float) -> Iterator[tuple[int, int]]:
    """Its windows [start, end) that end after `now` and start before `until`, in time order."""
    window = held.reservation.window(now)
    period = held.reservation.period_s
    while window is not None and window[0] < until:
        yield int(window[0]), int(window[1])
        window = (window[0] + period, window[1] + period) if period else None


def admitting(held: Sequence[HeldReservation], account: str, user: str) -> tuple[int, ...]:
    """The indices of the reservations that admit the user or the account (Reservation.admits)."""
    return tuple(i for i, h in enumerate(held) if h.reservation.admits(user, account))


def member_of(held: Sequence[HeldReservation], admitted_by: tuple[int, ...], now: int) -> int:
    """The reservation a job runs in: the first admitting it that is not over for good, else -1
    (a trace job names no reservation: it is in the ones that admit it, as long as they last)."""
    for i in admitted_by:
        if held[i].reservation.window(now) is not None:
            return i
    return -1


def steps(held: Sequence[HeldReservation], now: int, until: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(processors held now, step times (n,) int64, step amounts (n,) int64): the reservations'
    windows up to `until` as steps of the profile of the jobs outside them (module docstring)."""
    held_now, times, amounts = 0, [], []
    for h in held:
        for start, end in windows(h, now, until):
            if start <= now:
                held_now += h.procs
            else:
                times.append(start)
                amounts.append(-h.procs)
            times.append(end)
            amounts.append(h.procs)
    return held_now, np.array(times, dtype=np.int64), np.array(amounts, dtype=np.int64)


def held_during(held: Sequence[HeldReservation], start: int, end: int) -> int:
    """Processors held by reservations with a window meeting [start, end) (at most, all of them
    at once: the most a job over that span may not count on)."""
    return sum(h.procs for h in held if next(windows(h, start, end), None) is not None)


def next_boundary(held: Sequence[HeldReservation], after: int) -> int | None:
    """The first window start or end after `after` (when who may use what changes), or None."""
    times = []
    for h in held:
        window = h.reservation.window(after)
        if window is not None:
            times.append(int(window[0]) if window[0] > after else int(window[1]))
    return min(times, default=None)
