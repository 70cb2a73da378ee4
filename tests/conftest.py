"""Every test runs in its own folder with its own store; nothing reaches beyond 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import casebank
from tests.fakes_openai_compat import FakeCompat
from tests.postgres_server import fresh_database, stop_shared_server


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CASEBANK_DB", str(tmp_path / "casebank.db"))
    monkeypatch.delenv("CASEBANK_REPLAY", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    yield tmp_path
    casebank.shutdown()  # a test that called init() must not leak its writer into the next
    casebank.uninstrument()  # nor its patches of the openai / anthropic clients


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_shared_server()  # the PostgreSQL server this test process started, if it started one


@pytest.fixture
def postgres_url() -> str:
    """A new, migrated database on this test process's PostgreSQL server (`tests/postgres_server.py`)."""
    return fresh_database()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "casebank.db"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCompat]:
    """A judging, embedding LLM server on 127.0.0.1 for the meaning graders (`tests.fakes_openai_compat`).

    The OpenAI and Anthropic environment variables are cleared meanwhile, so that a client the
    test did not point at the fake cannot reach a real API."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with FakeCompat() as server:
        yield server
