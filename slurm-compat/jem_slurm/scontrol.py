"""scontrol: show job|node|partition|reservation|config|hostnames|hostlist, hold, uhold, release,
requeue, suspend and resume (jem_slurm.scontrol_suspend), ping, update of jobs (a running job's
TimeLimit too, and TimeLimit=+T/-T), nodes and reservations, create and delete of reservations.

Messages and exit codes follow Slurm 22.05's scontrol: `Invalid job id
specified for job 42` and exit 1 for a request the controller refuses,
`invalid keyword: X` for an unknown command; reservations as jem_slurm.reservations words them.
"""

import os
import sys
import time

import hostlist

from jem_slurm import reservations, scontrol_show
from jem_slurm.command import SLURM_VERSION, Failure, connect, is_digits, node_names, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable
from jem_slurm.scontrol_help import HELP_LINES

PROG = "scontrol"

# scontrol 22.05's options (getopt_long "adhM:FoQu:vV"; GNU order: options may follow the command).
OPTIONS = OptionTable([
    Option("all", "a"), Option("cluster", "M", REQUIRED), Option("clusters", "M", REQUIRED, key="cluster"),
    Option("details", "d"), Option("federation"), Option("future", "F"), Option("help", "h"),
    Option("hide"), Option("local"), Option("oneliner", "o"), Option("quiet", "Q"), Option("sibling"),
    Option("uid", "u", REQUIRED), Option("usage", key="help"), Option("verbose", "v"), Option("version", "V"),
])


def _show(words: list[str], *, is_one_line: bool) -> int:
    if not words:
        raise Failure("invalid entity: for keyword:show ", prefix=None)
    entity, has_eq, _ = words[0].lower().partition("=")   # `show res=NAME` is `show res NAME`
    names = [words[0].partition("=")[2]] + words[1:] if has_eq else words[1:]
    now = time.time()
    if reservations.names_reservation(entity):
        return _show_reservations(names, now, is_one_line=is_one_line)
    if entity in ("hostnames", "hostname"):
        return _hostnames(names)
    if entity == "hostlist":
        print(hostlist.collect_hostlist(node_names(names)))
        return 0
    if entity not in ("job", "jobs", "node", "nodes", "partition", "partitions", "config"):
        raise Failure(f"invalid entity:{words[0]} for keyword:show ", prefix=None)
    from jem.model.errors import JemError

    with connect() as client:
        if entity == "config":
            print(scontrol_show.config_text(client.ping(), client.address, now, settings=client.settings()))
        elif entity.startswith("job"):
            try:
                jobs = [client.get_job(int(n)) for n in names] if names else sorted(
                    client.list_jobs(), key=lambda j: j.job_id)
            except ValueError:
                raise Failure(f"Invalid job id specified for job {names[0]}", prefix=None) from None
            except JemError as exc:
                if exc.reason != "JobNotFound":
                    raise
                raise Failure("slurm_load_jobs error: Invalid job id specified", prefix=None) from None
            if not jobs:
                print("No jobs in the system")
            # (the site's MailDomain, asked only when a job shown is mailed to its user by default)
            domain = client.settings().get("mail.domain", "") if any(
                j.spec.mail_type and not j.spec.mail_user for j in jobs) else ""
            for job in jobs:
                print(scontrol_show.job_record(job, now, is_one_line=is_one_line, mail_domain=domain))
        elif entity.startswith("node"):
            infos = client.list_nodes()
            if names:
                wanted = set(node_names(names))
                infos = [i for i in infos if i.node.name in wanted]
                if not infos:
                    raise Failure(f"Node {names[0]} not found", prefix=None)
            for info in infos:
                print(scontrol_show.node_record(info, is_one_line=is_one_line))
        else:
            partitions, infos = client.list_partitions(), client.list_nodes()
            if names:
                partitions = [p for p in partitions if p.name in names]
                if not partitions:
                    raise Failure(f"Partition {names[0]} not found", prefix=None)
            for partition in partitions:
                print(scontrol_show.partition_record(partition, infos, is_one_line=is_one_line))
    return 0


def _hostnames(names: list[str]) -> int:
    """One host a line; without a list SLURM_JOB_NODELIST's, else Slurm's `host list is empty`
    (exit 0). An empty list prints nothing."""
    if not names and os.environ.get("SLURM_JOB_NODELIST"):
        names = [os.environ["SLURM_JOB_NODELIST"]]
    if not names:
        print(f"{PROG}: error: host list is empty", file=sys.stderr)
        return 0
    hosts = node_names(names)
    if hosts:
        print("\n".join(hosts))
    return 0


def _show_reservations(names: list[str], now: float, *, is_one_line: bool) -> int:
    if len(names) > 1:
        raise Failure("too many arguments for keyword:show", prefix=None)
    with connect() as client:
        found = client.list_reservations(names) if names else client.list_reservations()
        cpus = {i.node.name: i.node.capacity.cpus for i in client.list_nodes()} if found else {}
    if names and not found:
        print(f"Reservation {names[0]} not found")
        return 1
    if not found:
        print("No reservations in the system")
    for reservation in found:
        print(scontrol_show.reservation_record(reservation, now, cpus_by_node=cpus, is_one_line=is_one_line))
    return 0


def _job_ids(words: list[str], keyword: str = "hold") -> list[int]:
    ids = []
    for word in ",".join(words).split(","):
        if not word:
            continue
        if not is_digits(word):
            raise Failure(f"Invalid job id specified for job {word}", prefix=None)
        ids.append(int(word))
    if not ids:
        raise Failure(f"too few arguments for keyword:{keyword}", prefix=None)
    return ids


def _each_job(keyword: str, words: list[str]) -> int:
    """hold, uhold, release or requeue each job named; errors as Slurm prints them (all but requeue
    add a `slurm_suspend error:` line). hold by an operator is an admin hold (JobHeldAdmin), by a
    user a user hold; uhold is a user hold (JobHeldUser) whoever asks."""
    from jem.model.errors import JemError

    status = 0
    with connect() as client:
        action = {"hold": client.hold, "uhold": client.user_hold, "release": client.release,
                  "requeue": client.requeue}[keyword]
        for job_id in _job_ids(words, "hold" if keyword == "uhold" else keyword):
            try:
                action(job_id)
            except JemError as exc:
                if exc.reason == "ControllerUnreachable":
                    raise
                print(f"{exc.message} for job {job_id}", file=sys.stderr)
                if keyword != "requeue":
                    print(f"slurm_suspend error: {exc.message}", file=sys.stderr)
                status = 1
    return status


def _pairs(words: list[str]) -> dict[str, str]:
    pairs = {}
    for word in words:
        key, has_eq, value = word.partition("=")
        if not has_eq:
            raise Failure(f"Invalid input: {word}", "Request aborted", prefix=None)
        pairs[key.lower()] = value
    return pairs


def _update_job(pairs: dict[str, str], words: list[str]) -> int:
    """update JobId=N ...: the pairs' keys in lower case, with a `+`/`-` of `Key+=V` kept (`words`:
    as typed, for messages). TimeLimit=+T/-T (or TimeLimit+=T/-=T) adds to or takes from the
    job's limit as it is, which scontrol reads first (JobId must come before it)."""
    from jem.model.errors import JemError

    keys = list(pairs)
    job_text = pairs.pop("jobid", pairs.pop("job", ""))
    if not is_digits(job_text):
        raise Failure(f"Invalid job id specified for job {job_text}", prefix=None)
    fields: dict = {}
    step = None   # TimeLimit's (sign, seconds): relative to the job's limit
    for key, value in pairs.items():
        tag = key.rstrip("+-")
        if tag != key and tag != "timelimit":
            word = next(w for w in words if w.partition("=")[0].lower() == key)
            raise Failure(f"Option {word} does not accept [+|-]= syntax")
        if tag == "timelimit":
            job_index = next(i for i, k in enumerate(keys) if k in ("jobid", "job"))
            step = _time_limit(key, value, fields, is_after_job_id=keys.index(key) > job_index)
        elif key == "partition":
            fields["partition"] = value
        elif key in ("name", "jobname"):
            fields["name"] = value
        elif key == "nice":
            try:
                fields["nice"] = int(value)
            except ValueError:
                raise Failure("Invalid Nice value") from None
        elif key == "numnodes":
            low, _, high = value.partition("-")
            if not is_digits(low) or (high and high != low):
                raise Failure(f"Invalid NumNodes value: {value}" if not is_digits(low) else
                              "JEM allocates an exact node count: give NumNodes=N", prefix=None)
            fields["n_nodes"] = int(low)
        elif key in ("numcpus", "numtasks", "minmemorynode", "minmemorycpu", "dependency",
                     "features", "qos", "account", "starttime", "reqnodelist", "excnodelist", "priority"):
            raise Failure(f"Update of {key} is not supported yet by JEM")
        else:
            raise Failure(f"Update of this parameter is not supported: {key}=", "Request aborted", prefix=None)
    try:
        with connect() as client:
            if step is not None:
                fields["time_limit_s"] = _stepped_limit(client, int(job_text), *step)
            client.update(int(job_text), **fields)
    except JemError as exc:
        if exc.reason == "ControllerUnreachable":
            raise
        raise Failure(f"{exc.message} for job {job_text}", prefix=None) from None
    return 0


def _time_limit(key: str, value: str, fields: dict, *, is_after_job_id: bool) -> tuple[str, int] | None:
    """TimeLimit's value: a limit put in `fields` (seconds; 0: UNLIMITED), or (sign, seconds) to
    add or take off. `0` is Slurm's limit of no minutes, which ends a running job at once: JEM's
    shortest, one second (its 0 means no limit)."""
    from jem.model.units import parse_time_limit

    sign = key[len("timelimit"):]
    if value[:1] in ("+", "-"):
        if sign:
            raise Failure("Invalid syntax, variations of +=- are not accepted.")
        sign, value = value[0], value[1:]
    try:
        limit = parse_time_limit(value)
    except ValueError:
        raise Failure("Invalid TimeLimit value") from None
    is_unlimited = value.strip().lower() in ("unlimited", "infinite")
    if not sign:
        fields["time_limit_s"] = 0 if is_unlimited else limit or 1
        return None
    if is_unlimited:
        raise Failure("Invalid TimeLimit value")
    if not is_after_job_id:
        raise Failure("JobId must precede TimeLimit increment or decrement")
    return sign, limit or 0


def _stepped_limit(client, job_id: int, sign: str, step_s: int) -> int:
    """The job's time limit (seconds; 0: UNLIMITED, which a step leaves as it is) moved by `step_s`."""
    from jem.model.errors import JemError

    try:
        current = client.get_job(job_id).time_limit_s
    except JemError as exc:
        if exc.reason == "ControllerUnreachable":
            raise
        raise Failure(f"Could not load state information for job {job_id}: {exc.message}") from None
    if current is None:
        return 0
    if sign == "+":
        return current + step_s
    if step_s > current:
        raise Failure(f"TimeLimit decrement larger than current time limit ({-(-step_s // 60)} > {-(-current // 60)})")
    return current - step_s or 1   # (none left: Slurm's limit of no minutes)


# What each node state of `update NodeName=... State=...` asks of the controller: UNDRAIN
# undoes a drain only (a DOWN node stays DOWN), RESUME and IDLE a drain and a DOWN.
NODE_ACTIONS = {"DOWN": "down", "DRAIN": "drain", "RESUME": "resume", "UNDRAIN": "undrain", "IDLE": "resume"}


def node_update(pairs: dict[str, str]) -> tuple[list[str], str, str]:
    """(node names, action: "down", "drain", "undrain" or "resume", reason) that `update NodeName=...`
    pairs (keys in lower case) ask for; Failure with Slurm's message for what they cannot."""
    names = node_names([pairs.pop("nodename", "")])
    state = pairs.pop("state", "").upper()
    reason = pairs.pop("reason", "")
    if pairs:
        key = next(iter(pairs))
        raise Failure(f"Update of {key} is not supported yet by JEM")
    if state in ("DRAIN", "DOWN") and not reason:
        raise Failure("You must specify a reason when DOWNING or DRAINING a node. Request denied", prefix=None)
    if state not in NODE_ACTIONS:
        raise Failure(f"Invalid node state specified: {state}" if state else "No node state specified",
                      prefix=None)
    return names, NODE_ACTIONS[state], reason


def _update_node(pairs: dict[str, str]) -> int:
    from jem.model.errors import JemError

    names, action, reason = node_update(pairs)
    status = 0
    with connect() as client:
        act = {"down": lambda name: client.down_node(name, reason),
               "drain": lambda name: client.drain_node(name, reason), "undrain": client.undrain_node,
               "resume": client.resume_node}[action]
        for name in names:
            try:
                act(name)
            except JemError as exc:
                if exc.reason == "ControllerUnreachable":
                    raise
                print(f"slurm_update error: {exc.message}", file=sys.stderr)
                status = 1
    return status


def _is_prefix(tag: str, name: str, least: int = 3) -> bool:
    """scontrol's xstrncasecmp(tag, name, MAX(len(tag), least)) == 0."""
    return least <= len(tag) <= len(name) and name[:len(tag)].lower() == tag.lower()


def _reservation_refusal(client, exc, *, reservation, node_count: int, now: float, note: str) -> Exception:
    """What a refused create or update prints, in Slurm's errno texts: a refused operator check is
    Slurm's `Invalid user id`, busy nodes held by another reservation its overlap message, and a
    NodeCnt= that cannot be met is busy nodes too (Slurm would reserve fewer). A create refused
    for busy nodes prints scontrol's note about partitions first, as Slurm's does (on stdout)."""
    if exc.reason == "ControllerUnreachable":
        return exc
    message = "Invalid user id" if exc.reason == "PermissionDenied" else exc.message
    if exc.reason == "ReservationBusy" or (exc.reason == "InvalidReservation" and node_count):
        if reservations.overlapping(reservation, client.list_reservations(), now=now):
            message = "Requested reservation overlaps with another reservation"
        else:
            message = "Requested nodes are busy"
            if note == reservations.CREATED:
                print("Note, unless nodes are directly requested a reservation must exist in a single partition.\n"
                      "If no partition is requested the default partition is assumed.")
    return reservations.refusal(message, note=note)


def _create(words: list[str]) -> int:
    if not words:
        raise Failure("too few arguments for create keyword", prefix=None)
    for word in words:
        tag = word.partition("=")[0]
        if _is_prefix(tag, "ReservationName"):
            return _create_reservation(words)
        if _is_prefix(tag, "PartitionName") or _is_prefix(tag, "NodeName"):
            raise Failure(f"create {'PartitionName' if tag[0] in 'pP' else 'NodeName'} is not supported by JEM")
    raise Failure(f"Invalid creation entity: {words[0]}")


def _create_reservation(words: list[str]) -> int:
    from jem.model.errors import JemError

    now = time.time()
    request = reservations.parse_request(words, now=now, note=reservations.CREATED)
    start, end = reservations.check_create(request)
    with connect() as client:
        infos, partitions = client.list_nodes(), client.list_partitions()
        taken = {r.name for r in client.list_reservations()}
        new, node_count = reservations.new_reservation(request, start=start, end=end, infos=infos,
                                                       partitions=partitions, taken=taken)
        try:
            created = client.create_reservation(new, node_count=node_count)
        except JemError as exc:
            raise _reservation_refusal(client, exc, reservation=new, node_count=node_count, now=now,
                                       note=reservations.CREATED) from None
    print(f"Reservation created: {created.name}")
    return 0


def _update_reservation(words: list[str]) -> int:
    from jem.model.errors import JemError

    now = time.time()
    note = reservations.UPDATED
    request = reservations.parse_request(words, now=now, note=note)
    with connect() as client:
        current = client.list_reservations([request.name]) if request.name else []
        if not current:
            raise reservations.refusal("Requested reservation is invalid", note=note)
        infos = client.list_nodes() if request.nodes is not None else ()
        partitions = client.list_partitions() if request.partition else ()
        new = reservations.updated_reservation(current[0], request, infos=infos, partitions=partitions)
        try:
            client.update_reservation(new)
        except JemError as exc:
            raise _reservation_refusal(client, exc, reservation=new, node_count=0, now=now, note=note) from None
    print("Reservation updated.")
    return 0


def _delete(words: list[str]) -> int:
    """`delete ReservationName=NAME` (or `delete res NAME`): silent on success, as Slurm."""
    from jem.model.errors import JemError

    if not words:
        raise Failure("too few arguments for delete keyword", prefix=None)
    tag, has_eq, name = words[0].partition("=")
    if not has_eq:
        if len(words) < 2:
            raise Failure("Proper format is 'delete <ENTITY>=<ID>' or 'delete <ENTITY> <ID>'")
        name = words[1]
    if _is_prefix(tag, "PartitionName") or _is_prefix(tag, "NodeName"):
        raise Failure(f"delete {'PartitionName' if tag[0] in 'pP' else 'NodeName'} is not supported by JEM")
    if not _is_prefix(tag, "ReservationName"):
        raise Failure(f"Invalid deletion entity: {words[0]}", prefix=None)
    try:
        with connect() as client:
            client.delete_reservation(name)
    except JemError as exc:
        if exc.reason == "ControllerUnreachable":
            raise
        what = f"delete_reservation {words[0]}"[:63]   # (scontrol's 64-byte buffer)
        raise Failure(f"{what}: {'Invalid user id' if exc.reason == 'PermissionDenied' else exc.message}",
                      prefix=None) from None
    return 0


def _update(words: list[str]) -> int:
    """update routes on its keys: JobId before a reservation's name, then NodeName, as scontrol does."""
    tags = [word.partition("=")[0].rstrip("+-") for word in words]
    if not any(tag.lower() in ("jobid", "job") for tag in tags) and \
            any(_is_prefix(tag, "ReservationName") for tag in tags):
        return _update_reservation(words)
    pairs = _pairs(words)
    if "jobid" in pairs or "job" in pairs:
        return _update_job(pairs, words)
    if "nodename" in pairs:
        return _update_node(pairs)
    raise Failure("No valid entity in update command", "Input line must include \"NodeName\", "
                  "\"PartitionName\", \"Reservation\", \"JobId\", or \"SlurmctldDebug\"", prefix=None)


# What `scontrol ping` adds when the controller does not answer (Slurm's words, on stdout).
DOWN_BANNER = ("*****************************************\n"
               "** RESTORE SLURMCTLD DAEMON TO SERVICE **\n"
               "*****************************************")


def _ping(keyword: str, words: list[str]) -> int:
    """`Slurmctld(primary) at HOST is UP`, exit 0; DOWN (named by the address asked), the banner and
    exit 1 when the controller cannot be reached or is not ready. JEM has no backup controller."""
    from jem.model.errors import ControllerNotReady, ControllerUnreachable

    if words:
        raise Failure(f"too many arguments for keyword:{keyword}", prefix=None)
    with connect() as client:
        try:
            host = client.ping().host
        except (ControllerUnreachable, ControllerNotReady):
            print(f"Slurmctld(primary) at {_host_of(client.address)} is DOWN\n{DOWN_BANNER}")
            return 1
    print(f"Slurmctld(primary) at {host} is UP")
    return 0


def _host_of(address: str) -> str:
    """The host of a `host:port` address (`[::1]:6817` -> `::1`)."""
    host, has_port, _ = address.rpartition(":")
    return (host if has_port else address).strip("[]")


def _scontrol(argv: list[str]) -> int:
    """scontrol's options, then its command. -a, -d, -F, -Q, -v, --federation, --hide, --local and
    --sibling change nothing JEM shows (it has one cluster and no hidden partitions or FUTURE nodes)."""
    found, words = OPTIONS.parse(argv, stop_at_operand=False)
    is_one_line = False
    for option, _ in found:
        if option.name == "help":
            return _help()
        if option.name == "version":
            print(SLURM_VERSION)
            return 0
        if option.name in ("cluster", "uid"):
            raise Failure(f"--{option.name} is not supported yet by JEM")
        is_one_line = is_one_line or option.name == "oneliner"
    if not words:
        raise Failure("no command given (JEM's scontrol has no interactive mode)")
    keyword, rest = words[0].lower(), words[1:]
    if keyword == "show":
        return _show(rest, is_one_line=is_one_line)
    if keyword == "help":
        return _help(rest)
    if keyword in ("hold", "uhold", "release", "requeue"):
        return _each_job(keyword, rest)
    if keyword == "update":
        return _update(rest)
    if keyword == "create":
        return _create(rest)
    if keyword == "delete":
        return _delete(rest)
    if _is_prefix(keyword, "ping"):
        return _ping(words[0], rest)
    if _is_prefix(keyword, "suspend", 2) or _is_prefix(keyword, "resume"):
        from jem_slurm.scontrol_suspend import run_suspend

        return run_suspend(words[0], rest, resume=keyword.startswith("r"), connect=connect)
    if keyword in ("requeuehold", "top", "reboot"):
        raise Failure(f"{keyword} is not supported yet by JEM")
    raise Failure(f"invalid keyword: {words[0]}", prefix=None)


def _help(words: list[str] = ()) -> int:
    """Slurm's help text on stdout; with words after `help`, its complaint first and exit 1."""
    if words:
        print("too many arguments for keyword:help", file=sys.stderr)
    print("\n".join(HELP_LINES))
    return 1 if words else 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _scontrol, argv)


if __name__ == "__main__":
    sys.exit(main())
