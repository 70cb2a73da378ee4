"""The PostgreSQL backend: the store in a PostgreSQL database that many hosts share.

Imported by `open_store` only when a URL names PostgreSQL (`postgresql://...`); needs the extra
`casebank[postgres]` (psycopg 3 and psycopg-pool).
"""

from casebank.store._postgres._integrity import check_database
from casebank.store._postgres._store import PostgresStore

__all__ = ["PostgresStore", "check_database"]
