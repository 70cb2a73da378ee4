"""`open_store(url)`: which backend a path or URL names, and the errors for those it cannot open."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

import casebank
from casebank.errors import StoreError
from casebank.store import StoreURL, open_store, parse_store_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param("store.db", Path("store.db"), id="a-relative-path"),
        pytest.param("/srv/cb/store.db", Path("/srv/cb/store.db"), id="an-absolute-path"),
        pytest.param("sqlite:///data/store.db", Path("data/store.db"), id="sqlite-relative"),
        pytest.param("sqlite:////srv/cb/store.db", Path("/srv/cb/store.db"), id="sqlite-absolute"),
        pytest.param("SQLite:///x.db", Path("x.db"), id="scheme-case-ignored"),
        pytest.param(r"C:\data\store.db", Path(r"C:\data\store.db"), id="a-windows-path-is-a-path"),
    ],
)
def test_paths_and_sqlite_urls_name_a_sqlite_file(url: str, path: Path) -> None:
    assert parse_store_url(url) == StoreURL(backend="sqlite", url=url, path=path)
    assert parse_store_url(Path(url) if "://" not in url else url).path == path


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        pytest.param("postgresql://app:pw@db/prod", "postgresql", id="postgresql"),
        pytest.param("postgres://db/prod", "postgresql", id="postgres"),
        pytest.param("postgresql+psycopg://db/prod", "postgresql", id="sqlalchemy-psycopg"),
        pytest.param("http://127.0.0.1:4318", "http", id="http"),
        pytest.param("HTTPS://cases.internal", "http", id="https"),
    ],
)
def test_server_urls_name_their_backend_and_keep_the_url_as_given(url: str, backend: str) -> None:
    where = parse_store_url(url)
    assert where == StoreURL(backend=backend, url=url)
    assert where.absolute() == where


def test_a_sqlite_store_is_named_absolutely_so_that_a_later_chdir_does_not_move_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    here = Path.cwd()
    for url, path in (("sqlite:///data/cb.db", here / "data" / "cb.db"), ("~/cb.db", tmp_path / "home" / "cb.db")):
        assert parse_store_url(url).absolute() == StoreURL(backend="sqlite", url=str(path), path=path)


def test_a_sqlite_url_opens_the_same_store_as_its_path(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db") as store:
        store.write_spans([], [], dropped=2)
    with open_store(f"sqlite:///{tmp_path / 'a.db'}", create=False) as store:
        assert store.counts().dropped_spans == 2


def test_without_a_url_casebank_db_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBANK_DB", f"sqlite:///{tmp_path / 'env.db'}")
    with open_store() as store:
        assert store.location == str(tmp_path / "env.db")
    monkeypatch.delenv("CASEBANK_DB")
    assert parse_store_url(None).path == Path(".casebank") / "casebank.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "https://cases.internal:4318",
            "store 'https://cases.internal:4318' needs a casebank server, which this casebank cannot talk to yet - "
            "pass a file path or sqlite:///PATH",
            id="https",
        ),
        pytest.param(
            "http://u:tok@127.0.0.1:4318",
            "store 'http://u:***@127.0.0.1:4318' needs a casebank server, which this casebank cannot talk to yet - "
            "pass a file path or sqlite:///PATH",
            id="http",
        ),
        pytest.param(
            "https://:tok@cases.internal",
            "store 'https://:***@cases.internal' needs a casebank server, which this casebank cannot talk to yet - "
            "pass a file path or sqlite:///PATH",
            id="a-token-without-a-user",
        ),
        pytest.param(
            "mysql://u:tok@db/x",
            "store URL 'mysql://u:***@db/x' has an unknown scheme 'mysql://' - pass a file path, sqlite:///PATH, "
            "postgresql://... or http(s)://HOST:PORT",
            id="unknown-scheme",
        ),
        pytest.param(
            "sqlite://",
            "store URL 'sqlite://' names no file - write sqlite:///relative/path.db or sqlite:////absolute/path.db",
            id="sqlite-without-a-path",
        ),
        pytest.param(
            "sqlite:///",
            "store URL 'sqlite:///' names no file - write sqlite:///relative/path.db or sqlite:////absolute/path.db",
            id="sqlite-with-an-empty-path",
        ),
        pytest.param(
            "  ", "the store address is empty - pass a file path, sqlite:///PATH or postgresql://...", id="empty"
        ),
    ],
)
def test_what_cannot_be_opened_here_says_why_in_one_line_without_the_password(url: str, message: str) -> None:
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("postgresql://app:s3cret@db.internal:5432/prod", "postgresql://app:***@db.internal:5432/prod"),
        pytest.param("postgres://db/prod", "postgres://db/prod", id="no-password"),
        pytest.param("postgresql://app:s3cret@[::1]:5432/prod", "postgresql://app:***@[::1]:5432/prod", id="ipv6"),
        pytest.param("postgresql://app:s3cret@/prod", "postgresql://app:***@/prod", id="no-host"),
        pytest.param("postgresql://app:s3cret@[::1/prod", "postgresql://app:***@[::1/prod", id="unparseable"),
        pytest.param("postgresql://app:p@ss:w0rd@db.internal/prod", "postgresql://app:***@db.internal/prod", id="at"),
    ],
)
def test_a_postgresql_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert parse_store_url(url).shown == shown


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_postgresql_server_that_does_not_answer_is_named_in_one_line_without_the_password() -> None:
    port = _closed_port()
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://app:s3cret@127.0.0.1:{port}/prod")
    message = str(raised.value)
    assert message.startswith(f"cannot connect to store 'postgresql://app:***@127.0.0.1:{port}/prod': connection ")
    assert message.endswith(" - check the URL, and that the server is running")
    assert "Connection refused" in message and "s3cret" not in message and "\n" not in message


# An interpreter in which psycopg cannot be imported, as where casebank[postgres] is not installed.
_WITHOUT_PSYCOPG = "import sys; sys.modules['psycopg'] = sys.modules['psycopg_pool'] = None\n"


def test_without_the_postgres_extra_a_postgresql_url_says_what_to_install() -> None:
    script = _WITHOUT_PSYCOPG + (
        "from casebank.store import open_store\n"
        "try:\n    open_store('postgresql://app:s3cret@127.0.0.1:1/prod')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == (
        "StoreError store 'postgresql://app:***@127.0.0.1:1/prod' is a PostgreSQL database, which needs "
        "casebank[postgres] - pip install 'casebank[postgres]'\n"
    )


def test_init_without_the_postgres_extra_leaves_the_app_running_untraced() -> None:
    script = _WITHOUT_PSYCOPG + (
        "import logging, casebank\n"
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "@casebank.trace\ndef answer(q):\n    return q.upper()\n"
        "casebank.init(db='postgresql://app:s3cret@127.0.0.1:1/prod', instrument=False)\n"
        "print(answer('still works'), casebank.current_trace_id())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "STILL WORKS None\n"
    assert done.stderr == (
        "WARNING casebank: capture is off - store 'postgresql://app:***@127.0.0.1:1/prod' is a PostgreSQL "
        "database, which needs casebank[postgres] - pip install 'casebank[postgres]'\n"
    )


def test_init_accepts_a_sqlite_url(tmp_path: Path) -> None:
    @casebank.trace
    def answer(question: str) -> str:
        return question.upper()

    casebank.init(db=f"sqlite:///{tmp_path / 'url.db'}", instrument=False)
    answer("hello")
    assert casebank.flush()
    with open_store(tmp_path / "url.db", create=False) as store:
        assert [t.output for t in store.recent_traces()] == ["HELLO"]
