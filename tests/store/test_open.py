"""`open_store(url)`: which backend a path or URL names, and the errors for those not here yet."""

from __future__ import annotations

import logging
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
            "postgresql://app:s3cret@db.internal:5432/prod",
            "store 'postgresql://app:***@db.internal:5432/prod' is a PostgreSQL database, which needs "
            "casebank[postgres] - this casebank stores in SQLite only: pass a file path",
            id="postgresql",
        ),
        pytest.param(
            "postgres://db/prod",
            "store 'postgres://db/prod' is a PostgreSQL database, which needs casebank[postgres] - "
            "this casebank stores in SQLite only: pass a file path",
            id="postgres",
        ),
        pytest.param(
            "postgresql://app:s3cret@[::1]:5432/prod",
            "store 'postgresql://app:***@[::1]:5432/prod' is a PostgreSQL database, which needs casebank[postgres] - "
            "this casebank stores in SQLite only: pass a file path",
            id="an-ipv6-host-keeps-its-brackets",
        ),
        pytest.param(
            "postgresql://app:s3cret@/prod",
            "store 'postgresql://app:***@/prod' is a PostgreSQL database, which needs casebank[postgres] - "
            "this casebank stores in SQLite only: pass a file path",
            id="no-host",
        ),
        pytest.param(
            "postgresql://app:s3cret@[::1/prod",
            "store 'postgresql://app:***@[::1/prod' is a PostgreSQL database, which needs casebank[postgres] - "
            "this casebank stores in SQLite only: pass a file path",
            id="a-url-python-cannot-parse",
        ),
        pytest.param(
            "postgresql://app:p@ss:w0rd@db.internal/prod",
            "store 'postgresql://app:***@db.internal/prod' is a PostgreSQL database, which needs casebank[postgres] - "
            "this casebank stores in SQLite only: pass a file path",
            id="a-password-holding-at-and-colon-is-hidden-whole",
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


def test_init_with_a_url_it_cannot_open_leaves_the_app_running_untraced(caplog: pytest.LogCaptureFixture) -> None:
    @casebank.trace
    def answer(question: str) -> str:
        return question.upper()

    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(db="postgresql://app:s3cret@db.internal/prod", instrument=False)
    assert answer("still works") == "STILL WORKS"
    assert casebank.current_trace_id() is None
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "capture is off" in warning and "needs casebank[postgres]" in warning and "s3cret" not in warning


def test_init_accepts_a_sqlite_url(tmp_path: Path) -> None:
    @casebank.trace
    def answer(question: str) -> str:
        return question.upper()

    casebank.init(db=f"sqlite:///{tmp_path / 'url.db'}", instrument=False)
    answer("hello")
    assert casebank.flush()
    with open_store(tmp_path / "url.db", create=False) as store:
        assert [t.output for t in store.recent_traces()] == ["HELLO"]
