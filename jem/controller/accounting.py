"""The live accounting table (associations, users, QOS): each change stored, then used.

`AccountingBook.table` is an immutable `AccountingTable`, replaced whole by
each change: the scheduling loop and submissions read it without a lock and
see one consistent version. Changes are made under the controller's lock
(they check the jobs an association or QOS still has), stored in one
transaction before the new table is used, and wake the scheduler: a limit
changed applies from the next cycle, without a restart.

At start the configuration's [[accounts]], [[qos]] and root settings are
applied over what the store holds, as slurm.conf's partitions are over
`scontrol update`: what jem.toml states holds after every start, and what
sacctmgr added beyond it stays.
"""

import dataclasses
import logging
from collections.abc import Callable

from jem.model.accounting import (add_accounts, add_qos, add_users, changed_association,
                                  changed_qos, modify_associations, modify_qos)
from jem.model.associations import ROOT, AccountingTable, Association, AssociationFilter, Qos
from jem.model.config import Config
from jem.model.errors import ConfigError, JemError
from jem.model.settings import parse_association_settings, parse_qos_settings
from jem.store import Store

log = logging.getLogger(__name__)


class AccountingBook:
    def __init__(self, store: Store, table: AccountingTable):
        self._store = store
        self.table = table

    @classmethod
    def load(cls, store: Store, config: Config) -> "AccountingBook":
        """The stored table with the configuration applied over it (and stored)."""
        stored = store.load_accounting()
        try:
            table = configured_table(stored, config)
        except JemError as exc:
            raise ConfigError(f"accounts and qos: {exc}") from None
        if table != stored:
            store.save_accounting(table, previous=stored)
        return cls(store, table)

    def change(self, change: Callable[[AccountingTable], tuple[AccountingTable, list]]) -> list:
        """Apply `change` (a function of jem.model.accounting over the table), store the new
        table, then use it; the entities changed. Controller lock held."""
        table, changed = change(self.table)
        self._store.save_accounting(table, previous=self.table)
        self.table = table
        return changed


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


