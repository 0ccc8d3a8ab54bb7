"""The accounting table's changes (jem.model.accounting), sacctmgr's settings (jem.model.settings),
TRES text (jem.model.tres), and the store keeping the table (SQLite)."""

import pytest

from jem.model.accounting import (AssociationChange, add_accounts, add_qos, add_users, changed_association,
                                  delete_associations, delete_qos, modify_associations, modify_qos, new_table)
from jem.model.associations import Association, AssociationFilter, Qos, QosFlag
from jem.model.errors import AccountingEntityExists, AccountingEntityInUse, AccountingEntityNotFound, InvalidSetting
from jem.model.settings import parse_association_settings, parse_qos_settings
from jem.model.tres import Tres, format_tres, job_tres, parse_tres
from jem.store import SqliteStore


def accounts(*names_and_parents: tuple[str, str]):
    table = new_table()
    table, _ = add_accounts(table, [Association(name, parent=parent) for name, parent in names_and_parents])
    return table


def only(name: str) -> AssociationFilter:
    return AssociationFilter(accounts=frozenset({name}), only_accounts=True)


def test_tres_text_round_trips_in_slurms_form():
    assert parse_tres("mem=2G,cpu=4,gres/gpu:a100=1,gpu=2") == Tres({"cpu": 4, "mem": 2048, "gres/gpu": 2,
                                                                      "gres/gpu:a100": 1})
    assert format_tres(parse_tres("gres/gpu=2,node=1,mem=1536M,cpu=8")) == "cpu=8,mem=1536M,node=1,gres/gpu=2"
    assert parse_tres("cpu=-1", allow_clear=True) == Tres(cpu=-1)
    for bad in ("cpu", "cpu=x", "disk=4", "cpu=-2"):
        with pytest.raises(ValueError):
            parse_tres(bad)
    # Typed and untyped GRES both count; totals over the job's nodes.
    assert job_tres(cpus=8, mem_mib=100, n_nodes=2, gpus=1, gpu_type="a100", gres=(("nvme", 1),)) == Tres(
        {"cpu": 8, "mem": 100, "node": 2, "billing": 8, "gres/gpu": 2, "gres/gpu:a100": 2, "gres/nvme": 2})


def test_settings_parse_slurms_names_and_short_forms():
    change = parse_association_settings(["fairshare=10", "GrpTRES=cpu=8", "MaxJobs=-1", "MaxWall=2-0", "QOS+=high",
                                         "DefaultQOS=normal"])
    assert change.shares == 10 and change.qos_added == ("high",) and change.default_qos == "normal"
    assert change.limits == {"grp_tres": Tres(cpu=8), "max_jobs": -1, "max_wall_s": 2 * 86400}
    qos = parse_qos_settings(["MaxJobsPU=2", "MaxTRESPU=gres/gpu=4", "Flags=DenyOnLimit,NoReserve", "GraceTime=30",
                              "Priority=100", "PreemptMode=requeue"])
    assert qos.limits == {"max_jobs": 2, "max_tres_per_user": Tres({"gres/gpu": 4})}
    assert qos.flags == {QosFlag.DENY_ON_LIMIT, QosFlag.NO_RESERVE} and qos.grace_time_s == 30
    for bad in (["Colour=red"], ["MaxJobs=many"], ["MaxJobs+=1"], ["GrpTRES=disk=1"], ["MaxJobs"]):
        with pytest.raises(InvalidSetting):
            parse_association_settings(bad)
    with pytest.raises(InvalidSetting):
        parse_qos_settings(["Flags=Sparkly"])


def test_the_tree_stays_whole():
    table = accounts(("physics", "root"), ("theory", "physics"))
    with pytest.raises(AccountingEntityExists):
        add_accounts(table, [Association("physics")])
    with pytest.raises(AccountingEntityNotFound):
        add_accounts(table, [Association("orphan", parent="nowhere")])
    with pytest.raises(InvalidSetting):   # a cycle
        modify_associations(table, only("physics"), AssociationChange(parent="theory"))
    with pytest.raises(AccountingEntityInUse):   # a sub-account left behind
        delete_associations(table, only("physics"))
    with pytest.raises(AccountingEntityNotFound):
        add_users(table, [Association("chemistry", "alice")])
    with pytest.raises(InvalidSetting):
        add_accounts(table, [Association("bad name")])
    table, _ = add_users(table, [Association("theory", "alice")])
    assert table.users["alice"].default_account == "theory"
    # Deleting an account takes its users' associations with it, and a user with none left.
    table, deleted = delete_associations(table, AssociationFilter(accounts=frozenset({"physics", "theory"})))
    assert {a.key for a in deleted} == {("physics", ""), ("theory", ""), ("theory", "alice")}
    assert "alice" not in table.users and table.account("physics") is None


def test_a_change_makes_a_new_table_and_leaves_the_old():
    before = accounts(("physics", "root"))
    after, changed = modify_associations(before, only("physics"), parse_association_settings(["MaxJobs=3"]))
    assert before.account("physics").limits.max_jobs is None and after.account("physics").limits.max_jobs == 3
    assert after.version == before.version + 1 and changed == [after.account("physics")]
    cleared, _ = modify_associations(after, only("physics"), parse_association_settings(["MaxJobs=-1"]))
    assert cleared.account("physics").limits.max_jobs is None


def test_max_limits_and_qos_are_inherited_down_the_tree():
    table = accounts(("physics", "root"), ("theory", "physics"))
    table, _ = add_qos(table, [Qos("high")])
    table, _ = add_users(table, [Association("theory", "alice")])
    table, _ = modify_associations(table, only("physics"),
                                   parse_association_settings(["MaxJobs=4", "MaxTRES=cpu=8,mem=1G", "QOS=normal,high"]))
    table, _ = modify_associations(table, only("theory"), parse_association_settings(["MaxTRES=cpu=2"]))
    assert table.effective_max("theory", "alice", "max_jobs") == 4
    assert table.effective_max_tres("theory", "alice", "max_tres_per_job") == Tres(cpu=2, mem=1024)
    assert table.allowed_qos("theory", "alice") == ("normal", "high")
    # QOS+= on an association without a list of its own starts from the inherited one.
    table, _ = modify_associations(table, AssociationFilter(users=frozenset({"alice"})),
                                   parse_association_settings(["QOS-=high"]))
    assert table.allowed_qos("theory", "alice") == ("normal",)
    # A QOS an association names cannot go; nor can "normal".
    with pytest.raises(AccountingEntityInUse):
        delete_qos(table, ["high"])
    with pytest.raises(AccountingEntityInUse):
        delete_qos(table, ["normal"])
    table, _ = modify_qos(table, ["high"], parse_qos_settings(["MaxJobsPU=1"]))
    assert table.qos["high"].limits.max_jobs == 1


def test_the_store_keeps_the_table_and_writes_only_changes(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    empty = store.load_accounting()
    table, _ = add_qos(empty, [Qos("high", priority=5, flags=frozenset({QosFlag.DENY_ON_LIMIT}))])
    table, _ = add_accounts(table, [changed_association(Association("physics"),
                                                        parse_association_settings(["GrpTRES=cpu=4,gres/gpu=1"]))])
    table, _ = add_users(table, [Association("physics", "alice")])
    store.save_accounting(table, previous=empty)
    smaller, _ = delete_associations(table, AssociationFilter(users=frozenset({"alice"})))
    store.save_accounting(smaller, previous=table)
    store.close()
    loaded = SqliteStore(str(tmp_path / "jem.db")).load_accounting()
    assert loaded.associations == smaller.associations and loaded.qos == smaller.qos and loaded.users == {}


def test_qos_a_config_lists_join_roots_list_at_every_start():
    from jem.model.config import parse_config
    from jem.model.seeding import configured_table
    first = configured_table(new_table(), parse_config({"qos": [{"name": "a"}]}))
    assert first.account("root").qos == ("normal", "a")
    again = configured_table(first, parse_config({"qos": [{"name": "a"}, {"name": "b"}]}))
    assert again.account("root").qos == ("normal", "a", "b")
    stated = configured_table(new_table(), parse_config({"qos": [{"name": "a"}],
                                                         "accounts": [{"name": "root", "qos": ["normal"]}]}))
    assert stated.account("root").qos == ("normal",)
