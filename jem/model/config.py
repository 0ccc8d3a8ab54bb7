"""The controller's configuration: one frozen dataclass tree loaded from jem.toml.

Validated once at load; an error names the key, the value and what was
expected. Units are in the key names (`_s` seconds, `_mib` MiB); time limits
accept Slurm's forms ("1:00:00", "UNLIMITED").
"""

import ipaddress
import tomllib
from dataclasses import dataclass, field
from typing import Any

import hostlist

from jem.model import defaults
from jem.model.errors import ConfigError, InvalidFeature, InvalidSetting
from jem.model.features import check_feature_names
from jem.model.gres import check_gpu_type
from jem.model.identity import AdminLevel
from jem.model.limits import InputLimits
from jem.model.notification import MailConfig, WebhookConfig
from jem.model.partition import Partition
from jem.model.resources import Resources
from jem.model.settings import parse_association_settings, parse_qos_settings
from jem.model.units import parse_mem_mib, parse_time_limit


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str = defaults.CLUSTER_NAME
    listen: str = defaults.CONTROLLER_LISTEN
    node_listen: str = ""                    # agents' port (mutual TLS); "" means listen's host, port + 1
    state_dir: str = ""                      # "" means defaults.state_dir()
    dynamic_nodes: bool = False              # accept agents not listed under [[nodes]]
    requeue_on_node_failure: bool = True     # Slurm's JobRequeue=1
    private_data: tuple[str, ...] = ()       # Slurm's PrivateData: what ordinary users see only of their own
    audit_keep_days: int = 365               # how long the store keeps audit records (`jem audit`)

    def is_private(self, what: str) -> bool:
        """Whether `what` (one of PRIVATE_DATA_CLASSES) is shown to ordinary users only for themselves."""
        return what in self.private_data


# Slurm's PrivateData classes JEM knows: jobs (job and step listings, GetJob, watch streams,
# accounting), usage (fair-share usage and shares), users, accounts, reservations, events.
PRIVATE_DATA_CLASSES = ("accounts", "events", "jobs", "reservations", "usage", "users")


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """[auth]: how callers are authenticated (see docs/security.md)."""

    security_dir: str = ""                   # keys and certificates; "" means <state_dir>/security
    run_dir: str = ""                        # the built-in credential service's socket dir; "" : see server.run_dir
    serve_authd: bool = True                 # run a credential service for this host in the controller
    token_lifetime_s: float = defaults.TOKEN_LIFETIME_S
    api_token_lifetime_s: int = defaults.API_TOKEN_LIFETIME_S
    job_signature_lifetime_s: float = defaults.JOB_SIGNATURE_LIFETIME_S   # how long a signed job may pend
    cron_signature_lifetime_s: float = defaults.CRON_SIGNATURE_LIFETIME_S   # how long a scrontab entry runs
    method: str = defaults.AUTH_METHOD       # what users' clients present: "jem" (credential service) or "munge"
    munge_socket: str = ""                   # munged's socket; "" means libmunge's default
    jwks_file: str = ""                      # public keys of an external JWT issuer (JWKS JSON); "" : none
    jwt_audience: str = ""                   # the `aud` external JWTs must carry (required with jwks_file)
    jwt_user_claim: str = "sub"              # the claim of an external JWT that names the user
    jwt_issuer: str = ""                     # the `iss` external JWTs must carry; "" : not checked


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    interval_s: float = defaults.SCHEDULER_INTERVAL_S
    min_gap_s: float = defaults.SCHEDULER_MIN_GAP_S
    kill_wait_s: int = defaults.KILL_WAIT_S
    min_job_age_s: float = defaults.MIN_JOB_AGE_S
    heartbeat_interval_s: float = defaults.HEARTBEAT_INTERVAL_S
    node_timeout_s: float = defaults.NODE_TIMEOUT_S
    node_dead_timeout_s: float = defaults.NODE_DEAD_TIMEOUT_S   # silent this long: its jobs are settled
    launch_grace_s: float = defaults.LAUNCH_GRACE_S
    max_job_count: int = defaults.MAX_JOB_COUNT
    max_array_size: int = defaults.MAX_ARRAY_SIZE        # tasks in one job array, at most
    kill_invalid_depend: bool = False                    # end jobs whose dependency can never be met
    policy: str = defaults.SCHEDULER_POLICY              # "fcfs", "easy" or "conservative"
    reservation_depth: int = defaults.RESERVATION_DEPTH  # jobs holding a reservation under "easy"
    estimate_depth: int = defaults.ESTIMATE_DEPTH        # waiting jobs (in priority order) given an estimated start
    estimate_budget_ms: int = defaults.ESTIMATE_BUDGET_MS  # time the estimates may take; the rest are forecast
    preempt_type: str = "none"                           # Slurm's PreemptType: "none", "qos", "partition_prio"
    preempt_mode: str = "cancel"                         # the cluster's PreemptMode: "off", "cancel", "requeue", "suspend"
    preempt_exempt_time: str = "0"                       # PreemptExemptTime (Slurm time forms)
    # PreemptParameters=send_user_signal: a victim killed by preemption first gets its --signal
    # (if it has one and it was not sent yet), in place of the SIGTERM that starts its grace time.
    preempt_send_user_signal: bool = defaults.PREEMPT_SEND_USER_SIGNAL

    @property
    def effective_depth(self) -> int:
        """Reservation depth of the policy: 0 for fcfs; for conservative, a depth no queue reaches."""
        return {"fcfs": 0, "easy": self.reservation_depth}.get(self.policy, CONSERVATIVE_DEPTH)


CONSERVATIVE_DEPTH = 1 << 40
SCHEDULER_POLICIES = ("fcfs", "easy", "conservative")


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    """Multifactor priority weights (Slurm's PriorityWeight*); all zero: submit order (priority = base - nice)."""

    weight_age: int = 0
    weight_fairshare: int = 0
    weight_job_size: int = 0
    weight_partition: int = 0
    weight_qos: int = 0
    max_age_s: int = defaults.PRIORITY_MAX_AGE_S

    @property
    def is_multifactor(self) -> bool:
        return any((self.weight_age, self.weight_fairshare, self.weight_job_size, self.weight_partition,
                    self.weight_qos))


@dataclass(frozen=True, slots=True)
class FairshareConfig:
    algorithm: str = defaults.FAIRSHARE_ALGORITHM    # "fair_tree" or "classic"
    half_life_s: int = defaults.FAIRSHARE_HALF_LIFE_S


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """An account of the fair-share tree: `shares` under `parent` ("root" at the top). In the
    controller's config it also seeds the accounting table (jem.controller.accounting): its
    sacctmgr `settings` (limits, QOS, ...) and the `users` given an association in it."""

    name: str
    shares: int = defaults.ACCOUNT_SHARES
    parent: str = "root"
    settings: tuple[str, ...] = ()      # sacctmgr's Name=Value (jem.model.settings), checked at load
    users: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QosConfig:
    """A quality of service: its priority feeds the QOS factor (priority / the largest one);
    `settings` (sacctmgr's Name=Value) seed its limits and flags."""

    name: str
    priority: int = 0
    settings: tuple[str, ...] = ()


ENFORCE_WORDS = ("associations", "limits", "qos")


@dataclass(frozen=True, slots=True)
class AccountingConfig:
    """Slurm's AccountingStorageEnforce: `associations` refuses a job whose user has no association
    with its account; `limits` applies the associations' and QOS' limits; `qos` refuses a QOS
    the job's association may not use."""

    enforce: tuple[str, ...] = ("limits", "qos")

    def enforces(self, word: str) -> bool:
        return word in self.enforce


DEFAULT_QOS = QosConfig("normal", 0)


@dataclass(frozen=True, slots=True)
class UserConfig:
    """A [[users]] entry: what the cluster says of a user beyond their Unix account."""

    name: str
    admin_level: AdminLevel = AdminLevel.NONE   # Slurm's AdminLevel: "none", "operator", "administrator"


@dataclass(frozen=True, slots=True)
class StoreConfig:
    synchronous: str = defaults.STORE_SYNCHRONOUS


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    capacity: Resources
    features: tuple[str, ...] = ()           # what -C may ask for
    gres: tuple[tuple[str, int], ...] = ()   # further countable resources (name, count), names sorted
    gpu_type: str = ""                       # its GPUs' type (gres.conf Type=); "": untyped


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """[metrics]: the controller's OpenMetrics endpoint (jem.controller.metrics), off unless `listen` is set.
    A scrape carries a `jem token` JWT (authorization: Bearer), unless `anonymous` lets callers without
    one see what an ordinary user sees."""

    listen: str = ""                # host:port; "": no endpoint. Off loopback: needs the controller's certificate
    anonymous: bool = False         # serve callers with no token (what a user sees: the privacy settings hold)


@dataclass(frozen=True, slots=True)
class Config:
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    nodes: tuple[NodeConfig, ...] = ()
    partitions: tuple[Partition, ...] = ()
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    fairshare: FairshareConfig = field(default_factory=FairshareConfig)
    accounts: tuple[AccountConfig, ...] = ()
    qos: tuple[QosConfig, ...] = (DEFAULT_QOS,)   # always holds "normal"
    limits: InputLimits = field(default_factory=InputLimits)
    users: tuple[UserConfig, ...] = ()
    accounting: AccountingConfig = field(default_factory=AccountingConfig)
    root_settings: tuple[str, ...] = ()   # an [[accounts]] entry named "root": settings of the tree's top
    mail: MailConfig = field(default_factory=MailConfig)            # job mail (MailProg, MailDomain)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)   # job events to a site's URL
    metrics: MetricsConfig = field(default_factory=MetricsConfig)   # the OpenMetrics endpoint

    def admin_levels(self) -> dict[str, AdminLevel]:
        """user name -> AdminLevel, for the users that have one."""
        return {u.name: u.admin_level for u in self.users if u.admin_level is not AdminLevel.NONE}

    def qos_named(self, name: str) -> QosConfig | None:
        """The QOS called `name` ("" is the default, "normal"), or None."""
        return next((q for q in self.qos if q.name == (name or DEFAULT_QOS.name)), None)

    @property
    def default_partition(self) -> Partition | None:
        for partition in self.partitions:
            if partition.is_default:
                return partition
        return self.partitions[0] if self.partitions else None


def load_config(path: str) -> Config:
    """Read and validate a jem.toml; ConfigError names the offending key."""
    raw = read_toml(path)
    try:
        return parse_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.detail}") from None


def read_toml(path: str) -> dict[str, Any]:
    """The parsed TOML file `path`; ConfigError naming the file if it cannot be read or parsed."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_config(raw: dict[str, Any]) -> Config:
    """Build a Config from parsed TOML; see load_config."""
    _reject_unknown("", raw, {"cluster", "scheduler", "store", "nodes", "partitions", "priority", "fairshare",
                              "accounts", "qos", "auth", "limits", "users", "accounting", "mail", "webhook",
                              "metrics", "sim"})   # ([sim]: jem sim's own, read by jem.scheduler.sim_config; ignored here)
    cluster = _section(ClusterConfig, "cluster", raw.get("cluster", {}))
    for what in cluster.private_data:
        if what not in PRIVATE_DATA_CLASSES:
            raise ConfigError(f"cluster.private_data: expected some of {', '.join(PRIVATE_DATA_CLASSES)}, "
                              f"got {what!r}")
    _check_listen("cluster.listen", cluster.listen)
    if cluster.node_listen:
        _check_listen("cluster.node_listen", cluster.node_listen)
    auth = _section(AuthConfig, "auth", raw.get("auth", {}))
    if not 1 <= auth.token_lifetime_s <= 3600:
        raise ConfigError(f"auth.token_lifetime_s: expected 1 to 3600 seconds, got {auth.token_lifetime_s}")
    if auth.job_signature_lifetime_s < 60:
        raise ConfigError(f"auth.job_signature_lifetime_s: expected at least 60 seconds, "
                          f"got {auth.job_signature_lifetime_s}")
    if auth.cron_signature_lifetime_s < 60:   # (under a minute, no entry could ever run: cron's unit is the minute)
        raise ConfigError(f"auth.cron_signature_lifetime_s: expected at least 60 seconds, "
                          f"got {auth.cron_signature_lifetime_s}")
    _check_auth(auth)
    scheduler = _section(SchedulerConfig, "scheduler", raw.get("scheduler", {}))
    store = _section(StoreConfig, "store", raw.get("store", {}))
    if scheduler.max_array_size < 1:
        raise ConfigError(f"scheduler.max_array_size: expected a positive number of tasks, got {scheduler.max_array_size}")
    if scheduler.node_dead_timeout_s < scheduler.node_timeout_s:
        raise ConfigError(f"scheduler.node_dead_timeout_s: expected at least node_timeout_s "
                          f"({scheduler.node_timeout_s}), got {scheduler.node_dead_timeout_s}")
    for key in ("interval_s", "heartbeat_interval_s", "node_timeout_s"):
        if getattr(scheduler, key) <= 0:
            raise ConfigError(f"scheduler.{key}: expected a positive number of seconds, got {getattr(scheduler, key)}")
    if scheduler.preempt_type not in ("none", "qos", "partition_prio"):
        raise ConfigError(f"scheduler.preempt_type: expected none, qos or partition_prio, got {scheduler.preempt_type!r}")
    if scheduler.preempt_mode not in ("off", "cancel", "requeue", "suspend"):
        raise ConfigError(f"scheduler.preempt_mode: expected off, cancel, requeue or suspend, "
                          f"got {scheduler.preempt_mode!r}")
    _time("scheduler.preempt_exempt_time", scheduler.preempt_exempt_time)
    if scheduler.policy not in SCHEDULER_POLICIES:
        raise ConfigError(f"scheduler.policy: expected one of {', '.join(SCHEDULER_POLICIES)}, "
                          f"got {scheduler.policy!r}")
    if store.synchronous not in ("normal", "full"):
        raise ConfigError(f"store.synchronous: expected 'normal' or 'full', got {store.synchronous!r}")
    limits = _section(InputLimits, "limits", raw.get("limits", {}))
    mail = _section(MailConfig, "mail", raw.get("mail", {}))
    webhook = _section(WebhookConfig, "webhook", raw.get("webhook", {}))
    for name, checked in (("limits", limits), ("mail", mail), ("webhook", webhook)):
        try:
            checked.check()
        except ValueError as exc:
            raise ConfigError(f"{name}.{exc}") from None
    metrics = _section(MetricsConfig, "metrics", raw.get("metrics", {}))
    if metrics.listen:
        _check_listen("metrics.listen", metrics.listen)
    nodes = _nodes(raw.get("nodes", []))
    node_names = [n.name for n in nodes]
    partitions = tuple(_partition(i, p, node_names) for i, p in enumerate(raw.get("partitions", [])))
    names = [p.name for p in partitions]
    if len(set(names)) != len(names):
        raise ConfigError(f"partitions: duplicate partition name in {names}")
    if sum(p.is_default for p in partitions) > 1:
        raise ConfigError("partitions: more than one partition has default = true")
    accounts = _accounts(raw.get("accounts", []))
    root = [a for a in accounts if a.name == "root"]
    return Config(cluster=cluster, scheduler=scheduler, store=store, auth=auth, nodes=nodes, partitions=partitions,
                  priority=_priority(raw.get("priority", {})), fairshare=_fairshare(raw.get("fairshare", {})),
                  accounts=tuple(a for a in accounts if a.name != "root"), qos=_qos(raw.get("qos", [])),
                  limits=limits, users=_users(raw.get("users", [])), accounting=_accounting(raw.get("accounting", {})),
                  root_settings=root[0].settings if root else (), mail=mail, webhook=webhook, metrics=metrics)


AUTH_METHODS = ("jem", "munge")


def _check_auth(auth: AuthConfig) -> None:
    if auth.method not in AUTH_METHODS:
        raise ConfigError(f"auth.method: expected one of {', '.join(AUTH_METHODS)}, got {auth.method!r}")
    if auth.jwks_file and not auth.jwt_audience:
        raise ConfigError("auth.jwt_audience: required with auth.jwks_file (the audience external JWTs are for)")
    if not auth.jwt_user_claim:
        raise ConfigError("auth.jwt_user_claim: expected a claim name, got ''")


def is_loopback_listen(listen: str) -> bool:
    """Whether host:port names a loopback address (127.0.0.0/8, ::1, localhost)."""
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def node_listen_of(cluster: ClusterConfig) -> str:
    """Where the controller serves its agents: `node_listen`, else `listen`'s host on the next port
    (port 0, any free port, stays 0)."""
    if cluster.node_listen:
        return cluster.node_listen
    host, _, port = cluster.listen.rpartition(":")
    return f"{host}:{int(port) + 1 if int(port) else 0}"


def _check_listen(key: str, listen: str) -> None:
    """A listen address is HOST:PORT (the default is loopback; off loopback the controller
    refuses to start without its TLS certificate: `Controller.start`)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{key}: expected HOST:PORT, got {listen!r}")


def _durations(name: str, table: Any, keys: dict[str, str]) -> dict[str, Any]:
    """Copy `table`, parsing each Slurm time under `keys` (TOML key -> field name) into seconds."""
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: expected a table, got {table!r}")
    values = dict(table)
    for key, field_name in keys.items():
        if key in values:
            seconds = _time(f"{name}.{key}", values.pop(key))
            if not seconds:
                raise ConfigError(f"{name}.{key}: expected a positive time such as '7-0', got {table[key]!r}")
            values[field_name] = seconds
    return values


def _priority(table: Any) -> PriorityConfig:
    values = _durations("priority", table, {"max_age": "max_age_s"})
    if "max_age_s" in table:
        raise ConfigError("priority.max_age_s: unknown key (write max_age = \"7-0\")")
    return _section(PriorityConfig, "priority", values)


def _fairshare(table: Any) -> FairshareConfig:
    values = _durations("fairshare", table, {"half_life": "half_life_s"})
    if "half_life_s" in table:
        raise ConfigError("fairshare.half_life_s: unknown key (write half_life = \"7-0\")")
    fairshare = _section(FairshareConfig, "fairshare", values)
    if fairshare.algorithm not in ("fair_tree", "classic"):
        raise ConfigError(f"fairshare.algorithm: expected 'fair_tree' or 'classic', got {fairshare.algorithm!r}")
    return fairshare


def _named_tables(section: str, entries: Any, known: set[str] | None) -> list[tuple[str, dict]]:
    """(where, table) of each [[section]] entry: a table with a unique name and only `known` keys
    (None: any key; the caller checks them)."""
    if not isinstance(entries, list):
        raise ConfigError(f"{section}: expected an array of tables ([[{section}]])")
    result = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigError(f"{section}[{i}]: expected a table with a name")
        where = f"{section}[{entry['name']}]"
        if known is not None:
            _reject_unknown(f"{where}.", entry, known)
        result.append((where, entry))
    names = [entry["name"] for _, entry in result]
    if len(set(names)) != len(names):
        raise ConfigError(f"{section}: duplicate name in {names}")
    return result


def _accounts(entries: Any) -> tuple[AccountConfig, ...]:
    """[[accounts]]: name, shares, parent, users, and any sacctmgr setting of an account in snake
    case (`grp_tres = "cpu=8"`, `max_jobs = 4`, `qos = ["normal", "high"]`). An entry named
    "root" sets the top of the tree (settings only)."""
    result = []
    for where, entry in _named_tables("accounts", entries, None):
        settings = _settings(where, entry, {"name", "shares", "parent", "users"}, parse_association_settings)
        if entry["name"] == "root" and ({"shares", "parent", "users"} & set(entry)):
            raise ConfigError(f"{where}: root is the top of the tree: it takes settings only")
        users = entry.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            raise ConfigError(f"{where}.users: expected a list of user names")
        result.append(AccountConfig(
            name=entry["name"], shares=_typed(f"{where}.shares", entry.get("shares", defaults.ACCOUNT_SHARES), int),
            parent=_typed(f"{where}.parent", entry.get("parent", "root"), str), settings=settings,
            users=tuple(users)))
    names = [a.name for a in result]
    for account in result:
        if account.parent != "root" and account.parent not in names:
            raise ConfigError(f"accounts[{account.name}].parent: no account named {account.parent!r}")
    return tuple(result)


def _settings(where: str, entry: dict, own_keys: set[str], parse) -> tuple[str, ...]:
    """The entry's keys beyond `own_keys` as sacctmgr settings (`max_jobs = 4` -> "maxjobs=4"),
    checked with `parse` (jem.model.settings); ConfigError names a bad key."""
    settings = []
    for key, value in entry.items():
        if key in own_keys:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigError(f"{where}.{key}: expected a string, a number or a list, got {value!r}")
        setting = f"{key.replace('_', '')}={value}"
        try:
            parse([setting])
        except InvalidSetting as exc:
            raise ConfigError(f"{where}.{key}: {exc}") from None
        settings.append(setting)
    return tuple(settings)


def _accounting(table: Any) -> AccountingConfig:
    accounting = _section(AccountingConfig, "accounting", table)
    enforce = tuple(accounting.enforce) if isinstance(accounting.enforce, (list, tuple)) else None
    if enforce is None or any(word not in ENFORCE_WORDS for word in enforce):
        raise ConfigError(f"accounting.enforce: expected a list of {', '.join(ENFORCE_WORDS)}, "
                          f"got {accounting.enforce!r}")
    return AccountingConfig(enforce=enforce)


def _users(entries: Any) -> tuple[UserConfig, ...]:
    result = []
    for where, entry in _named_tables("users", entries, {"name", "admin_level"}):
        level = _typed(f"{where}.admin_level", entry.get("admin_level", "none"), str)
        try:
            admin_level = AdminLevel[level.upper()]
        except KeyError:
            raise ConfigError(f"{where}.admin_level: expected none, operator or administrator, got {level!r}") from None
        result.append(UserConfig(entry["name"], admin_level))
    names = [u.name for u in result]
    if len(set(names)) != len(names):
        raise ConfigError(f"users: a user is listed twice in {names}")
    return tuple(result)


def _qos(entries: Any) -> tuple[QosConfig, ...]:
    """[[qos]] entries (name, priority, and any sacctmgr setting of a QOS in snake case:
    `max_jobs_per_user = 2`, `flags = ["DenyOnLimit"]`); "normal" with priority 0 is added
    unless listed."""
    result = [QosConfig(entry["name"], _typed(f"{where}.priority", entry.get("priority", 0), int),
                        settings=_settings(where, entry, {"name", "priority"}, parse_qos_settings))
              for where, entry in _named_tables("qos", entries, None)]
    if DEFAULT_QOS.name not in [q.name for q in result]:
        result.insert(0, DEFAULT_QOS)
    return tuple(result)


def _reject_unknown(where: str, table: dict, known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}{key}: unknown key (expected one of {', '.join(sorted(known))})")


def _section(cls, name: str, table: Any):
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: expected a table, got {table!r}")
    known = {f for f in cls.__dataclass_fields__}
    _reject_unknown(f"{name}.", table, known)
    values = {}
    for key, value in table.items():
        default = getattr(cls(), key)
        values[key] = _typed(f"{name}.{key}", value, type(default))
    return cls(**values)


def _typed(key: str, value: Any, expected: type) -> Any:
    if expected is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if expected in (int, float):
        unit = " (seconds)" if key.endswith("_s") else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{key}: expected a non-negative number{unit}, got {value!r}")
        if expected is int and value != int(value):
            raise ConfigError(f"{key}: expected a whole number{unit}, got {value!r}")
        return expected(value)
    if expected is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _nodes(entries: Any) -> tuple[NodeConfig, ...]:
    if not isinstance(entries, list):
        raise ConfigError("nodes: expected an array of tables ([[nodes]])")
    result: list[NodeConfig] = []
    for i, entry in enumerate(entries):
        where = f"nodes[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a table, got {entry!r}")
        _reject_unknown(f"{where}.", entry,
                        {"names", "cpus", "mem_mib", "mem", "gpus", "gpu_type", "features", "gres"})
        names = _expand(f"{where}.names", entry.get("names"))
        cpus = _typed(f"{where}.cpus", entry.get("cpus", 1), int)
        if cpus < 1:
            raise ConfigError(f"{where}.cpus: expected at least 1 CPU, got {cpus}")
        if "mem" in entry:
            try:
                mem = parse_mem_mib(str(entry["mem"]))
            except ValueError as exc:
                raise ConfigError(f"{where}.mem: {exc}") from None
        else:
            mem = _typed(f"{where}.mem_mib", entry.get("mem_mib", 1024), int)
        gpus = _typed(f"{where}.gpus", entry.get("gpus", 0), int)
        gpu_type = _node_gpu_type(where, entry.get("gpu_type", ""), gpus)
        features, gres = _node_features(where, entry.get("features", [])), _node_gres(where, entry.get("gres", {}))
        result.extend(NodeConfig(name, Resources(cpus, mem, gpus), features, gres, gpu_type) for name in names)
    seen = [n.name for n in result]
    if len(set(seen)) != len(seen):
        raise ConfigError("nodes: a node name is listed twice")
    return tuple(result)


def _name_list(key: str, value: Any) -> tuple[str, ...]:
    """A list of names, or one comma-separated string of them (Slurm's AllowAccounts=a,b)."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v and v.strip() == v for v in value):
        raise ConfigError(f"{key}: expected a list of names, got {value!r}")
    return tuple(value)


def _positive(key: str, value: Any) -> int:
    number = _typed(key, value, int)
    if number < 1:
        raise ConfigError(f"{key}: expected a positive number, got {number}")
    return number


def _names(key: str, names: Any) -> tuple[str, ...]:
    try:
        return check_feature_names(names, key)
    except InvalidFeature as exc:
        raise ConfigError(exc.detail) from None


def _node_features(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}.features: expected a list of names such as [\"intel\", \"ib\"], got {value!r}")
    return _names(f"{where}.features", value)


def _node_gpu_type(where: str, value: Any, gpus: int) -> str:
    """`gpu_type = "a100"`: one type for all of the entry's GPUs, so the entry must have some."""
    gpu_type = _typed(f"{where}.gpu_type", value, str)
    if not gpu_type:
        return ""
    if gpus < 1:
        raise ConfigError(f"{where}.gpu_type: {gpu_type!r} given to nodes without GPUs ({where}.gpus = {gpus})")
    try:
        return check_gpu_type(gpu_type)
    except ValueError as exc:
        raise ConfigError(f"{where}.gpu_type: {exc}") from None


def _node_gres(where: str, value: Any) -> tuple[tuple[str, int], ...]:
    """`gres = {nvme = 2}`: names other than gpu (which has its own key), whole counts."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.gres: expected a table such as {{nvme = 2}}, got {value!r}")
    if "gpu" in value:
        raise ConfigError(f"{where}.gres.gpu: GPUs are counted by {where}.gpus")
    _names(f"{where}.gres", value)
    return tuple(sorted((name, _typed(f"{where}.gres.{name}", count, int)) for name, count in value.items()))


def _expand(key: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a node list such as 'n[01-04]', got {value!r}")
    try:
        return hostlist.expand_hostlist(value)
    except hostlist.BadHostlist as exc:
        raise ConfigError(f"{key}: bad node list {value!r}: {exc}") from None


def _time(key: str, value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value == -1:
            return None  # as the string "-1": UNLIMITED
        if value < 0:
            raise ConfigError(f"{key}: expected minutes (a non-negative number) or a Slurm time, got {value}")
        return value * 60 or None  # a bare number is minutes, as in slurm.conf
    try:
        return parse_time_limit(str(value))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _partition(i: int, entry: Any, node_names: list[str]) -> Partition:
    where = f"partitions[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    _reject_unknown(f"{where}.", entry, {"name", "nodes", "default", "state", "max_time", "default_time",
                                         "default_mem_per_cpu_mib", "priority_tier", "max_nodes",
                                         "allow_accounts", "allow_qos", "allow_groups", "qos"})
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: expected a partition name, got {name!r}")
    where = f"partitions[{name}]"
    nodes_value = entry.get("nodes", "ALL")
    members = list(node_names) if nodes_value == "ALL" else _expand(f"{where}.nodes", nodes_value)
    unknown = [n for n in members if n not in node_names]
    if unknown and node_names:
        raise ConfigError(f"{where}.nodes: {', '.join(unknown)} not listed under [[nodes]]")
    state = entry.get("state", "UP")
    if state not in ("UP", "DOWN"):
        raise ConfigError(f"{where}.state: expected 'UP' or 'DOWN', got {state!r}")
    mem = entry.get("default_mem_per_cpu_mib")
    max_time = _time(f"{where}.max_time", entry.get("max_time", "UNLIMITED"))
    default_time = _time(f"{where}.default_time", entry["default_time"]) if "default_time" in entry else None
    partition = Partition(
        name=name,
        node_names=tuple(members),
        is_default=_typed(f"{where}.default", entry.get("default", False), bool),
        is_up=state == "UP",
        max_time_s=max_time,
        default_time_s=default_time,
        default_mem_per_cpu_mib=None if mem is None else _typed(f"{where}.default_mem_per_cpu_mib", mem, int),
        priority_tier=_typed(f"{where}.priority_tier", entry.get("priority_tier", 1), int),
        has_all_nodes=nodes_value == "ALL",
        max_nodes=_positive(f"{where}.max_nodes", entry["max_nodes"]) if "max_nodes" in entry else None,
        allow_accounts=_name_list(f"{where}.allow_accounts", entry.get("allow_accounts", [])),
        allow_qos=_name_list(f"{where}.allow_qos", entry.get("allow_qos", [])),
        allow_groups=_name_list(f"{where}.allow_groups", entry.get("allow_groups", [])),
        qos=_typed(f"{where}.qos", entry.get("qos", ""), str),
    )
    if "default_time" in entry and not partition.allows_time_limit(default_time):
        raise ConfigError(f"{where}.default_time: longer than max_time")
    return partition
