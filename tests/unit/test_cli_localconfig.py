"""The jem.toml `jem up` writes: its own (unchanged without --config), and merged with a site file's
tables (`jem up --config`), written as TOML that reads back to the same values."""

import datetime
import pathlib
import tomllib

import pytest

from jem.cli.localconfig import config_text, read_site, toml_text
from jem.model.config import parse_config
from jem.model.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_without_a_site_file_the_config_is_jem_ups_own(tmp_path):
    text = config_text(str(tmp_path), 3, 2, 512, 0, "jem")
    assert 'name = "local"' in text and "[scheduler]\n" in text   # (what tests and benchmarks edit)
    config = parse_config(tomllib.loads(text))
    assert [n.name for n in config.nodes] == ["n1", "n2", "n3"]
    assert [p.name for p in config.partitions] == ["debug"]


def test_a_site_file_replaces_nodes_and_partitions_and_overrides_scheduler_keys(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text('[scheduler]\npreempt_type = "qos"\ninterval_s = 2.0\n'
                    '[[nodes]]\nnames = "c[1-2]"\ncpus = 8\nmem_mib = 1024\nfeatures = ["intel", "ib"]\n'
                    '[[qos]]\nname = "high"\npriority = 100\n[cluster]\nname = "site"\n')
    text = config_text(str(tmp_path), 4, 2, 512, 0, "jem", site=read_site(str(site)), site_path=str(site))
    raw = tomllib.loads(text)
    assert raw["scheduler"]["preempt_type"] == "qos" and raw["scheduler"]["interval_s"] == 2.0
    assert raw["scheduler"]["kill_wait_s"] == 5                         # (jem up's, kept)
    assert raw["cluster"]["name"] == "site" and raw["cluster"]["state_dir"] == str(tmp_path)
    config = parse_config(raw)
    assert [(n.name, set(n.features)) for n in config.nodes] == [("c1", {"intel", "ib"}), ("c2", {"intel", "ib"})]
    assert [p.name for p in config.partitions] == ["debug"]             # (jem up's: the file has none)
    assert "high" in {q.name for q in config.qos}


def test_the_tours_site_file_makes_a_valid_config(tmp_path):
    path = ROOT / "examples" / "site.toml"
    config = parse_config(tomllib.loads(config_text(str(tmp_path), 4, 4, 2048, 0, "jem", site=read_site(str(path)),
                                                    site_path=str(path))))
    assert {f for n in config.nodes for f in n.features} >= {"intel", "ib"}
    assert "high" in {q.name for q in config.qos}


@pytest.mark.parametrize("text, words", [
    ('[cluster]\nlisten = "0.0.0.0:1"\n', "cluster.listen"),
    ('[auth]\nrun_dir = "/tmp"\nmethod = "munge"\n', "auth.run_dir, auth.method"),
    ('scheduler = 1\n', "scheduler: expected a table"),
])
def test_a_site_file_may_not_set_what_jem_up_sets(tmp_path, text, words):
    site = tmp_path / "site.toml"
    site.write_text(text)
    with pytest.raises(ConfigError, match=words):
        read_site(str(site))


def test_toml_text_reads_back_to_the_same_values():
    doc = {"top": 1,
           "table": {"s": 'quote " backslash \\ tab \t newline \n del \x7f é 😀', "f": 1e-05, "inf": float("inf"),
                     "b": False, "list": [1, 2.5, "x"], "inline": {"a b": 1, "n": {"m": [True]}},
                     "when": datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.timezone.utc),
                     "day": datetime.date(2026, 12, 7), "rows": [{"name": "maint", "procs": 200}]},
           "entries": [{"name": "a", "gres": {"nvme": 2}}, {"name": "b", "features": ["x", "y"]}]}
    assert tomllib.loads(toml_text(doc, header="a header")) == doc
