"""The reservations (scontrol create/update/delete reservation): checked, stored, then used.

A new or changed reservation must name nodes the cluster has (or a node count, which picks
that many usable nodes of its partition, idle ones first), must not share nodes and time
with another reservation unless one of them has OVERLAP, and must not start while running
jobs still hold its nodes by their time limits unless it has IGNORE_JOBS (Slurm's "Requested
nodes are busy"). Changes are made under the controller's lock, stored before they are
used, and wake the scheduler. `ReservationBook.all` is an immutable tuple the scheduling
loop reads without the lock.
"""

import logging

from jem.model.errors import InvalidReservation, ReservationAccessDenied, ReservationBusy
from jem.model.reservation import Reservation, ReservationFlag
from jem.store import Store

log = logging.getLogger(__name__)


class ReservationBook:
    def __init__(self, store: Store):
        self._store = store
        self.all: tuple[Reservation, ...] = tuple(store.load_reservations())

    def get(self, name: str) -> Reservation | None:
        return next((r for r in self.all if r.name == name), None)

    def create(self, state, reservation: Reservation, *, now: float) -> Reservation:
        """Lock held (`state`: the ClusterState, for its nodes and jobs)."""
        if self.get(reservation.name) is not None:
            raise InvalidReservation(f"{reservation.name} exists already")
        return self._put(state, reservation, now=now)

    def update(self, state, name: str, change, *, now: float) -> Reservation:
        """`change(reservation) -> reservation`. Lock held."""
        current = self.get(name)
        if current is None:
            raise InvalidReservation(f"no reservation named {name}")
        return self._put(state, change(current), now=now, replacing=name)

    def delete(self, name: str) -> Reservation:
        current = self.get(name)
        if current is None:
            raise InvalidReservation(f"no reservation named {name}")
        self._store.delete_reservation(name)
        self.all = tuple(r for r in self.all if r.name != name)
        log.info("reservation deleted name=%s", name)
        return current

    def forget_ended(self, now: float) -> list[str]:
        """Delete the reservations that are over for good (not repeating, past their end), as
        Slurm purges them; their names. Lock held."""
        ended = [r.name for r in self.all if r.window(now) is None]
        for name in ended:
            self.delete(name)
        return ended

    def _put(self, state, reservation: Reservation, *, now: float, replacing: str = "") -> Reservation:
        reservation.check()
        known = {n.name for n in state.nodes.all()}
        unknown = [n for n in reservation.node_names if n not in known]
        if unknown:
            raise InvalidReservation(f"no nodes named {','.join(unknown)}")
        window = reservation.window(now)
        if window is None:
            raise InvalidReservation("it would be over already")
        cpus = {name: state.nodes.get(name).capacity.cpus for name in reservation.node_names}
        if reservation.core_count:
            over = [name for name in reservation.node_names if reservation.cores_on(name) > cpus[name]]
            if over:
                raise InvalidReservation(f"CoreCnt={reservation.core_count_text}: more cores than "
                                         f"{','.join(over)} has")
        if ReservationFlag.OVERLAP not in reservation.flags:
            cores_taken = dict.fromkeys(reservation.node_names, 0)   # (by the core reservations it meets)
            for other in self.all:
                if other.name != replacing and ReservationFlag.OVERLAP not in other.flags \
                        and reservation.overlaps(other, now):
                    if not (reservation.core_count and other.core_count):
                        raise ReservationBusy(f"reservation {other.name} holds some of these nodes then")
                    for name in set(other.node_names).intersection(cores_taken):
                        cores_taken[name] += other.cores_on(name)
            full = [name for name, taken in cores_taken.items()
                    if taken and taken + reservation.cores_on(name) > cpus[name]]
            if full:
                raise ReservationBusy(f"other reservations hold too many cores of {','.join(full)} then")
        if ReservationFlag.IGNORE_JOBS not in reservation.flags:
            self._check_no_job_runs_into(state, reservation, window, cpus, now)
        self._store.save_reservation(reservation)
        self.all = tuple(sorted([r for r in self.all if r.name != (replacing or reservation.name)] + [reservation],
                                key=lambda r: r.name))
        log.info("reservation saved name=%s nodes=%s", reservation.name, ",".join(reservation.node_names))
        return reservation

    @staticmethod
    def _check_no_job_runs_into(state, reservation: Reservation, window, cpus: dict[str, int], now: float) -> None:
        """ReservationBusy where running jobs hold its nodes past its start by their time limits:
        any of them for a reservation of whole nodes; for one of cores, more than the node has
        beside them (Slurm's "Requested nodes are busy"; IGNORE_JOBS skips this)."""
        for name, jobs in sorted(_jobs_into(state, reservation, window, now).items()):
            held = sum(cpus[name] if job.spec.exclusive else job.shape.per_node.cpus for job in jobs)
            if not reservation.core_count or held + reservation.cores_on(name) > cpus[name]:
                raise ReservationBusy(f"job {jobs[0].job_id} runs on {name} past its start (IGNORE_JOBS allows it)")


def _jobs_into(state, reservation: Reservation, window: tuple[float, float], now: float) -> dict[str, list]:
    """Per node of the reservation, the live jobs outside it that run there past its start."""
    nodes = set(reservation.node_names)
    found: dict[str, list] = {}
    for job in state.jobs.live():
        if job.spec.reservation == reservation.name:
            continue   # (its own jobs, running in it already)
        if nodes.intersection(job.nodes) and \
                (job.time_limit_s is None or (job.start_time or now) + job.time_limit_s > window[0]):
            for name in nodes.intersection(job.nodes):
                found.setdefault(name, []).append(job)
    return found


def nodes_for_cores(state, core_count: int, partition_name: str) -> int:
    """How many nodes CoreCnt= alone asks for: the fewest of the partition's largest that hold
    that many cores. Lock held."""
    partition = state.partition(partition_name) if partition_name else state.config.default_partition
    if partition is None:
        raise InvalidReservation(f"no partition named {partition_name}")
    largest = max((n.capacity.cpus for n in state.nodes.all() if partition.has_node(n.name)), default=0)
    if largest < 1:
        raise InvalidReservation(f"partition {partition.name} has no nodes")
    return -(-core_count // largest)


def pick_nodes(state, count: int, partition_name: str, *, window: tuple[float, float] | None = None,
               now: float = 0.0) -> tuple[str, ...]:
    """`count` usable nodes of a partition (idle ones first, then by name), for NodeCnt=, none of
    another reservation's over `window`. Lock held."""
    if count < 1:
        raise InvalidReservation(f"a node count of {count}")
    partition = state.partition(partition_name) if partition_name else state.config.default_partition
    if partition is None:
        raise InvalidReservation(f"no partition named {partition_name}")
    taken: set[str] = set()
    if window is not None and state.reservations is not None:
        for other in state.reservations.all:
            other_window = other.window(now)
            if other_window is not None and other_window[0] < window[1] and window[0] < other_window[1] \
                    and ReservationFlag.OVERLAP not in other.flags:
                taken.update(other.node_names)
    usable = [n for n in state.nodes.all() if partition.has_node(n.name) and n.is_schedulable and n.name not in taken]
    usable.sort(key=lambda n: (bool(n.job_ids), n.name))
    if len(usable) < count:
        raise InvalidReservation(f"{count} nodes asked for; partition {partition.name} has {len(usable)} usable")
    return tuple(sorted(n.name for n in usable[:count]))


def check_job_reservation(reservation: Reservation | None, name: str, user: str, account: str) -> None:
    """A job naming reservation `name` (found as `reservation`, or None) may use it."""
    if reservation is None:
        raise InvalidReservation(f"no reservation named {name}")
    if not reservation.admits(user, account):
        raise ReservationAccessDenied(f"reservation {name} admits neither user {user} nor account {account or '(none)'}")




def end_by_reservation(state, job, now: float, *, drawn_into: str = "") -> None:
    """A job started in a reservation (the one it names, or the MAGNETIC one it was `drawn_into`)
    ends by the reservation's end at the latest: its time limit is cut to that (the agent
    enforces it), unless the reservation is FLEX. Lock held; before the start is committed."""
    name = job.spec.reservation or drawn_into
    if not name or state.reservations is None:
        return
    reservation = state.reservations.get(name)
    if reservation is None or ReservationFlag.FLEX in reservation.flags:
        return
    window = reservation.window(now)
    if window is not None and window[0] <= now:
        left_s = max(1, int(window[1] - now))
        if job.time_limit_s is None or job.time_limit_s > left_s:
            if not job.time_limit_cut:
                job.time_limit_cut, job.uncut_time_limit_s = True, job.time_limit_s
            job.time_limit_s = left_s


def enters_reservation(reservations, job, node_names: tuple[str, ...], now: float, *, drawn_into: str = "") -> bool:
    """Whether `job`, started now on `node_names` and running to its time limit, would use a node
    of a reservation it is not in (the one it names or was `drawn_into`) during its window."""
    end = now + job.time_limit_s if job.time_limit_s is not None else float("inf")
    names = set(node_names)
    for reservation in reservations:
        if reservation.name in (job.spec.reservation, drawn_into) or not names.intersection(reservation.node_names):
            continue
        if reservation.core_count:   # (a reservation of cores leaves its nodes' other cores to any job; the
            continue                 # next cycle plans around one made meanwhile)
        window = reservation.window(now)
        if window is not None and window[0] < end:
            return True
    return False
