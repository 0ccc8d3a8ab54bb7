"""jem.model.config: parse_config / load_config, and that every error names its key."""

import pytest

from jem.model import defaults
from jem.model.config import Config, load_config, parse_config
from jem.model.errors import ConfigError
from jem.model.resources import Resources


def config_error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return info.value.detail


NODES = [{"names": "n[1-4]", "cpus": 8, "mem_mib": 16384}]


# ---------------------------------------------------------------- defaults and sections

def test_empty_config_gives_the_defaults():
    config = parse_config({})
    assert config == Config()
    assert config.cluster.name == defaults.CLUSTER_NAME
    assert config.cluster.listen == defaults.CONTROLLER_LISTEN
    assert config.scheduler.interval_s == defaults.SCHEDULER_INTERVAL_S
    assert config.scheduler.kill_wait_s == defaults.KILL_WAIT_S
    assert config.store.synchronous == defaults.STORE_SYNCHRONOUS
    assert config.nodes == () and config.partitions == ()
    assert config.default_partition is None


def test_sections_are_read():
    config = parse_config({
        "cluster": {"name": "lab", "listen": "127.0.0.1:9000", "state_dir": "/var/jem", "dynamic_nodes": True,
                    "requeue_on_node_failure": False},
        "scheduler": {"interval_s": 2, "kill_wait_s": 5, "node_timeout_s": 12.5, "max_job_count": 10},
        "store": {"synchronous": "full"},
    })
    assert config.cluster.name == "lab" and config.cluster.listen == "127.0.0.1:9000"
    assert config.cluster.state_dir == "/var/jem"
    assert config.cluster.dynamic_nodes is True and config.cluster.requeue_on_node_failure is False
    assert config.scheduler.interval_s == 2.0 and isinstance(config.scheduler.interval_s, float)
    assert config.scheduler.kill_wait_s == 5 and isinstance(config.scheduler.kill_wait_s, int)
    assert config.scheduler.node_timeout_s == 12.5
    assert config.scheduler.max_job_count == 10
    assert config.store.synchronous == "full"


def test_config_is_frozen():
    config = parse_config({})
    with pytest.raises(AttributeError):
        config.cluster = None  # type: ignore[misc]


# ---------------------------------------------------------------- unknown keys

@pytest.mark.parametrize("raw, key", [
    ({"clusters": {}}, "clusters"),
    ({"cluster": {"nmae": "x"}}, "cluster.nmae"),
    ({"scheduler": {"interval": 1}}, "scheduler.interval"),
    ({"store": {"path": "/x"}}, "store.path"),
    ({"nodes": [{"names": "n1", "cores": 4}]}, "nodes[0].cores"),
    ({"partitions": [{"name": "batch", "maxtime": 5}]}, "partitions[0].maxtime"),
])
def test_unknown_key_error_names_the_key(raw, key):
    detail = config_error(raw)
    assert detail.startswith(f"{key}: unknown key"), detail


def test_unknown_key_error_lists_the_known_keys():
    detail = config_error({"store": {"path": "/x"}})
    assert "synchronous" in detail


# ---------------------------------------------------------------- bad types

@pytest.mark.parametrize("raw, key, expected", [
    ({"cluster": {"dynamic_nodes": "yes"}}, "cluster.dynamic_nodes", "true or false"),
    ({"cluster": {"dynamic_nodes": 1}}, "cluster.dynamic_nodes", "true or false"),
    ({"cluster": {"name": 5}}, "cluster.name", "a string"),
    ({"scheduler": {"interval_s": "1s"}}, "scheduler.interval_s", "non-negative number (seconds)"),
    ({"scheduler": {"interval_s": True}}, "scheduler.interval_s", "non-negative number"),
    ({"scheduler": {"kill_wait_s": -1}}, "scheduler.kill_wait_s", "non-negative number"),
    ({"scheduler": {"kill_wait_s": 1.5}}, "scheduler.kill_wait_s", "whole number"),
    ({"scheduler": {"max_job_count": "many"}}, "scheduler.max_job_count", "non-negative number"),
    ({"store": {"synchronous": "off"}}, "store.synchronous", "'normal' or 'full'"),
    ({"cluster": 5}, "cluster", "a table"),
    ({"nodes": {"names": "n1"}}, "nodes", "array of tables"),
    ({"nodes": [{"cpus": 4}]}, "nodes[0].names", "node list"),
    ({"nodes": [{"names": ""}]}, "nodes[0].names", "node list"),
    ({"nodes": [{"names": "n[1-"}]}, "nodes[0].names", "bad node list"),
    ({"nodes": [{"names": "n1", "cpus": 0}]}, "nodes[0].cpus", "at least 1 CPU"),
    ({"nodes": [{"names": "n1", "cpus": "8"}]}, "nodes[0].cpus", "non-negative number"),
    ({"nodes": [{"names": "n1", "mem": "4X"}]}, "nodes[0].mem", "invalid memory size"),
    ({"nodes": [{"names": "n1", "mem_mib": -5}]}, "nodes[0].mem_mib", "non-negative number"),
    ({"nodes": [{"names": "n1", "gpus": 0.5}]}, "nodes[0].gpus", "whole number"),
    ({"partitions": ["batch"]}, "partitions[0]", "a table"),
    ({"partitions": [{"nodes": "ALL"}]}, "partitions[0].name", "partition name"),
    ({"partitions": [{"name": "b", "state": "up"}]}, "partitions[b].state", "'UP' or 'DOWN'"),
    ({"partitions": [{"name": "b", "default": "yes"}]}, "partitions[b].default", "true or false"),
    ({"partitions": [{"name": "b", "max_time": "forever"}]}, "partitions[b].max_time", "invalid time limit"),
    ({"partitions": [{"name": "b", "default_time": "1:xx"}]}, "partitions[b].default_time", "invalid time limit"),
    ({"partitions": [{"name": "b", "default_mem_per_cpu_mib": "1G"}]}, "partitions[b].default_mem_per_cpu_mib",
     "non-negative number"),
    ({"partitions": [{"name": "b", "priority_tier": -1}]}, "partitions[b].priority_tier", "non-negative number"),
])
def test_bad_value_error_names_the_key_and_what_was_expected(raw, key, expected):
    detail = config_error(raw)
    assert detail.startswith(f"{key}:"), detail
    assert expected in detail, detail


def test_error_shows_the_bad_value():
    assert "'1s'" in config_error({"scheduler": {"interval_s": "1s"}})


def test_config_error_is_reported_as_invalid_configuration():
    with pytest.raises(ConfigError) as info:
        parse_config({"clusters": {}})
    assert str(info.value).startswith("Invalid configuration: clusters:")
    assert info.value.grpc_code == "INVALID_ARGUMENT"


def test_node_entry_that_is_not_a_table_is_a_config_error():
    assert config_error({"nodes": [1]}).startswith("nodes[0]")


# ---------------------------------------------------------------- nodes

def test_node_list_expansion():
    config = parse_config({"nodes": [{"names": "n[1-4]", "cpus": 8, "mem_mib": 16384, "gpus": 2}]})
    assert [n.name for n in config.nodes] == ["n1", "n2", "n3", "n4"]
    assert all(n.capacity == Resources(8, 16384, 2) for n in config.nodes)


def test_node_list_with_zero_padding_and_commas():
    config = parse_config({"nodes": [{"names": "c[01-03,07]"}, {"names": "big,huge", "cpus": 64}]})
    assert [n.name for n in config.nodes] == ["c01", "c02", "c03", "c07", "big", "huge"]
    assert config.nodes[-1].capacity.cpus == 64


def test_node_defaults():
    (node,) = parse_config({"nodes": [{"names": "n1"}]}).nodes
    assert node.capacity == Resources(cpus=1, mem_mib=1024, gpus=0)


@pytest.mark.parametrize("mem, mib", [("4G", 4096), ("500", 500), ("1T", 1024 * 1024), (2048, 2048)])
def test_node_mem_accepts_slurm_sizes(mem, mib):
    (node,) = parse_config({"nodes": [{"names": "n1", "mem": mem}]}).nodes
    assert node.capacity.mem_mib == mib


def test_duplicate_node_names_are_rejected():
    detail = config_error({"nodes": [{"names": "n[1-3]"}, {"names": "n3"}]})
    assert detail.startswith("nodes:") and "twice" in detail


# ---------------------------------------------------------------- partitions

def test_partition_defaults_to_all_nodes():
    config = parse_config({"nodes": NODES, "partitions": [{"name": "batch"}]})
    (batch,) = config.partitions
    assert batch.node_names == ("n1", "n2", "n3", "n4")
    assert batch.has_all_nodes and batch.has_node("joined-later")
    assert batch.is_up and not batch.is_default
    assert batch.max_time_s is None and batch.default_time_s is None
    assert batch.default_mem_per_cpu_mib is None and batch.priority_tier == 1


def test_partition_explicit_all():
    (p,) = parse_config({"nodes": NODES, "partitions": [{"name": "p", "nodes": "ALL"}]}).partitions
    assert p.has_all_nodes and len(p.node_names) == 4


def test_partition_with_a_node_list():
    config = parse_config({"nodes": NODES, "partitions": [{"name": "debug", "nodes": "n[2-3]"}]})
    (debug,) = config.partitions
    assert debug.node_names == ("n2", "n3")
    assert not debug.has_all_nodes
    assert debug.has_node("n2") and not debug.has_node("n1") and not debug.has_node("joined-later")


def test_partition_naming_an_unlisted_node_is_rejected():
    detail = config_error({"nodes": NODES, "partitions": [{"name": "debug", "nodes": "n[4-5]"}]})
    assert detail.startswith("partitions[debug].nodes:") and "n5" in detail and "n4" not in detail.split(":")[1]


def test_partition_may_name_nodes_when_no_nodes_are_listed():
    # dynamic clusters list no [[nodes]]; partitions then name the nodes that will join
    (p,) = parse_config({"partitions": [{"name": "p", "nodes": "d[1-2]"}]}).partitions
    assert p.node_names == ("d1", "d2")


def test_duplicate_partitions_are_rejected():
    detail = config_error({"nodes": NODES, "partitions": [{"name": "batch"}, {"name": "debug"}, {"name": "batch"}]})
    assert detail.startswith("partitions:") and "duplicate" in detail and "batch" in detail


def test_two_default_partitions_are_rejected():
    detail = config_error({"partitions": [{"name": "a", "default": True}, {"name": "b", "default": True}]})
    assert detail.startswith("partitions:") and "default" in detail


def test_default_partition_is_the_marked_one():
    config = parse_config({"partitions": [{"name": "a"}, {"name": "b", "default": True}, {"name": "c"}]})
    assert config.default_partition.name == "b"
    assert [p.is_default for p in config.partitions] == [False, True, False]


def test_default_partition_falls_back_to_the_first():
    config = parse_config({"partitions": [{"name": "a"}, {"name": "b"}]})
    assert config.default_partition.name == "a"


def test_partition_state_down():
    (p,) = parse_config({"partitions": [{"name": "p", "state": "DOWN"}]}).partitions
    assert p.is_up is False


@pytest.mark.parametrize("value, seconds", [
    (60, 3600),                 # a bare number is minutes, as in slurm.conf
    ("60", 3600),
    ("1:00:00", 3600),
    ("2-00:00:00", 2 * 86400),
    ("UNLIMITED", None),
    (0, None),
])
def test_partition_max_time(value, seconds):
    (p,) = parse_config({"partitions": [{"name": "p", "max_time": value}]}).partitions
    assert p.max_time_s == seconds


def test_partition_default_time_and_memory():
    (p,) = parse_config({"partitions": [{"name": "p", "max_time": "4:00:00", "default_time": 30,
                                         "default_mem_per_cpu_mib": 2000, "priority_tier": 3}]}).partitions
    assert p.max_time_s == 4 * 3600
    assert p.default_time_s == 30 * 60
    assert p.default_mem_per_cpu_mib == 2000
    assert p.priority_tier == 3
    assert p.resolve_time_limit(None, is_unlimited=False) == 30 * 60
    assert p.allows_time_limit(4 * 3600) and not p.allows_time_limit(4 * 3600 + 1)
    assert not p.allows_time_limit(None)


def test_partition_without_default_time_uses_max_time():
    (p,) = parse_config({"partitions": [{"name": "p", "max_time": 90}]}).partitions
    assert p.resolve_time_limit(None, is_unlimited=False) == 90 * 60
    assert p.resolve_time_limit(600, is_unlimited=False) == 600
    assert p.resolve_time_limit(600, is_unlimited=True) is None


def test_integer_minus_one_max_time_is_unlimited_like_the_string():
    (p,) = parse_config({"partitions": [{"name": "p", "max_time": -1}]}).partitions
    assert p.max_time_s is None


# ---------------------------------------------------------------- load_config

def test_load_config_reads_toml(tmp_path):
    path = tmp_path / "jem.toml"
    path.write_text(
        '[cluster]\nname = "lab"\n\n'
        '[[nodes]]\nnames = "n[1-2]"\ncpus = 4\nmem = "8G"\n\n'
        '[[partitions]]\nname = "batch"\ndefault = true\nmax_time = "1-00:00:00"\n'
    )
    config = load_config(str(path))
    assert config.cluster.name == "lab"
    assert [n.name for n in config.nodes] == ["n1", "n2"]
    assert config.nodes[0].capacity == Resources(4, 8192, 0)
    assert config.default_partition.name == "batch" and config.default_partition.max_time_s == 86400


def test_load_config_error_names_file_and_key(tmp_path):
    path = tmp_path / "jem.toml"
    path.write_text('[scheduler]\ninterval_s = "fast"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.detail.startswith(f"{path}: scheduler.interval_s:")


def test_load_config_bad_toml(tmp_path):
    path = tmp_path / "jem.toml"
    path.write_text("[cluster\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(str(path))


def test_load_config_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.detail.startswith(str(path)) and "No such file" in info.value.detail


def test_fractional_min_job_age_is_accepted_like_the_other_float_seconds():
    assert parse_config({"scheduler": {"min_job_age_s": 0.5}}).scheduler.min_job_age_s == 0.5


def test_auth_method_and_external_jwt_keys_are_validated():
    auth = parse_config({"auth": {"method": "munge", "munge_socket": "/run/munge/munge.socket.2",
                                  "jwks_file": "/etc/jem/idp.jwks", "jwt_audience": "portal"}}).auth
    assert (auth.method, auth.jwt_user_claim) == ("munge", "sub")
    assert parse_config({}).auth.method == "jem"
    with pytest.raises(ConfigError, match="auth.method"):
        parse_config({"auth": {"method": "kerberos"}})
    with pytest.raises(ConfigError, match="auth.jwt_audience"):
        parse_config({"auth": {"jwks_file": "/etc/jem/idp.jwks"}})


def test_scrontab_signatures_live_366_days_unless_configured_and_at_least_a_minute():
    assert parse_config({}).auth.cron_signature_lifetime_s == 366 * 86400
    assert parse_config({"auth": {"cron_signature_lifetime_s": 90}}).auth.cron_signature_lifetime_s == 90
    with pytest.raises(ConfigError, match="auth.cron_signature_lifetime_s"):
        parse_config({"auth": {"cron_signature_lifetime_s": 5}})


def test_client_config_says_which_credential_to_present(tmp_path, monkeypatch):
    from jem.model.clientconfig import client_config_text, load_client_config
    path = tmp_path / "client.toml"
    path.write_text(client_config_text(controller="h:1", authd_socket="/s", auth="munge", munge_socket="/m",
                                       munge_uid=1234))
    monkeypatch.setenv("JEM_CONFIG", str(path))
    config = load_client_config()
    assert (config.auth, config.munge_socket, config.munge_uid) == ("munge", "/m", 1234)
    path.write_text('auth = "kerberos"\n')
    with pytest.raises(ConfigError, match="auth"):
        load_client_config()
    path.write_text('munge_uid = "0"\n')
    with pytest.raises(ConfigError, match="munge_uid"):
        load_client_config()
