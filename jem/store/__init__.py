"""Persistence behind one small interface (`Store`); SQLite (WAL) is the embedded default."""

from jem.store.base import EventRecord, JobChange, JobPage, Store
from jem.store.sqlite import SqliteStore

__all__ = ["EventRecord", "JobChange", "JobPage", "SqliteStore", "Store"]
