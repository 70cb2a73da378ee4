"""A PostgreSQL store goes away under a running app (`app.py`): the server restarted, or every
connection to it cut. The app's calls return, the spans of the outage wait in memory (or are
counted as dropped), the outage is logged once, and capture resumes when the server answers.
A flag while the server is down raises a StoreError, and goes through once it is up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from casebank.store import open_store
from tests.faults._apps import App, flag_in_a_process, write_a_trace
from tests.faults._trials import store_problems
from tests.postgres_server import PostgresServer, own_server


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own, since its tests stop it."""
    with own_server() as own:
        yield own


@pytest.fixture
def url(server: PostgresServer, request: pytest.FixtureRequest) -> str:
    name = f"faults_{request.node.name.split('[')[0][-20:]}".lower()
    server.start()
    server.execute(f"DROP DATABASE IF EXISTS {name}")
    server.execute(f"CREATE DATABASE {name}")
    return server.url(name)


def _accounted(url: str, final: dict[str, int]) -> None:
    with open_store(url) as store:
        counts = store.counts()
    assert counts.spans == final["spans_written"]
    assert counts.spans + counts.dropped_spans == final["calls"]  # every span stored or counted


def test_a_restarted_server_costs_the_app_nothing_and_capture_resumes(
    server: PostgresServer, url: str, start_app: Callable[..., App]
) -> None:
    app = start_app(url)
    assert app.call(20, 10, "before")["failed"] == 0
    assert app.ask("flush")["spans_written"] == 20

    server.stop()
    assert app.call(50, 10, "during") == {"calls": 70, "failed": 0}
    during = app.ask("flush")
    assert during["capturing"] is False and during["outages"] == 1

    server.start()
    after = app.until(lambda stats: stats["capturing"], "after")
    final = app.quit()
    assert after["outages"] == 1 and final["failed"] == 0

    [warning] = app.casebank_lines("WARNING")
    assert warning.startswith(f"WARNING casebank casebank: cannot reach store '{url}'")
    assert len([line for line in app.casebank_lines("INFO") if "is back" in line]) == 1
    assert "Traceback" not in app.stderr()
    _accounted(url, final)


def test_connections_cut_by_the_server_cost_the_app_nothing_and_capture_goes_on(
    server: PostgresServer, url: str, start_app: Callable[..., App]
) -> None:
    app = start_app(url)
    assert app.call(20, 10, "before")["failed"] == 0
    assert app.ask("flush")["spans_written"] == 20

    database = url.rsplit("/", 1)[1]
    server.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
        "AND pid <> pg_backend_pid()"
    )
    assert app.call(50, 10, "after") == {"calls": 70, "failed": 0}
    app.until(lambda stats: stats["capturing"] and stats["spans_written"] + stats["spans_dropped"] >= 70, "after")
    final = app.quit()
    assert final["failed"] == 0

    warnings = app.casebank_lines("WARNING")
    assert len(warnings) <= 1, warnings  # the pool may replace the cut connections before a write fails
    assert len([line for line in app.casebank_lines("INFO") if "is back" in line]) == len(warnings)
    assert "Traceback" not in app.stderr()
    _accounted(url, final)


def test_a_flag_while_postgres_is_down_raises_a_store_error_and_goes_through_once_it_is_up(
    server: PostgresServer, url: str
) -> None:
    write_a_trace(url)
    server.stop()
    refused = flag_in_a_process(url)
    assert refused.get("error") == "StoreError" and "cannot connect to store" in refused["message"], refused
    server.start()
    flagged = flag_in_a_process(url)
    assert store_problems(url, [flagged["incident"]]) == []
