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

import logging
from collections.abc import Callable

from jem.model.associations import AccountingTable
from jem.model.config import Config
from jem.model.errors import ConfigError, JemError
from jem.model.seeding import configured_table
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
