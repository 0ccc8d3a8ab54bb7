"""The jem.toml of a local cluster (`jem up`): its own tables, and a site file's (`jem up --config FILE`).

`jem up` writes [cluster] (free loopback ports, the state dir), [auth] (the run
dir every user reaches; munge), a [scheduler] quick enough for one machine, one
[[nodes]] entry from --nodes/--cpus-per-node/... and a partition "debug" of all
of them. A site file adds its own tables to those: its [[nodes]] and
[[partitions]] replace jem up's, its [cluster], [auth], [scheduler] and [store]
keys override jem up's (but for the addresses, directories and credentials,
OWN_KEYS, which jem up sets: a file that sets one is refused), and every other
table ([[qos]], [[accounts]], [[users]], [priority], [fairshare], [limits],
[accounting], [sim]) is taken as it is. With a site file the merged
configuration is written out again as TOML (`toml_text`).
"""

import datetime
import hashlib
import json
import os
import re
import socket
import tomllib
from typing import Any

from jem.model.config import read_toml
from jem.model.errors import ConfigError

MERGED_TABLES = ("cluster", "auth", "scheduler", "store", "metrics")   # a site file's keys over jem up's
OWN_KEYS = {"cluster": ("listen", "node_listen", "state_dir"), "metrics": ("listen",),   # jem up's alone
            "auth": ("run_dir", "method", "munge_socket", "security_dir")}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def free_port() -> int:
    """A TCP port free on loopback now; written into the config so that a restarted
    controller comes back on the same address its agents know."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_dirs(state_dir: str) -> tuple[str, str]:
    """(run dir, spool root) of a local cluster. The state dir is private (0700), so what every
    user must reach lies outside it: the credential service's socket and client.toml, and the
    job scripts. For root, in /run and /var/spool, one per cluster; for anyone else (a personal
    cluster, jobs run as that user only) inside the state dir."""
    if os.geteuid() != 0:
        return os.path.join(state_dir, "run"), os.path.join(state_dir, "spool")
    tag = hashlib.sha1(state_dir.encode()).hexdigest()[:8]
    return f"/run/jem-{tag}", f"/var/spool/jem/{tag}"


def munge_dir(state_dir: str) -> str:
    """The private munged's directory (socket, key, log): in the run dir, which every user can reach."""
    return os.path.join(shared_dirs(state_dir)[0], "munge")


def _auth_text(state_dir: str, auth: str) -> str:
    if auth != "munge":
        return ""
    from jem.security.munged import SOCKET_NAME as MUNGE_SOCKET_NAME

    return f'method = "munge"\nmunge_socket = "{os.path.join(munge_dir(state_dir), MUNGE_SOCKET_NAME)}"\n'


def config_text(state_dir: str, n_nodes: int, cpus: int, mem_mib: int, gpus: int, auth: str, *,
                site: dict[str, Any] | None = None, site_path: str = "") -> str:
    """The cluster's jem.toml: jem up's own; with `site` (read_site's), merged with the site's tables."""
    own = f"""# Written by `jem up`.
[cluster]
name = "local"
listen = "127.0.0.1:{free_port()}"
node_listen = "127.0.0.1:{free_port()}"
state_dir = "{state_dir}"

[auth]
run_dir = "{shared_dirs(state_dir)[0]}"
{_auth_text(state_dir, auth)}
[scheduler]
interval_s = 1.0
heartbeat_interval_s = 2
node_timeout_s = 10
node_dead_timeout_s = 100
kill_wait_s = 5

[metrics]
listen = "127.0.0.1:{free_port()}"

[[nodes]]
names = "n[1-{n_nodes}]"
cpus = {cpus}
mem_mib = {mem_mib}
gpus = {gpus}

[[partitions]]
name = "debug"
nodes = "ALL"
default = true
"""
    if site is None:
        return own
    merged = tomllib.loads(own)
    for key, value in site.items():
        if key in MERGED_TABLES:
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value   # (nodes and partitions: the site's replace jem up's)
    header = f"Written by `jem up --config {site_path}`: jem up's tables, and the file's over them."
    return toml_text(merged, header=header)


def read_site(path: str) -> dict[str, Any]:
    """The tables of the site file at `path`; ConfigError if it cannot be read or sets a table jem up writes."""
    try:
        site = read_toml(path)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") \
            from None
    for table in MERGED_TABLES:
        if not isinstance(site.get(table, {}), dict):
            raise ConfigError(f"{path}: {table}: expected a table")
    own = [f"{table}.{key}" for table, keys in OWN_KEYS.items() for key in keys if key in site.get(table, {})]
    if own:
        raise ConfigError(f"{path}: {', '.join(own)}: jem up sets these itself (the cluster's addresses, "
                          f"directories and credentials: --state-dir, --auth); take them out of the file")
    return site


def toml_text(doc: dict[str, Any], *, header: str = "") -> str:
    """`doc` (as tomllib gives it) as TOML: its scalars, then a [table] per table and a [[table]]
    per entry of an array of tables; anything deeper is written inline."""
    lines = [f"# {header}"] if header else []
    tables = {k: v for k, v in doc.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(e, dict) for e in v)}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if k not in tables and k not in arrays]
    for name, table in tables.items():
        lines += ["", f"[{_key(name)}]", *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]
    for name, entries in arrays.items():
        for entry in entries:
            lines += ["", f"[[{_key(name)}]]", *(f"{_key(k)} = {_value(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's string escapes are TOML's basic string's, but for DEL, which TOML wants escaped too
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)   # (1.0, 1e-05, inf, nan: TOML's spelling too)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")
