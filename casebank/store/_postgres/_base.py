"""The PostgreSQL store's connections: a pool, transactions, errors, and JSON in and out.

Each part of the store (`_spans`, `_traces`, `_incidents`, `_runs`, `_labels`, `_production`,
`_copy`) is a mixin over this class, as in the SQLite store, so that each file holds one job and
`PostgresStore` is only their sum.

Every call borrows a connection from a psycopg pool for its length, so one store serves many
threads (the runner's graders, the requests of `cases serve`). Connections are in autocommit:
a read is one round trip, and a write opens its transaction explicitly. A connection is checked
before it is lent, so that a store outlives a restart of the server: the pool drops connections
the restart broke and makes new ones. Losing the server mid-call is a StoreError naming the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
import psycopg_pool
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from casebank.errors import AmbiguousId, StoreError
from casebank.store._postgres._schema import migrate

__all__ = ["Conn", "Connected", "connect_once", "dumps", "first_line", "jsonb"]

Conn = psycopg.Connection[Any]

POOL_NAME = "casebank"
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10.0
POOL_MAX = 8


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def jsonb(text: str | None) -> str | None:
    """JSON text as jsonb takes it: jsonb refuses the escape `\\u0000`, which JSON allows."""
    if text is not None and "\\u0000" in text:
        return text.replace("\\u0000", "\\ufffd")
    return text


class _OneWarningAnOutage(logging.Filter):
    """psycopg_pool warns at each failed connection attempt of its workers, several a second while
    a server is down: a flood in the host app's log. casebank says itself that a store cannot be
    reached (a StoreError, or the capture writer's one warning an outage), so the attempts of its
    own pools go unlogged; other pools of the app keep their warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg == "error connecting in %r: %s" and args[:1] == (POOL_NAME,))


logging.getLogger("psycopg.pool").addFilter(_OneWarningAnOutage())


def _configure(conn: Conn) -> None:
    set_json_loads(orjson.loads, conn)  # several times json.loads' speed on snapshots and spans


class Connected:
    """A pool of connections to one database, migrated to the latest schema when opened."""

    def __init__(self, conninfo: str, *, shown: str, create: bool = True, pool_max: int = POOL_MAX) -> None:
        self.shown = shown
        first = connect_once(conninfo, shown)
        try:
            migrate(first, shown, create=create)
        finally:
            first.close()
        self.pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_max,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=POOL_TIMEOUT_S,
            name=POOL_NAME,
            open=True,
        )

    @property
    def location(self) -> str:
        return self.shown

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self, timeout_s: float | None = None) -> Iterator[Conn]:
        """A connection for the length of the block (waiting up to `timeout_s`, else the pool's
        timeout, for one); StoreError when the server cannot be reached."""
        try:
            with self.pool.connection(timeout=timeout_s) as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(f"cannot reach store '{self.shown}': {first_line(exc)}") from None

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[Conn]:
        """One transaction; `durable` makes its commit wait for the disk whatever the server's
        `synchronous_commit` says (flags and incident changes: a person acted on them)."""
        with self.connection() as conn, conn.transaction():
            if durable:
                conn.execute("SET LOCAL synchronous_commit TO on")
            yield conn

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Every row of one query, as dicts by column name."""
        with self.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.encode(), params)
            return cur.fetchall()

    def row(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Any = ()) -> Any:
        with self.connection() as conn:
            found = conn.execute(sql.encode(), params).fetchone()
        return found[0] if found else None

    def one_by_prefix(
        self, table: str, column: str, prefix: str, *, noun: str, shown: int = 0, select: str = "*"
    ) -> dict[str, Any] | None:
        """The row of `table` whose `column` starts with `prefix` (lower-case hex), None if there
        is none; AmbiguousId listing the first few if there are several (ids cut to `shown`
        characters, when given)."""
        rows = self.rows(
            f"SELECT {select} FROM {table} WHERE {column} >= %s AND {column} < %s ORDER BY {column} LIMIT 6",
            (prefix, prefix + "g"),
        )
        if len(rows) > 1:
            ids = [str(r["id"] if "id" in r else r[column]) for r in rows[:5]]
            listed = ", ".join(i[:shown] for i in ids) + ", ..." if shown else ", ".join(ids)
            raise AmbiguousId(f"{noun} id '{prefix}' is ambiguous ({listed}) - type more characters")
        return rows[0] if rows else None


def connect_once(conninfo: str, shown: str) -> Conn:
    """One connection, in autocommit, outside the pool; StoreError naming the store when it cannot be had."""
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to store '{shown}': {first_line(exc)} - check the URL, and that the server is running"
        ) from None


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (psycopg's run on with context lines), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
