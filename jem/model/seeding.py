"""The accounting table a configuration states: jem.toml's [[qos]], root settings and
[[accounts]] (parents first, with their users) applied over a table.

The controller applies it over what its store holds at every start
(jem.controller.accounting); `jem sim` starts from an empty table.
"""

import dataclasses

from jem.model.accounting import (add_accounts, add_qos, add_users, changed_association, changed_qos,
                                  modify_associations, modify_qos)
from jem.model.associations import ROOT, AccountingTable, Association, AssociationFilter, Qos
from jem.model.config import Config
from jem.model.errors import ConfigError
from jem.model.settings import parse_association_settings, parse_qos_settings


def configured_table(table: AccountingTable, config: Config) -> AccountingTable:
    """`table` with jem.toml's accounts (parents first), their users, QOS and root settings applied."""
    for qos in config.qos:
        change = dataclasses.replace(parse_qos_settings(qos.settings), priority=qos.priority)
        if qos.name in table.qos:
            table, _ = modify_qos(table, [qos.name], change)
        else:
            table, _ = add_qos(table, [changed_qos(Qos(qos.name), change)])
    if config.root_settings:
        table, _ = modify_associations(table, _only_account(ROOT), parse_association_settings(config.root_settings))
    configured_qos = tuple(q.name for q in config.qos)
    root = table.account(ROOT)
    wanted = tuple(dict.fromkeys((root.qos or ("normal",)) + configured_qos))
    if set(configured_qos) - {"normal"} and wanted != root.qos and \
            not any(setting.lower().startswith("qos") for setting in config.root_settings):
        # (a jem.toml that lists QOS and says nothing of who may use them: everyone may, as before
        # accounting enforced QOS lists; they join root's list, where sacctmgr shows and changes it)
        table, _ = modify_associations(table, _only_account(ROOT), parse_association_settings(
            ["qos=" + ",".join(wanted)]))
    for account in _parents_first(config):
        change = dataclasses.replace(parse_association_settings(account.settings), shares=account.shares,
                                     parent=account.parent)
        if table.account(account.name) is None:
            table, _ = add_accounts(table, [changed_association(Association(account.name), change)])
        else:
            table, _ = modify_associations(table, _only_account(account.name), change)
        new_users = [Association(account.name, user) for user in account.users
                     if table.association(account.name, user) is None]
        if new_users:
            table, _ = add_users(table, new_users)
    for partition in config.partitions:
        if partition.qos and partition.qos not in table.qos:
            raise ConfigError(f"partitions[{partition.name}].qos: no QOS named {partition.qos!r}")
    return table


def _only_account(name: str) -> AssociationFilter:
    return AssociationFilter(accounts=frozenset({name}), only_accounts=True)


def _parents_first(config: Config) -> list:
    ordered, placed = [], {ROOT}
    todo = list(config.accounts)
    while todo:
        ready = [a for a in todo if a.parent in placed]
        if not ready:
            raise ConfigError(f"accounts: a cycle of parents among {[a.name for a in todo]}")
        ordered.extend(ready)
        placed.update(a.name for a in ready)
        todo = [a for a in todo if a.name not in placed]
    return ordered
