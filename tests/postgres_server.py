"""A real, throwaway PostgreSQL server for the tests: initdb and pg_ctl of the machine's PostgreSQL.

One server a test process (so one per xdist worker), started on first use and stopped when the
session ends (`tests/conftest.py`); each test gets a database of its own, made in one statement
from a template that the store's migrations built once. The server runs as the `postgres` user
when the tests run as root (PostgreSQL refuses root), in a temporary folder owned by that user,
on a free port of 127.0.0.1 with trust authentication on loopback.

Where no server can start, a test that needs one skips saying why - and fails instead under
`CI=true`, so that a CI run without PostgreSQL is never a silent pass.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from casebank.store import Store

__all__ = [
    "PostgresServer",
    "fresh_database",
    "fresh_postgres_store",
    "postgres_bin",
    "require_server",
    "stop_shared_server",
]

_TEMPLATE = "casebank_template"


def postgres_bin() -> Path | None:
    """The newest PostgreSQL's bin folder (15 preferred, as the project documents), if installed."""
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; `start()`, `stop()`, `url(database)`.

    `durable=False` (the tests' default) turns fsync off: the tests never crash the machine, and
    a test run should not wait on the disk. Benchmarks keep it on."""

    def __init__(self, *, durable: bool = False) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL is not installed (no initdb under /usr/lib/postgresql) - "
                "run `apt-get install -y postgresql` (`make test` does)"
            )
        self.bin = bin_dir
        self.durable = durable
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="casebank-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.running = False

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin / tool), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(self._command(tool, *args), cwd=self.root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]} {log}".strip())

    def start(self) -> None:
        """Start (or start again) the server, on a new free port the first time; waits until it answers."""
        if self.running:
            return
        for attempt in itertools.count():
            self.port = self.port or _free_port()
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=200"
            if not self.durable:
                options += " -c fsync=off -c full_page_writes=off"
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
                break
            except RuntimeError:
                if attempt >= 2:  # another process took the port between _free_port and the start
                    raise
                self.port = 0
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self.running = False
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql.encode())


# -- the shared server of this test process --------------------------------------------------------

_shared: PostgresServer | None = None
_failure: str | None = None
_lock = threading.Lock()
_databases = itertools.count(1)


def _shared_server() -> PostgresServer:
    global _shared, _failure
    with _lock:
        if _shared is None and _failure is None:
            server = None
            try:
                server = PostgresServer()
                server.start()
                from casebank.store import open_store

                server.execute(f"CREATE DATABASE {_TEMPLATE}")
                open_store(server.url(_TEMPLATE)).close()  # migrated once; each test copies it
                _shared = server
                atexit.register(stop_shared_server)
            except Exception as exc:
                if server is not None:
                    server.destroy()
                _failure = f"cannot start a PostgreSQL server for the tests: {exc}"
        if _shared is None:
            require_server(_failure or "no PostgreSQL server")
        assert _shared is not None
        return _shared


def require_server(reason: str) -> None:
    """Skip the test saying why - or, under CI=true, fail it: CI must never pass without PostgreSQL."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def fresh_database(*, migrated: bool = True) -> str:
    """The URL of a new database on the shared server: with the store's tables (a copy of the
    migrated template), or empty (`migrated=False`)."""
    server = _shared_server()
    name = f"test_{os.getpid()}_{next(_databases)}"
    template = _TEMPLATE if migrated else "template0"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    return server.url(name)


def fresh_postgres_store(tmp_path: Path) -> Store:
    """A store in a new database of its own (the store contract's `BACKENDS` entry)."""
    from casebank.store import open_store

    return open_store(fresh_database())


def stop_shared_server() -> None:
    global _shared
    with _lock:
        server, _shared = _shared, None
    if server is not None:
        server.destroy()
