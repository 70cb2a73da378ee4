"""casebank.set_attributes and flagging by them: support flags with the id it knows.

Real parts only: the OTel SDK, the writer thread, a store file, and the real `cases` command in
a subprocess for `cases flag --where`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import casebank
from casebank.errors import AmbiguousId, InvalidInput, TraceNotFound
from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT

PREFIX = "casebank.attributes."


@casebank.trace
def answer(question: str, ticket: Any = None, **attributes: Any) -> str | None:
    if ticket is not None:
        casebank.set_attributes(ticket_id=ticket, **attributes)
    return casebank.current_trace_id()


@casebank.trace
def lookup(order: str) -> str:
    casebank.set_attributes(order_id=order)
    return "shipped"


@casebank.trace
def answer_with_lookup(ticket: str) -> str | None:
    casebank.set_attributes(ticket_id=ticket)
    lookup("A-17")
    return casebank.current_trace_id()


def stored(trace_id: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the trace row's attributes, its spans) once written."""
    assert trace_id is not None
    assert casebank.flush()
    with open_store() as store:
        trace = store.get_trace(trace_id)
        assert trace is not None
        return trace.attributes, store.trace_spans(trace_id)


def root(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in spans if s["attributes"].get("casebank.root"))


# -- set_attributes --------------------------------------------------------------------------------


def test_attributes_go_on_the_entry_span_and_into_the_trace_row() -> None:
    casebank.init()
    trace_id = answer("where is my order?", "8812", user_id="u-1")
    attributes, spans = stored(trace_id)
    assert attributes == {"ticket_id": "8812", "user_id": "u-1"}
    assert root(spans)["attributes"][PREFIX + "ticket_id"] == "8812"


def test_attributes_set_in_a_nested_traced_call_land_on_the_entry_span() -> None:
    casebank.init()
    trace_id = answer_with_lookup("8812")
    attributes, spans = stored(trace_id)
    assert attributes == {"ticket_id": "8812", "order_id": "A-17"}
    nested = next(s for s in spans if s["name"] == "lookup")
    assert not any(key.startswith(PREFIX) for key in nested["attributes"])
    assert root(spans)["attributes"][PREFIX + "order_id"] == "A-17"


def test_attributes_set_under_a_span_of_the_apps_own_tracer_land_on_the_entry_span() -> None:
    app_tracer = TracerProvider().get_tracer("the-app")
    casebank.init()

    @casebank.trace
    def handle(ticket: str) -> str | None:
        with app_tracer.start_as_current_span("db query"):  # casebank never stores this span
            casebank.set_attributes(ticket_id=ticket)
        return casebank.current_trace_id()

    attributes, _ = stored(handle("8812"))
    assert attributes == {"ticket_id": "8812"}


def test_values_keep_their_otel_type_none_is_skipped_and_anything_else_becomes_text() -> None:
    casebank.init()

    class Tier:
        def __str__(self) -> str:
            return "gold"

    trace_id = answer("hi", 8812, vip=True, score=0.5, tier=Tier(), team=None)
    attributes, spans = stored(trace_id)
    assert attributes == {"ticket_id": 8812, "vip": True, "score": 0.5, "tier": "gold"}
    assert PREFIX + "team" not in root(spans)["attributes"]


def test_concurrent_traces_each_keep_their_own_attributes() -> None:
    casebank.init()
    ids: dict[str, str | None] = {}
    barrier = threading.Barrier(4)

    def worker(ticket: str) -> None:
        @casebank.trace
        def handle() -> str | None:
            barrier.wait()  # all four entry spans are open at once
            casebank.set_attributes(ticket_id=ticket)
            return casebank.current_trace_id()

        ids[ticket] = handle()

    threads = [threading.Thread(target=worker, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ticket, trace_id in ids.items():
        assert stored(trace_id)[0] == {"ticket_id": ticket}


def test_a_secret_looking_attribute_is_redacted_in_the_span_the_row_and_the_lookup_table() -> None:
    casebank.init()
    trace_id = answer("hi", "8812", api_key="sk-abcdefghijklmnopqrstuvwxyz")
    attributes, spans = stored(trace_id)
    assert attributes["api_key"] == "[REDACTED:api_key]"
    assert root(spans)["attributes"][PREFIX + "api_key"] == "[REDACTED:api_key]"
    with open_store() as store:
        assert store.traces_where({"api_key": "sk-abcdefghijklmnopqrstuvwxyz"}) == []
        assert store.traces_where({"api_key": "[REDACTED:api_key]"}) == [trace_id]


def test_outside_a_trace_it_does_nothing_and_warns_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    import casebank.capture._correlate as correlate

    correlate._said_no_trace = False
    casebank.init()
    with caplog.at_level(logging.DEBUG, logger="casebank"):
        casebank.set_attributes(ticket_id="8812")
        casebank.set_attributes(ticket_id="8813")
    said = [r for r in caplog.records if "set_attributes" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (
            logging.WARNING,
            "casebank: set_attributes() was called outside a @casebank.trace call, so it did nothing - "
            "call it inside the traced entry point (or a function it calls)",
        )
    ]
    assert casebank.flush()
    with open_store() as store:
        assert store.traces_where({"ticket_id": "8812"}) == []
        assert all(trace.attributes == {} for trace in store.recent_traces())


def test_before_init_it_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    import casebank.capture._correlate as correlate

    correlate._said_no_trace = False
    with caplog.at_level(logging.DEBUG, logger="casebank"):
        casebank.set_attributes(ticket_id="8812")  # capture is off: there is nothing to tie ids to
    assert [r for r in caplog.records if "set_attributes" in r.getMessage()] == []


def test_before_init_it_does_nothing() -> None:
    assert answer("hi", "8812") is None  # the decorator is a plain call, and so is set_attributes


def test_it_never_raises_into_the_app(caplog: pytest.LogCaptureFixture) -> None:
    import casebank.capture._correlate as correlate

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    correlate._warned = False
    casebank.init()
    with caplog.at_level(logging.WARNING, logger="casebank"):
        trace_id = answer("hi", Unprintable())
        answer("hi", Unprintable())
    assert trace_id is not None  # the app's function ran and returned
    assert len([r for r in caplog.records if "could not set trace attributes" in r.getMessage()]) == 1


def test_attach_mode_keeps_the_attributes_too() -> None:
    casebank.attach(TracerProvider())
    attributes, _ = stored(answer("hi", "8812"))
    assert attributes == {"ticket_id": "8812"}


# -- casebank.flag(where=...) ----------------------------------------------------------------------


def test_flag_where_flags_the_one_trace_carrying_the_attribute() -> None:
    casebank.init()
    answer("first", "8811")
    trace_id = answer("second", "8812")
    answer("third", "8813")
    incident_id = casebank.flag(where={"ticket_id": "8812"}, reason="wrong refund window", flagged_by="ana")
    with open_store() as store:
        incident = store.get_incident(incident_id)
    assert incident.trace_id == trace_id
    assert incident.input["question"] == "second"


@pytest.mark.parametrize(
    ("set_as", "asked_as"),
    [
        pytest.param(8812, "8812", id="int-found-by-text"),
        pytest.param("8812", 8812, id="text-found-by-int"),
        pytest.param(True, "true", id="bool-found-by-text"),
    ],
)
def test_values_match_by_their_text(set_as: Any, asked_as: Any) -> None:
    casebank.init()
    trace_id = answer("hi", set_as)
    incident_id = casebank.flag(where={"ticket_id": asked_as}, reason="bad")
    with open_store() as store:
        assert store.get_incident(incident_id).trace_id == trace_id


def test_several_attributes_must_all_match() -> None:
    casebank.init()
    answer("a", "8812", user_id="ana")
    trace_id = answer("b", "8812", user_id="bo")
    incident_id = casebank.flag(where={"ticket_id": "8812", "user_id": "bo"}, reason="bad")
    with open_store() as store:
        assert store.get_incident(incident_id).trace_id == trace_id


def test_no_matching_trace_raises_trace_not_found_naming_the_attributes() -> None:
    casebank.init()
    answer("hi", "8812", user_id="ana")
    with pytest.raises(TraceNotFound, match=r"no trace with ticket_id=9999, user_id=ana in store .*set_attributes"):
        casebank.flag(where={"ticket_id": "9999", "user_id": "ana"}, reason="bad")


def test_several_matching_traces_raise_ambiguous_id_listing_the_newest_five() -> None:
    casebank.init()
    ids = [answer(f"try {n}", "8812") for n in range(7)]
    with pytest.raises(AmbiguousId) as error:
        casebank.flag(where={"ticket_id": "8812"}, reason="bad")
    newest_first = ", ".join(str(i) for i in reversed(ids[2:]))
    assert str(error.value) == (
        f"ticket_id=8812 matches several traces (newest first: {newest_first}, ...) - "
        "flag one by its trace id, or add another attribute that tells them apart"
    )
    with open_store() as store:
        assert store.list_incidents() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"reason": "bad"}, id="neither"),
        pytest.param({"trace_id": "a" * 32, "where": {"ticket_id": "1"}, "reason": "bad"}, id="both"),
        pytest.param({"where": {"ticket_id": "1"}}, id="no-reason"),
    ],
)
def test_flag_takes_exactly_one_of_trace_id_and_where_and_a_reason(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="flag()"):
        casebank.flag(**kwargs)


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        pytest.param({}, "names no attribute", id="empty"),
        pytest.param({"ticket_id": None}, "attribute 'ticket_id' has no value", id="none-value"),
        pytest.param({" ": "1"}, "is not a name", id="blank-key"),
    ],
)
def test_a_malformed_where_is_invalid_input(where: dict[str, Any], fragment: str) -> None:
    casebank.init()
    answer("make the store exist", "1")
    with pytest.raises(InvalidInput, match=fragment):
        casebank.flag(where=where, reason="bad")


def test_flag_where_from_another_process_finds_the_trace(db_path: Path) -> None:
    casebank.init()
    trace_id = answer("hi", "8812")
    casebank.shutdown()  # the product's process is gone; support's tool flags from its own
    incident_id = casebank.flag(where={"ticket_id": "8812"}, reason="bad", db=db_path)
    with open_store(db_path) as store:
        assert store.get_incident(incident_id).trace_id == trace_id


# -- cases flag --where ----------------------------------------------------------------------------


def cases(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "casebank", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tickets() -> dict[str, str | None]:
    """Three traces written by the app: tickets 8811 and 8812, and two tries at 8813."""
    casebank.init()
    made = {t: answer(f"about {t}", t, user_id="ana") for t in ("8811", "8812", "8813")}
    made["8813-again"] = answer("about 8813 again", "8813", user_id="bo")
    casebank.shutdown()
    return made


def test_cases_flag_where_prints_the_incident_of_the_one_matching_trace(tickets: dict[str, str | None]) -> None:
    result = cases("flag", "--where", "ticket_id=8812", "--reason", "wrong refund window", "--by", "ana")
    assert result.returncode == 0, result.stderr
    with open_store() as store:
        assert store.get_incident(result.stdout.strip()).trace_id == tickets["8812"]


def test_cases_flag_where_repeated_narrows_to_one(tickets: dict[str, str | None]) -> None:
    result = cases("flag", "-w", "ticket_id=8813", "-w", "user_id=bo", "--reason", "rude")
    assert result.returncode == 0, result.stderr
    with open_store() as store:
        assert store.get_incident(result.stdout.strip()).trace_id == tickets["8813-again"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(["--where", "ticket_id=9999"], ["no trace with ticket_id=9999"], id="none"),
        pytest.param(
            ["--where", "ticket_id=8813"],
            ["ticket_id=8813 matches several traces", "flag one by its trace id"],
            id="two",
        ),
        pytest.param(["--where", "ticket_id"], ["--where 'ticket_id' is not KEY=VALUE"], id="no-equals"),
        pytest.param([], ["TRACE_ID or with --where"], id="neither"),
        pytest.param(["a" * 32, "--where", "ticket_id=8812"], ["exactly one of them"], id="both"),
    ],
)
def test_cases_flag_where_refusals_are_one_line_usage_errors(
    tickets: dict[str, str | None], args: list[str], fragments: list[str]
) -> None:
    result = cases("flag", *args, "--reason", "bad")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    with open_store() as store:
        assert store.list_incidents() == []


def test_cases_traces_json_shows_the_attributes(tickets: dict[str, str | None]) -> None:
    import json

    result = cases("traces", "--json")
    assert result.returncode == 0, result.stderr
    by_id = {t["trace_id"]: t["attributes"] for t in json.loads(result.stdout)}
    assert by_id[tickets["8812"]] == {"ticket_id": "8812", "user_id": "ana"}
