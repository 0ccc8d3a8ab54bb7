"""sinfo: JEM's partitions and nodes in Slurm's grouped rows (default, -l, -N, -R, -s, -o) and --json;
-T/--reservation lists the advance reservations.

Rows group a partition's nodes whose shown values are all equal, in node
order; states print as Slurm's compact (`idle`, `mix`, `alloc`, `drain`,
`drng`, `down`) or long names, with `*` after a node that does not respond
(a DOWN node whose agent answers was taken down by an administrator).
"""

import json
import sys
import time

import hostlist

from jem.model.arrays import format_ranges

from jem_slurm import jobview, layout
from jem_slurm.command import SLURM_VERSION, Failure, connect, node_names, run, split_list
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable

PROG = "sinfo"
DEFAULT_FORMAT = "%#P %.5a %.10l %.6D %.6t %N"
LONG_FORMAT = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
NODE_FORMAT = "%#N %.6D %#P %6t"
NODE_LONG_FORMAT = "%#N %.6D %#P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E"   # (CPUS left-justified, as Slurm's)
REASON_FORMAT = "%20E %9u %19H %N"
SUMMARY_FORMAT = "%#P %.5a %.10l %.16F %N"

USAGE = ("Usage: sinfo [-abdelNRrsTv] [-i seconds] [-t states] [-p partition] [-n nodes]\n"
         "             [-S fields] [-o format] [-O Format] [--federation] [--local]")   # Slurm 22.05's --usage
HELP = "Usage: sinfo [-l] [-N] [-R] [-s] [-h] [-o format] [-p partitions] [-n nodes] [-t states] [--json]"

_O = Option
OPTIONS = OptionTable([
    _O("all", "a", NONE), _O("dead", "d", NONE), _O("exact", "e", NONE), _O("noheader", "h", NONE),
    _O("long", "l", NONE), _O("Node", "N", NONE), _O("nodes", "n", REQUIRED), _O("format", "o", REQUIRED),
    _O("Format", "O", REQUIRED), _O("partition", "p", REQUIRED), _O("responding", "r", NONE),
    _O("list_reasons", "R", NONE), _O("summarize", "s", NONE), _O("sort", "S", REQUIRED),
    _O("states", "t", REQUIRED), _O("json", "", NONE), _O("verbose", "v", NONE), _O("help", "", NONE),
    _O("usage", "", NONE), _O("version", "V", NONE), _O("local", "", NONE), _O("federation", "", NONE),
    _O("reservation", "T", NONE),
])
_COMPACT = {"IDLE": "idle", "MIXED": "mix", "ALLOCATED": "alloc", "DRAINING": "drng", "DRAINED": "drain",
            "DOWN": "down*"}
_LONG = {"IDLE": "idle", "MIXED": "mixed", "ALLOCATED": "allocated", "DRAINING": "draining",
         "DRAINED": "drained", "DOWN": "down*"}
HEADERS = {
    "P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES", "t": "STATE", "T": "STATE",
    "N": "NODELIST", "n": "HOSTNAMES", "o": "NODE_ADDR", "c": "CPUS", "m": "MEMORY", "G": "GRES", "E": "REASON",
    "C": "CPUS(A/I/O/T)", "F": "NODES(A/I/O/T)", "e": "FREE_MEM", "O": "CPU_LOAD", "h": "OVERSUBS",
    "s": "JOB_SIZE", "g": "GROUPS", "r": "ROOT", "z": "S:C:T", "d": "TMP_DISK", "w": "WEIGHT", "f": "AVAIL_FE",
    "H": "TIMESTAMP", "u": "USER", "A": "NODES(A/I)", "b": "ACTIVE_FEATURES", "B": "MAX_CPUS_PER_NODE",
    "I": "PRIO_JOB_FACTOR", "L": "DEFAULTTIME", "M": "PREEMPT_MODE", "p": "PRIO_TIER", "S": "ALLOCNODES",
    "U": "USER", "v": "VERSION", "V": "CLUSTER", "X": "SOCKETS", "Y": "CORES", "Z": "THREADS",
}


def state_names(info) -> tuple[str, str]:
    """(compact, long) state of a node as sinfo prints it: `down` for a node an administrator
    took down whose agent answers, `down*` for one that does not respond."""
    state = info.state.value
    if state == "DOWN" and info.node.is_responding:
        return "down", "down"
    return _COMPACT[state], _LONG[state]


def _node_values(info, partition) -> dict[str, str]:
    from jem.model.units import format_duration

    node = info.node
    compact, long_name = state_names(info)
    limit = format_duration(partition.max_time_s) if partition.max_time_s is not None else "infinite"
    return {
        "P": partition.name + ("*" if partition.is_default else ""), "R": partition.name,
        "a": "up" if partition.is_up else "down", "l": limit, "t": compact, "T": long_name,
        "c": str(node.capacity.cpus), "m": str(node.capacity.mem_mib),
        "G": jobview.gres_text(node.capacity.gpus, node.gres, gpu_type=node.gpu_type),
        "E": node.reason or "none", "e": "N/A", "O": "N/A", "h": "NO", "s": "1-infinite", "g": "all", "r": "no",
        "z": f"1:{node.capacity.cpus}:1", "d": "0", "w": "1", "f": jobview.features_text(node.features), "H": "Unknown",
        "u": "root" if node.reason else "Unknown", "o": node.name, "n": node.name,
        "b": jobview.features_text(node.features), "B": "UNLIMITED", "I": "1", "M": "OFF", "S": "all",
        "L": format_duration(partition.default_time_s) if partition.default_time_s is not None else "n/a",
        "p": str(partition.priority_tier), "U": "root(0)" if node.reason else "Unknown", "v": "N/A", "V": "N/A",
        "X": "1", "Y": str(node.capacity.cpus), "Z": "1",
    }


def _known_or_literal(part):
    """A field sinfo knows, or, as Slurm's sinfo does with one it does not, its text printed
    as written after a complaint on stderr."""
    if isinstance(part, layout.Field) and part.letter not in HEADERS:
        print(f"Invalid node format specification: {part.letter}", file=sys.stderr)
        return f"%{'.' if part.is_right else ''}{part.width or ''}{part.letter}"
    return part


def _rows(parts, partitions, infos, *, per_node: bool) -> list[dict[str, str]]:
    """Group (partition, node) pairs by their shown values; D, N, C and F summarize each group."""
    letters = {p.letter for p in parts if isinstance(p, layout.Field)} - {"D", "N", "n", "o", "C", "F", "A"}
    groups: dict[tuple, list] = {}
    for partition in partitions:
        for info in infos:
            if partition.name not in info.partitions:
                continue
            values = _node_values(info, partition)
            key = (partition.name, info.node.name if per_node else "",
                   tuple(values[letter] for letter in sorted(letters)))
            groups.setdefault(key, []).append((values, info))
    rows = []
    for members in groups.values():
        values = dict(members[0][0])
        names = [info.node.name for _, info in members]
        values["N"] = values["n"] = values["o"] = hostlist.collect_hostlist(names)
        values["D"] = str(len(members))
        alloc = sum(info.node.allocated.cpus for _, info in members)
        total = sum(info.node.capacity.cpus for _, info in members)
        other = sum(info.node.capacity.cpus for _, info in members if info.state.value in ("DOWN", "DRAINED"))
        values["C"] = f"{alloc}/{total - alloc - other}/{other}/{total}"
        n_alloc = sum(1 for _, info in members if info.state.value in ("ALLOCATED", "MIXED", "DRAINING"))
        n_other = sum(1 for _, info in members if info.state.value in ("DOWN", "DRAINED"))
        values["F"] = f"{n_alloc}/{len(members) - n_alloc - n_other}/{n_other}/{len(members)}"
        values["A"] = f"{n_alloc}/{len(members) - n_alloc - n_other}"
        rows.append(values)
    return rows


def _reason_rows(infos) -> list[dict[str, str]]:
    groups: dict[str, list] = {}
    for info in infos:
        if info.node.reason and info.state.value in ("DRAINED", "DRAINING", "DOWN"):
            groups.setdefault(info.node.reason, []).append(info.node.name)
    return [{"E": reason, "u": "root", "H": "Unknown", "N": hostlist.collect_hostlist(names)}
            for reason, names in groups.items()]


def _node_json(info) -> dict:
    """One node as Slurm 22.05's sinfo --json (openapi v0.0.38) shows it. What JEM does not know
    of a node (its architecture, OS, boot time, load, free memory) prints empty or 0."""
    from jem.model.units import format_mem_mib

    node, base = info.node, info.state.value
    cap, alloc = node.capacity, node.allocated
    if base in ("DRAINING", "DRAINED"):   # a flag over the state its jobs give it
        base = "IDLE" if not node.job_ids else "ALLOCATED" if alloc.cpus >= cap.cpus else "MIXED"
    flags = (["DRAIN"] if node.is_drained else []) + ([] if node.is_responding else ["NOT_RESPONDING"])
    host, _, port = node.agent_address.rpartition(":")
    gres = jobview.gres_text(cap.gpus, node.gres, gpu_type=node.gpu_type)
    gpu_ids = sorted({i for ids in node.gpu_ids.values() for i in ids})
    kind = f"gpu:{node.gpu_type}" if node.gpu_type else "gpu"
    gres_used = ([f"{kind}:{len(gpu_ids)}(IDX:{format_ranges(gpu_ids) if gpu_ids else 'N/A'})"] if cap.gpus else []) \
        + [f"{name}:{node.gres_allocated.get(name, 0)}" for name in node.gres]
    tres_gpu = f",gres/gpu={cap.gpus}" if cap.gpus else ""
    return {
        "architecture": "", "burstbuffer_network_address": "", "boards": 1, "boot_time": 0, "comment": "",
        "cores": cap.cpus, "cpu_binding": 0, "cpu_load": 0, "extra": "", "free_memory": 0, "cpus": cap.cpus,
        "last_busy": 0, "features": ",".join(node.features), "active_features": ",".join(node.features),
        "gres": "" if gres == "(null)" else gres, "gres_drained": "N/A", "gres_used": ",".join(gres_used),
        "mcs_label": "", "name": node.name, "next_state_after_reboot": "invalid",
        "address": host or node.name, "hostname": host or node.name, "state": base.lower(), "state_flags": flags,
        "next_state_after_reboot_flags": [], "operating_system": "", "owner": None,
        "partitions": list(info.partitions), "port": int(port) if port.isdigit() else 0,
        "real_memory": cap.mem_mib, "reason": node.reason, "reason_changed_at": 0,
        "reason_set_by_user": "root" if node.reason else None, "slurmd_start_time": 0, "sockets": 1, "threads": 1,
        "temporary_disk": 0, "weight": 1,
        "tres": f"cpu={cap.cpus},mem={format_mem_mib(cap.mem_mib)},billing={cap.cpus}{tres_gpu}",
        "slurmd_version": SLURM_VERSION.split()[-1], "alloc_memory": alloc.mem_mib, "alloc_cpus": alloc.cpus,
        "idle_cpus": cap.cpus - alloc.cpus,
        "tres_used": f"cpu={alloc.cpus},mem={format_mem_mib(alloc.mem_mib)}" if alloc.cpus else None,
        "tres_weighted": float(alloc.cpus),
    }


def _print_json() -> int:
    """--json: every node, as Slurm 22.05's sinfo --json prints them (its filters do not apply there)."""
    with connect() as client:
        infos = client.list_nodes()
    document = {"meta": {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
                         "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}},
                "errors": [], "nodes": [_node_json(info) for info in infos]}
    print(json.dumps(document, indent=2))
    return 0


def _reservation_report(args: dict) -> int:
    """sinfo -T: one row per reservation in Slurm's fixed columns. Like Slurm's sinfo it ignores
    the node and partition options and formats; -l adds the date line, -h drops it and the header."""
    from jem_slurm import reservations

    with connect() as client:
        found = client.list_reservations()
    out = [time.strftime("%a %b %d %H:%M:%S %Y")] if "long" in args and "noheader" not in args else []
    out.extend(reservations.sinfo_lines(found, time.time(), has_header="noheader" not in args))
    print("\n".join(out))
    return 0


def _sinfo(argv: list[str]) -> int:
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    args: dict = {}
    for option, value in found:
        if option.name in ("nodes", "partition", "states"):
            args.setdefault(option.name, []).append(value)
        else:
            args[option.name] = value
    if "usage" in args or "help" in args:
        print(USAGE if "usage" in args else HELP)
        return 0
    if "version" in args:
        print(SLURM_VERSION)
        return 0
    if "json" in args:
        return _print_json()
    if "reservation" in args:
        return _reservation_report(args)
    if "Format" in args:
        raise Failure("--Format is not supported yet by JEM; use -o")
    with connect() as client:
        partitions = client.list_partitions()
        infos = client.list_nodes()
    wanted = set(split_list(args.get("partition", [])))
    if wanted:
        partitions = [p for p in partitions if p.name in wanted]
    if "nodes" in args:
        names = set(node_names(args["nodes"]))
        infos = [i for i in infos if i.node.name in names]
    if "states" in args:
        states = {s.lower() for s in split_list(args["states"])}
        infos = [i for i in infos if {*(name.rstrip("*") for name in state_names(i)), i.state.value.lower()} & states]
    is_nodes = "Node" in args
    if "format" in args:
        fmt = args["format"]
    elif "list_reasons" in args:
        fmt = REASON_FORMAT
    elif "summarize" in args:
        fmt = SUMMARY_FORMAT
    elif is_nodes:
        fmt = NODE_LONG_FORMAT if "long" in args else NODE_FORMAT
    else:
        fmt = LONG_FORMAT if "long" in args else DEFAULT_FORMAT
    part_width = max([9] + [len(p.name) + int(p.is_default) for p in partitions])
    node_width = max([9] + [len(i.node.name) for i in infos]) if is_nodes else 0
    fmt = fmt.replace("%#P", f"%{part_width}P" if not is_nodes else f"%.{part_width}P")
    fmt = fmt.replace("%#N", f"%{node_width}N")
    parts = [_known_or_literal(part) for part in layout.parse_format(fmt)]
    if "list_reasons" in args and "format" not in args:
        rows = _reason_rows(infos)
    else:
        rows = _rows(parts, partitions, infos, per_node=is_nodes)
        if is_nodes:
            order = {i.node.name: n for n, i in enumerate(infos)}
            rows.sort(key=lambda r: order.get(r["N"], 0))
    out = []
    if "long" in args:
        out.append(time.strftime("%a %b %d %H:%M:%S %Y"))
    if "noheader" not in args:
        out.append(layout.render(parts, HEADERS))
    out.extend(layout.render(parts, row) for row in rows)
    print("\n".join(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sinfo, argv)


if __name__ == "__main__":
    sys.exit(main())
