"""The SQLite backend: one file holding spans, traces, incidents, runs and results.

Imported by `open_store` only when a URL names a SQLite file.
"""

from casebank.store._sqlite._store import SQLiteStore

__all__ = ["SQLiteStore"]
