"""Advance reservations in Slurm 22.05's words: the key=value arguments of `scontrol create|update
reservation`, the `scontrol show reservation` fields and the `sinfo -T` rows.

Times are epoch seconds and print in local time (2026-12-07T10:00:00); durations print as Slurm's
secs2time_str does (02:00:00, 1-00:00:00). A DAILY or WEEKLY reservation shows its current or
next window, the way slurmctld moves a repeating reservation on. Keys match as scontrol's do: a
case-insensitive prefix of the key's name, at least as long as its least length (`Dur=`,
`NodeC=`, but not `Node=`). Every message is Slurm's: parse errors are `scontrol: error: ...
No reservation created.` (update: `No reservation update.` and scontrol's `slurm_update error:
No error`), refusals are `Error creating the reservation: <errno text>`.
"""

import dataclasses
import pwd
import re

import hostlist

from jem.model.reservation import Reservation, ReservationFlag
from jem.model.units import parse_begin_time, parse_time_limit

from jem_slurm.command import Failure, is_digits

UNLIMITED_S = 365 * 86400   # what slurmctld makes of Duration=UNLIMITED: a year
CREATED, UPDATED = "No reservation created.", "No reservation update."
CORES_INCONSISTENT = "Core count for reservation node list is not consistent!"   # (ESLURM_INVALID_CORE_CNT)

# (name, least prefix length): every key of scontrol_parse_res_options (create_res.c, 22.05).
_KEYS = (("ReservationName", 1), ("Accounts", 1), ("BurstBuffer", 2), ("StartTime", 1), ("EndTime", 1),
         ("Duration", 1), ("Flags", 2), ("NodeCnt", 5), ("NodeCount", 5), ("CoreCnt", 5), ("CoreCount", 5),
         ("CPUCnt", 5), ("CPUCount", 5), ("Nodes", 5), ("Features", 2), ("Groups", 1), ("Licenses", 2),
         ("MaxStartDelay", 2), ("PartitionName", 1), ("TRES", 1), ("Users", 1), ("Watts", 1))
_SAME_AS = {"NodeCount": "NodeCnt", "CoreCount": "CoreCnt", "CPUCnt": "CoreCnt", "CPUCount": "CoreCnt"}
_NOT_IN_JEM = {"BurstBuffer", "Features", "Groups", "Licenses", "MaxStartDelay", "TRES", "Watts"}

# Flags=: (name, least prefix length, JEM's flag or None for one JEM lacks), in parse_resv_flags' order.
_FLAGS = (("Maintenance", 3, ReservationFlag.MAINT), ("Overlap", 1, ReservationFlag.OVERLAP),
          ("Flex", 1, ReservationFlag.FLEX),
          ("Ignore_Jobs", 1, ReservationFlag.IGNORE_JOBS), ("Daily", 1, ReservationFlag.DAILY),
          ("Weekday", 1, None), ("Weekend", 1, None), ("Weekly", 1, ReservationFlag.WEEKLY),
          ("Any_Nodes", 1, None), ("License_Only", 1, None), ("Static_Alloc", 1, None), ("Part_Nodes", 2, None),
          ("Magnetic", 3, ReservationFlag.MAGNETIC), ("Promiscuous", 2, ReservationFlag.MAGNETIC), ("PURGE_COMP", 2, None), ("First_Cores", 1, None),
          ("Time_Float", 1, None), ("Replace", 1, None), ("Replace_Down", 8, None),
          ("NO_HOLD_JOBS_AFTER_END", 1, None))
# The order reservation_flags_string prints them in.
_FLAG_ORDER = (ReservationFlag.MAINT, ReservationFlag.FLEX, ReservationFlag.OVERLAP, ReservationFlag.IGNORE_JOBS,
               ReservationFlag.DAILY, ReservationFlag.WEEKLY)


@dataclasses.dataclass
class Request:
    """What one `scontrol create|update reservation` command line sets (None: not given)."""

    words: dict[str, str] = dataclasses.field(default_factory=dict)   # key -> the word that set it
    name: str | None = None
    start: float | None = None
    end: float | None = None
    duration_s: int | None = None
    nodes: str | None = None             # a host list as given, or ALL
    node_count: int = 0
    core_count: int = 0                  # CoreCnt=: one count, or the sum of cores_per_node
    cores_per_node: tuple[int, ...] = ()  # CoreCnt=N,N: a count per node
    users: list[str] | None = None       # items, each "+name", "-name" or "name"
    accounts: list[str] | None = None
    flags_on: set[ReservationFlag] = dataclasses.field(default_factory=set)
    flags_off: set[ReservationFlag] = dataclasses.field(default_factory=set)
    partition: str | None = None


def parse_error(text: str, *, note: str, first: str = "") -> Failure:
    """A malformed argument, as scontrol reports one (`note`: CREATED or UPDATED)."""
    lines = [first] if first else []
    lines.append(f"scontrol: error: {text}")
    if note == UPDATED:   # (scontrol's _update_it adds its perror of an errno nothing set)
        lines.append("slurm_update error: No error")
    return Failure(*lines, prefix=None)


def refusal(message: str, *, note: str) -> Failure:
    """A request the controller (or the checks standing in for it) refused, in scontrol's lines."""
    if note == UPDATED:
        return Failure(f"Error updating the reservation: {message}", f"slurm_update error: {message}", prefix=None)
    return Failure(f"Error creating the reservation: {message}", prefix=None)


def key_of(tag: str) -> str | None:
    """The key a tag names (`Dur` -> Duration), as strncasecmp(tag, name, MAX(len, least)) matches it."""
    for name, least in _KEYS:
        if least <= len(tag) <= len(name) and name[:len(tag)].lower() == tag.lower():
            return _SAME_AS.get(name, name)
    return None


def names_reservation(tag: str) -> bool:
    """Whether an entity word (`res`, `Reservation`, `ReservationName`) names reservations (3 letters at least)."""
    return len(tag) >= 3 and any(full[:len(tag)] == tag.lower() for full in ("reservationname", "reservations"))


def parse_request(words: list[str], *, now: float, note: str) -> Request:
    """The settings of `words` (keys any case; `Users+=x`, `Flags-=MAINT`); Failure as scontrol words it."""
    request = Request()
    for word in words:
        tag, has_eq, value = word.partition("=")
        if not has_eq and word[:3].lower() == "res":
            continue   # the entity word itself: `create reservation ...`
        op = ""
        if tag[-1:] in ("+", "-"):
            op, tag = tag[-1], tag[:-1]
        key = key_of(tag) if has_eq and tag else None
        if key is None:
            raise parse_error(f"Unknown parameter {word}.  {note}", note=note)
        if key in request.words:
            raise parse_error(f"Parameter {word} specified more than once", note=note)
        request.words[key] = word
        if key in _NOT_IN_JEM:
            raise parse_error(f"{key} is not supported yet by JEM", note=note)
        _set(request, key, value=value, op=op, word=word, now=now, note=note)
    return request


def _set(request: Request, key: str, *, value: str, op: str, word: str, now: float, note: str) -> None:
    if key == "ReservationName":
        request.name = value
    elif key in ("StartTime", "EndTime"):
        try:
            t = float(int(now)) if value.strip().lower() == "now" else parse_begin_time(value, now=int(now))
        except ValueError:
            what = "start" if key == "StartTime" else "end"
            raise parse_error(f"Invalid {what} time {word}.  {note}", note=note,
                              first=f"Invalid time specification (pos=0): {value}") from None
        if key == "StartTime":
            request.start = t
        else:
            request.end = t
    elif key == "Duration":
        try:
            seconds = parse_time_limit(value)
        except ValueError:
            raise parse_error(f"Invalid duration {word}.  {note}", note=note) from None
        # Slurm keeps whole minutes (time_str2mins); UNLIMITED is a year.
        request.duration_s = UNLIMITED_S if seconds is None else -(-seconds // 60) * 60
    elif key == "Flags":
        _parse_flags(request, op + value if op else value, note=note)
    elif key == "NodeCnt":
        if not is_digits(value):
            raise parse_error(f"Invalid node count {value}", note=note)
        request.node_count = int(value)
    elif key == "CoreCnt":
        # One count (spread over the nodes), or one per node: "2,4", empty items skipped as
        # state_control_parse_resv_corecnt's strtok skips them ("2," is one count).
        counts = [item for item in value.split(",") if item]
        if not counts or not all(is_digits(count) for count in counts):
            raise parse_error(f"Invalid core count {value}", note=note)
        if len(counts) > 1:
            request.cores_per_node = tuple(int(count) for count in counts)
        request.core_count = sum(int(count) for count in counts)
    elif key == "Nodes":
        request.nodes = value
    elif key == "PartitionName":
        request.partition = value
    else:   # Users, Accounts
        items = [f"{op}{item}" if op else item for item in value.split(",") if item]
        if key == "Users":
            request.users = items
        else:
            request.accounts = items


def _parse_flags(request: Request, text: str, *, note: str) -> None:
    """Flags=A,B / +A / -A, as parse_resv_flags reads them: a + or - holds for the flags after it."""
    op = ""
    for item in text.split(","):
        if item[:1] in ("+", "-"):
            op, item = item[0], item[1:]
        found = next(((name, flag) for name, least, flag in _FLAGS
                      if least <= len(item) <= len(name) and name[:len(item)].lower() == item.lower()), None)
        if found is None or (op == "-" and found[0] in ("Overlap", "First_Cores")) or \
                (op and found[0] == "Time_Float"):
            raise parse_error(f"Error parsing flags {text}.  {note}", note=note)
        name, flag = found
        if flag is None:
            raise parse_error(f"Flags={name.upper()} is not supported yet by JEM", note=note)
        (request.flags_off if op == "-" else request.flags_on).add(flag)
        (request.flags_on if op == "-" else request.flags_off).discard(flag)


def user_names(items: list[str], *, note: str) -> list[str]:
    """Users= items as names (a uid becomes its name); `Invalid user id` for one this host lacks."""
    names = []
    for item in items:
        try:
            names.append(pwd.getpwuid(int(item)).pw_name if is_digits(item) else pwd.getpwnam(item).pw_name)
        except (KeyError, OverflowError, ValueError):   # (ValueError: a NUL or a surrogate in the name)
            raise refusal("Invalid user id", note=note) from None
    return names


def _changed(current: tuple[str, ...], items: list[str]) -> tuple[str, ...]:
    """A list after Users=a,b (replace) or +a / -a items (add, remove), in order without repeats."""
    if not any(item[:1] in ("+", "-") for item in items):
        return tuple(dict.fromkeys(items))
    result = list(current)
    for item in items:
        name = item.lstrip("+-")
        if item.startswith("-"):
            result = [n for n in result if n != name]
        elif name not in result:
            result.append(name)
    return tuple(result)


def node_list(text: str, infos, *, partition: str | None, note: str) -> tuple[str, ...]:
    """Nodes=LIST (or ALL: every node, or the partition's) as names the cluster has."""
    if text.strip().upper() == "ALL":
        return tuple(i.node.name for i in infos if not partition or partition in i.partitions)
    try:
        names = hostlist.expand_hostlist(text)
    except hostlist.BadHostlist:
        raise refusal("Invalid node name specified", note=note) from None
    known = {i.node.name for i in infos}
    if not names or any(name not in known for name in names):
        raise refusal("Invalid node name specified", note=note)
    return tuple(dict.fromkeys(names))


def _times(request: Request, *, note: str) -> tuple[float, float]:
    """(start, end) of a new reservation, after scontrol's own checks."""
    if request.start is None:
        raise parse_error(f"A start time must be given.  {note}", note=note)
    if request.end is None and request.duration_s is None:
        raise parse_error(f"An end time or duration must be given.  {note}", note=note)
    if request.end is not None and request.duration_s is not None and \
            request.start + request.duration_s != request.end:
        raise parse_error(f"StartTime + Duration does not equal EndTime.  {note}", note=note)
    end = request.start + request.duration_s if request.duration_s is not None else request.end
    if request.start > end:
        raise parse_error(f"Start time cannot be after end time.  {note}", note=note)
    return request.start, end


def check_create(request: Request) -> tuple[float, float]:
    """(start, end) of a create request, after the checks scontrol makes before it asks slurmctld."""
    start, end = _times(request, note=CREATED)
    if not request.nodes and not request.node_count and not request.partition and not request.core_count:
        raise parse_error(f"CoreCnt, Nodes, NodeCnt, BurstBuffer, Licenses or Watts must be specified.  {CREATED}",
                          note=CREATED)
    if not request.users and not request.accounts:
        raise parse_error(f"Either Users/Groups and/or Accounts must be specified.  {CREATED}", note=CREATED)
    if any(item.startswith("-") for item in (request.users or []) + (request.accounts or [])):
        raise parse_error("Users=-NAME and Accounts=-NAME (all but these) are not supported yet by JEM",
                          note=CREATED)
    return start, end


def new_reservation(request: Request, *, start: float, end: float, infos, partitions,
                    taken: set[str]) -> tuple[Reservation, int]:
    """(the reservation to create, NodeCnt= or 0) from a checked create request (`check_create`);
    Failure with the words slurmctld's refusal would have.

    Nodes= wins over NodeCnt=, as in Slurm. A PartitionName= alone reserves all of that
    partition's nodes; NodeCnt= without one picks from the default partition, and the partition is
    kept with it so that `show` names it, as Slurm does. Without ReservationName= the name is
    Slurm's `<first user or account>_<N>`.
    """
    partition = request.partition
    users = user_names([item.lstrip("+") for item in request.users or []], note=CREATED)
    accounts = tuple(dict.fromkeys(item.lstrip("+") for item in request.accounts or []))
    if partition and partition not in {p.name for p in partitions}:
        raise refusal("Invalid partition name specified", note=CREATED)
    node_count = 0
    if request.nodes:
        nodes = node_list(request.nodes, infos, partition=partition, note=CREATED)
    elif request.node_count:
        nodes, node_count = (), request.node_count
        partition = partition or next((p.name for p in partitions if p.is_default), "")
    elif request.core_count:
        nodes = ()
    else:
        nodes = tuple(i.node.name for i in infos if partition in i.partitions)
    name = request.name if request.name is not None else _generated_name(users[0] if users else accounts[0], taken)
    if name in taken:
        raise refusal("Duplicate reservation name", note=CREATED)
    check_cores_per_node(request.cores_per_node, len(nodes) or node_count, note=CREATED)
    if request.cores_per_node:
        nodes = in_node_order(nodes)
    if request.core_count and not nodes and not node_count:   # (CoreCnt= alone: the controller picks the nodes)
        partition = partition or next((p.name for p in partitions if p.is_default), "")
    return Reservation(name=name, start_time=start, end_time=end, node_names=nodes, users=tuple(dict.fromkeys(users)),
                       accounts=accounts, flags=frozenset(request.flags_on), partition=partition or "",
                       core_count=request.core_count, cores_per_node=request.cores_per_node), node_count


def in_node_order(nodes: tuple[str, ...]) -> tuple[str, ...]:
    """Nodes in the order a count per node applies to them: Slurm gives the counts to its nodes in
    its own order (slurm.conf's, n1 n2 ... n10 as usually named), whatever order Nodes= names them
    in; JEM's is the names' numeric order. E.g. Nodes=n4,n3 CoreCnt=1,3: 1 core of n3, 3 of n4."""
    return tuple(hostlist.numerically_sorted(list(nodes)))


def check_cores_per_node(counts: tuple[int, ...], n_nodes: int, *, note: str) -> None:
    """A count per node (CoreCnt=N,N; none: nothing to check) must have one count, 1 or more, for
    each of the `n_nodes` nodes it goes with (Nodes=, NodeCnt=): Slurm's ESLURM_INVALID_CORE_CNT
    refusal otherwise. (Slurm 22.05 ignores counts past its nodes; JEM refuses them too.)"""
    if counts and (len(counts) != n_nodes or 0 in counts):
        raise refusal(CORES_INCONSISTENT, note=note)


def _generated_name(base: str, taken: set[str]) -> str:
    pattern = re.compile(re.escape(base) + r"_(\d+)")
    numbers = [int(m.group(1)) for name in taken if (m := pattern.fullmatch(name))]
    return f"{base}_{max(numbers, default=0) + 1}"


def updated_reservation(current: Reservation, request: Request, *, infos, partitions) -> Reservation:
    """`current` as an update request changes it, as slurmctld's update_resv does: a new StartTime
    keeps the duration, Duration= counts from the (new) start, Flags=X adds X (-X removes it),
    Users=a replaces the list (+a, -a add and remove), CoreCnt= replaces the cores (one count, one
    per node, or 0: whole nodes); a count per node kept with Nodes= must still have one count per
    node. Failure with scontrol's words."""
    if request.node_count:
        raise parse_error("Update of NodeCnt is not supported yet by JEM", note=UPDATED)
    start = request.start if request.start is not None else current.start_time
    if request.duration_s is not None:
        end = start + request.duration_s
    elif request.end is not None:
        end = request.end
    else:
        end = start + (current.end_time - current.start_time)
    if end <= start:
        raise refusal("Invalid time specified", note=UPDATED)
    users = current.users
    if request.users is not None:
        names = user_names([item.lstrip("+-") for item in request.users], note=UPDATED)
        users = _changed(current.users, [item[0] + name if item[:1] in ("+", "-") else name
                                         for item, name in zip(request.users, names)])
    accounts = current.accounts if request.accounts is None else _changed(current.accounts, request.accounts)
    if not users and not accounts:
        raise refusal("Reservation request lacks users, groups or accounts", note=UPDATED)
    partition = current.partition if request.partition is None else request.partition
    if request.partition and partition not in {p.name for p in partitions}:
        raise refusal("Invalid partition name specified", note=UPDATED)
    nodes = current.node_names if request.nodes is None else \
        node_list(request.nodes, infos, partition=partition, note=UPDATED)
    core_count, cores_per_node = current.core_count, current.cores_per_node
    if "CoreCnt" in request.words:
        core_count, cores_per_node = request.core_count, request.cores_per_node
    check_cores_per_node(cores_per_node, len(nodes), note=UPDATED)
    if cores_per_node:
        nodes = in_node_order(nodes)
    flags = (current.flags | request.flags_on) - request.flags_off
    return dataclasses.replace(current, start_time=start, end_time=end, users=users, accounts=accounts,
                               partition=partition, node_names=nodes, flags=frozenset(flags),
                               core_count=core_count, cores_per_node=cores_per_node)


def overlapping(reservation: Reservation, others, *, now: float) -> bool:
    """Whether a refused reservation shares nodes and time with another (neither OVERLAP): Slurm's
    "Requested reservation overlaps with another reservation" rather than "Requested nodes are busy"."""
    if ReservationFlag.OVERLAP in reservation.flags:
        return False
    return any(o.name != reservation.name and ReservationFlag.OVERLAP not in o.flags and reservation.overlaps(o, now)
               for o in others)


# ---------------------------------------------------------------- what show and sinfo print

def duration_text(seconds: float) -> str:
    """Slurm's secs2time_str: 02:00:00, 1-00:00:00.

    >>> duration_text(7200), duration_text(86400 + 61)
    ('02:00:00', '1-00:01:01')
    """
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{clock}" if days else clock


def shown_window(reservation: Reservation, now: float) -> tuple[float, float]:
    """The start and end shown: the current or next window of a repeating one."""
    return reservation.window(now) or (reservation.start_time, reservation.end_time)


def flags_text(reservation: Reservation) -> str:
    """Flags= as Slurm prints them. SPEC_NODES (Slurm's mark of named nodes) is shown for a
    reservation without a partition: JEM keeps no such mark, and only NodeCnt= (which keeps the
    partition it picked from) or PartitionName= make one with a partition."""
    names = [flag.value for flag in _FLAG_ORDER if flag in reservation.flags]
    if not reservation.partition:
        names.append("SPEC_NODES")
    if ReservationFlag.MAGNETIC in reservation.flags:   # (Slurm prints it last)
        names.append(ReservationFlag.MAGNETIC.value)
    return ",".join(names)


def time_text(t: float) -> str:
    """A start or end as Slurm prints it; `Unknown` for one past what local time can print (year 9999)."""
    from jem_slurm.jobview import iso

    try:
        return iso(t, "Unknown")
    except (ValueError, OverflowError, OSError):
        return "Unknown"


def state_text(reservation: Reservation, now: float) -> str:
    return "ACTIVE" if reservation.is_active(now) else "INACTIVE"


def sinfo_lines(reservations, now: float, *, has_header: bool) -> list[str]:
    """sinfo -T: RESV_NAME STATE START_TIME END_TIME DURATION NODELIST, the name column as wide
    as the longest name (9 at least), as sinfo's _print_reservation pads them."""
    if not reservations:
        return ["No reservations in the system"]
    width = max([9] + [len(r.name) for r in reservations])

    def row(name, state, start, end, duration, nodes):
        return f"{name:<{width}}  {state:>8}  {start:>19}  {end:>19}  {duration:>11}  {nodes}"

    lines = [row("RESV_NAME", "STATE", "START_TIME", "END_TIME", "DURATION", "NODELIST")] if has_header else []
    for r in reservations:
        start, end = shown_window(r, now)
        lines.append(row(r.name, state_text(r, now), time_text(start), time_text(end),
                         duration_text(end - start), hostlist.collect_hostlist(list(r.node_names))))
    return lines
