"""`open_store(url)`: the one way in to a store, whichever backend holds it.

What a user may pass as `--db`, `CASEBANK_DB` or `casebank.init(db=...)`:

    .casebank/casebank.db, /srv/cb.db     a SQLite file (a plain path)
    sqlite:///relative.db                 a SQLite file, as SQLAlchemy spells it
    sqlite:////absolute/path.db           (three slashes, then the path: four for an absolute one)
    postgresql://user:pw@host/db          PostgreSQL (the extra casebank[postgres])
    http(s)://host:4318                   a `cases serve` server

A backend's module is imported only when a URL names it, so that the capture SDK in a product
never loads what it does not use.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from casebank.errors import StoreError
from casebank.store._interface import Store

__all__ = [
    "DEFAULT_DB",
    "StoreURL",
    "check_store",
    "default_store_url",
    "import_backend",
    "open_store",
    "parse_store_url",
]

DEFAULT_DB = Path(".casebank") / "casebank.db"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES = ("postgresql", "postgres", "postgresql+psycopg")
_HTTP = ("http", "https")

Backend = Literal["sqlite", "postgresql", "http"]


@dataclass(frozen=True)
class StoreURL:
    """A parsed store address: the backend, and for SQLite the file's path."""

    backend: Backend
    url: str  # as given (a path for SQLite)
    path: Path | None = None  # SQLite only

    @property
    def shown(self) -> str:
        """For messages: a SQLite path as it is, a URL without its password."""
        return str(self.path) if self.path is not None else _without_password(self.url)

    def absolute(self) -> StoreURL:
        """The same store named so that a later `chdir` does not move it (SQLite paths only change)."""
        if self.path is None:
            return self
        path = self.path.expanduser().absolute()
        return StoreURL(backend="sqlite", url=str(path), path=path)


def default_store_url() -> str:
    """`CASEBANK_DB` if set, else `.casebank/casebank.db` under the current folder."""
    return os.environ.get("CASEBANK_DB") or str(DEFAULT_DB)


def parse_store_url(url: str | os.PathLike[str] | StoreURL | None) -> StoreURL:
    """Which backend `url` names (None: the default); StoreError for a scheme casebank does not know."""
    if isinstance(url, StoreURL):
        return url
    text = default_store_url() if url is None else os.fspath(url)
    if not text.strip():
        raise StoreError("the store address is empty - pass a file path, sqlite:///PATH or postgresql://...")
    scheme = _SCHEME.match(text)
    if scheme is None:
        return StoreURL(backend="sqlite", url=text, path=Path(text))
    name = scheme.group(1).lower()
    if name == "sqlite":
        path = text[len("sqlite://") :]
        if not path.startswith("/") or path == "/":
            raise StoreError(
                f"store URL '{text}' names no file - write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        return StoreURL(backend="sqlite", url=text, path=Path(path[1:]))
    if name in _POSTGRES:
        return StoreURL(backend="postgresql", url=text)
    if name in _HTTP:
        return StoreURL(backend="http", url=text)
    raise StoreError(
        f"store URL '{_without_password(text)}' has an unknown scheme '{name}://' - pass a file path, "
        "sqlite:///PATH, postgresql://... or http(s)://HOST:PORT"
    )


def import_backend(url: StoreURL) -> None:
    """Import the modules of `url`'s backend now, on the calling thread.

    The capture writer opens its store on its own thread; were the backend first imported there,
    a fork in the middle of that import would leave the child a half-made module."""
    if url.backend == "sqlite":
        import casebank.store._sqlite  # noqa: F401
    elif url.backend == "postgresql":
        _import_postgres(url)


def _import_postgres(url: StoreURL) -> Any:
    """The PostgreSQL backend's module; StoreError in one line when its extra is not installed."""
    try:
        import casebank.store._postgres as backend
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("psycopg", "psycopg_pool", "psycopg_binary"):
            raise
        raise StoreError(
            f"store '{url.shown}' is a PostgreSQL database, which needs casebank[postgres] - "
            "pip install 'casebank[postgres]'"
        ) from None
    return backend


def open_store(url: str | os.PathLike[str] | StoreURL | None = None, *, create: bool = True) -> Store:
    """Open the store at `url` (None: `CASEBANK_DB`, else `.casebank/casebank.db`).

    `create=False` refuses to make a new store: commands that only read say "no store here"
    rather than leave an empty one behind. Raises StoreError naming the store and the fix."""
    where = parse_store_url(url)
    if where.backend == "sqlite":
        from casebank.store._sqlite import SQLiteStore

        assert where.path is not None
        return SQLiteStore(where.path, create=create)
    if where.backend == "postgresql":
        store: Store = _import_postgres(where).PostgresStore(_conninfo(where.url), shown=where.shown, create=create)
        return store
    from casebank.store._http import HTTPStore

    return HTTPStore(where.url)  # the token is CASEBANK_TOKEN; `create` is the server's business


def check_store(url: str | os.PathLike[str] | StoreURL | None = None) -> list[str]:
    """What is wrong with the store at `url`, one line each naming it and what to do; empty when it
    is sound (`cases verify`).

    Unlike `open_store` it never makes, migrates or writes to the store: a SQLite file is read
    read-only, a PostgreSQL database in a READ ONLY transaction, and a schema older than this
    casebank's is a problem to report rather than something to fix. StoreError when there is no
    store to check there (no file, no database, or a `cases serve` URL)."""
    where = parse_store_url(url)
    if where.backend == "sqlite":
        from casebank.store._sqlite._integrity import check_file

        assert where.path is not None
        return check_file(where.path)
    if where.backend == "postgresql":
        problems: list[str] = _import_postgres(where).check_database(_conninfo(where.url), where.shown)
        return problems
    from casebank.store._http import HTTPStore

    with HTTPStore(where.url) as store:
        return store.check_integrity()


def _conninfo(url: str) -> str:
    """A URL as libpq takes it: `postgresql://` (SQLAlchemy's `postgresql+psycopg://` names a driver)."""
    scheme, _, rest = url.partition("://")
    return "postgresql://" + rest if scheme.lower() in _POSTGRES else url


def _without_password(url: str) -> str:
    """`url` with the password in its user part replaced by `***`."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        # The host and port as written (hostname would drop an IPv6 address's brackets).
        user_part, _, host = parts.netloc.rpartition("@")
        netloc = f"{user_part.partition(':')[0]}:***@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return re.sub(r"//([^/:@]*):[^/@]*@", r"//\1:***@", url)
