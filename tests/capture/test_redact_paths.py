"""Where redaction runs and how it is switched on: `init(redact=...)`, the project config, a team's
callables, and every way out of the process (the store writer, `init(endpoint=...)`,
`init(otlp_endpoint=...)`) - each through real capture."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace

import casebank
from casebank._runtime import state
from casebank.capture._pii import redact_pii, redactor
from casebank.store import open_store
from tests.capture.test_export import Receiver, receiver  # noqa: F401 - the fixture
from tests.capture.test_otlp import Collector, collector, no_ambient_endpoint  # noqa: F401 - the fixtures

EMAIL, PHONE, CARD, IBAN = "jane.doe@example.com", "+44 7700 900123", "4111 1111 1111 1111", "GB29NWBK60161331926819"
KEY = "sk-proj-" + "Pq4" * 10
TEXT = f"mail {EMAIL}, call {PHONE}, card {CARD}, iban {IBAN}, key {KEY}, order ACME-INTERNAL-7"


@casebank.trace
def support(question: str) -> str:
    return f"re: {question}"


def stored_bytes(db_path: Path) -> bytes:
    return b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*"))


def stored_input(db_path: Path) -> str:
    with open_store(db_path, create=False) as store:
        (trace,) = store.recent_traces(limit=1)
    return str(trace.input["question"])


def acme(text: str) -> str:
    return text.replace("ACME-INTERNAL", "[REDACTED:acme]")


def test_init_takes_pii_names_and_a_teams_own_callables(db_path: Path) -> None:
    casebank.init(redact=["email", "card", acme])
    support(TEXT)
    assert casebank.flush()

    assert stored_input(db_path) == (
        f"mail [REDACTED:email], call {PHONE}, card [REDACTED:card], iban {IBAN}, "
        "key [REDACTED:openai_key], order [REDACTED:acme]-7"
    )


def test_pii_means_all_four(db_path: Path) -> None:
    casebank.init(redact=["pii"])
    support(TEXT)
    assert casebank.flush()

    assert stored_input(db_path) == (
        "mail [REDACTED:email], call [REDACTED:phone], card [REDACTED:card], iban [REDACTED:iban], "
        "key [REDACTED:openai_key], order ACME-INTERNAL-7"
    )


def test_the_project_configs_redact_is_used_unless_init_says_otherwise(tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n\n[tool.casebank]\nredact = ["phone"]\n')
    casebank.init()
    support(TEXT)
    assert casebank.flush()
    assert "call [REDACTED:phone]" in stored_input(db_path) and EMAIL in stored_input(db_path)
    casebank.shutdown()

    casebank.init(redact=[])  # an explicit empty list: secrets only
    support(TEXT)
    assert casebank.flush()
    assert PHONE in stored_input(db_path)


def test_an_unknown_name_is_one_warning_and_capture_still_starts(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(redact=["emial", "email"])
    support(TEXT)
    assert casebank.flush()

    assert [r.getMessage() for r in caplog.records] == [
        "casebank: redact 'emial': no such redactor - valid: email, phone, card, iban, pii, or a callable (str -> str)"
    ]
    assert "mail [REDACTED:email]" in stored_input(db_path)


def test_a_broken_config_file_is_one_warning_and_capture_still_starts(
    tmp_path: Path, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "casebank.toml").write_text("redact = [email\n")
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init()
    support(TEXT)
    assert casebank.flush()

    assert [r.getMessage().split(" - ")[0] for r in caplog.records] == [
        "casebank: the project config's redact setting is not read"
    ]
    assert EMAIL in stored_input(db_path) and KEY not in stored_input(db_path)


def test_a_team_callable_that_raises_is_counted_and_logged_once_and_never_stops_capture(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str) -> str:
        raise ValueError("bad pattern")

    def not_text(text: str) -> str:
        return None  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(redact=["email", broken, not_text, acme])
        for _ in range(3):
            support(TEXT)
        assert casebank.flush()

    stored = stored_input(db_path)
    assert "mail [REDACTED:email]" in stored and "[REDACTED:acme]" in stored  # the others still ran
    assert state.redactor.errors >= 6  # both, for every string value of three traces
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "broken raised ValueError('bad pattern')" in warned[0], warned


def test_redaction_runs_on_the_writer_thread_not_the_apps(db_path: Path) -> None:
    import threading

    seen: list[str] = []

    def where(text: str) -> str:
        seen.append(threading.current_thread().name)
        return text

    casebank.init(redact=[where])
    support(TEXT)
    assert casebank.flush()

    assert seen and threading.current_thread().name not in seen


def test_the_otlp_endpoint_exporter_gets_spans_redacted_as_the_store_does(
    collector: Collector,  # noqa: F811
) -> None:
    casebank.init(otlp_endpoint=collector.url, redact=["pii"])
    support(TEXT)
    assert casebank.flush()

    sent = collector.span("support")["attributes"]["casebank.input"]
    assert "[REDACTED:email]" in sent and "[REDACTED:openai_key]" in sent and "[REDACTED:iban]" in sent
    for value in (EMAIL, PHONE, CARD, IBAN, KEY):
        assert value not in repr(collector.spans)


def test_the_casebank_server_exporter_gets_spans_redacted_with_pii(
    receiver: Receiver,  # noqa: F811
) -> None:
    casebank.init(endpoint=receiver.url, token="t0ken", instrument=False, redact=["phone", "iban"])
    support(TEXT)
    assert casebank.flush()

    (span,) = receiver.spans
    assert span["attributes"]["casebank.input"] == (
        f'{{"question":"mail {EMAIL}, call [REDACTED:phone], card {CARD}, iban [REDACTED:iban], '
        'key [REDACTED:openai_key], order ACME-INTERNAL-7"}'
    )


def test_init_reads_the_config_without_loading_the_runner(tmp_path: Path, run_python) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "casebank.toml").write_text('redact = ["email"]\n')
    proc = run_python(
        f"""
        import sys
        import casebank

        @casebank.trace
        def support(question):
            return question

        casebank.init("{tmp_path / "cb.db"}", instrument=False)
        support("mail {EMAIL}")
        casebank.shutdown()
        heavy = [m for m in ("casebank.replay", "pydantic", "jsonschema", "typer") if m in sys.modules]
        print(heavy)
        """
    )
    assert proc.stdout.strip() == "[]"
    stored = stored_bytes(tmp_path / "cb.db")
    assert b"[REDACTED:email]" in stored and EMAIL.encode() not in stored


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param("reach me at bob@example.com.", "reach me at [REDACTED:email].", id="email-before-a-full-stop"),
        pytest.param("ssh git@github.com:org/repo", "ssh [REDACTED:email]:org/repo", id="email-shaped-ssh"),
        pytest.param("lodash@4.17.21 and @team", None, id="no-domain"),
        pytest.param("write to josé@correo.es", "write to [REDACTED:email]", id="email-accented"),
        pytest.param("françois.dupont@example.fr,", "[REDACTED:email],", id="email-cedilla"),
        pytest.param("'o'brien@example.ie'", "'[REDACTED:email]'", id="email-apostrophe-and-quotes"),
        pytest.param("ИВАН.петров@пример.рф or Δ@ελ.gr", None, id="email-non-ascii-domain"),
        pytest.param("请联系bob@example.com谢谢", "请联系[REDACTED:email]谢谢", id="email-in-text-without-spaces"),
        pytest.param("+33 6 12 34 56 78", "[REDACTED:phone]", id="phone-fr-international"),
        pytest.param("+1 more, +15%, 1e+10", None, id="plus-without-a-number"),
        pytest.param("07.12.2024 10:30 and 2024-12-07", None, id="dates"),
        pytest.param("card 4000-0566-5566-5556.", "card [REDACTED:card].", id="card-dashes"),
        pytest.param("4000056655665557", None, id="card-not-luhn"),
        pytest.param("0000 0000 0000 0000", None, id="card-zeros-no-network"),
        pytest.param("NL91 ABNA 0417 1643 00", "[REDACTED:iban]", id="iban-grouped"),
        pytest.param("XX91ABNA0417164300", None, id="iban-no-country"),
        pytest.param("NL91ABNA0417164300X", None, id="iban-glued"),
    ],
)
def test_pii_shapes_and_their_near_misses(text: str, kept: str | None) -> None:
    assert redact_pii(text) == (text if kept is None else kept)


def test_no_redactor_when_nothing_is_asked() -> None:
    assert redactor(None) is None and redactor([]) is None


def test_one_name_as_a_string_is_taken_as_a_list() -> None:
    made = redactor("pii")  # type: ignore[arg-type]
    assert made is not None and made.names == ("email", "iban", "card", "phone")


def test_attach_passes_redact_on_and_list_attributes_are_redacted_item_by_item(db_path: Path) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    casebank.attach(provider, redact=["email"])

    @casebank.trace
    def notify(to: str) -> None:
        trace.get_current_span().set_attribute("recipients", [EMAIL, KEY, "ops"])

    notify(EMAIL)
    assert casebank.flush()
    with open_store(db_path, create=False) as store:
        (summary,) = store.recent_traces(limit=1)
        (span,) = store.trace_spans(summary.trace_id)
    assert summary.input == {"to": "[REDACTED:email]"}
    assert span["attributes"]["recipients"] == ["[REDACTED:email]", "[REDACTED:openai_key]", "ops"]
    provider.shutdown()


# -- span and event names: free text that apps format, redacted before any exporter sees them -------

SPAN_NAME = "fetch postgres://app:hunter2-Secret9@db.internal/prod"
EVENT_NAME = "mailed ana.lopez@example.com with sk-proj-" + "Evt9" * 6


@casebank.trace
def fetch_config(question: str) -> str:
    otel_trace.get_current_span().add_event(EVENT_NAME)
    with state.provider.get_tracer("support-bot").start_as_current_span(SPAN_NAME) as span:
        span.add_event(EVENT_NAME)
        return "ok"


def assert_names_redacted(spans: list[dict[str, object]]) -> None:
    names = {span["name"] for span in spans}
    assert "fetch postgres://app:[REDACTED:password]@db.internal/prod" in names, names
    events = [name for span in spans for name in span["event_names"]]  # type: ignore[attr-defined]
    assert events == ["mailed [REDACTED:email] with [REDACTED:openai_key]"] * 2
    assert "hunter2-Secret9" not in repr(spans) and "Evt9Evt9" not in repr(spans) and "ana.lopez" not in repr(spans)


def test_the_otlp_endpoint_exporter_gets_span_and_event_names_redacted(
    collector: Collector,  # noqa: F811
) -> None:
    casebank.init(otlp_endpoint=collector.url, redact=["email"])
    fetch_config("where is my config?")
    assert casebank.flush()

    assert_names_redacted(collector.spans)


def test_the_casebank_server_exporter_gets_span_and_event_names_redacted(
    receiver: Receiver,  # noqa: F811
) -> None:
    casebank.init(endpoint=receiver.url, token="t0ken", instrument=False, redact=["email"])
    fetch_config("where is my config?")
    assert casebank.flush()

    assert_names_redacted(receiver.spans)


# -- JSON values stay JSON: the store and `cases traces` parse them ----------------------------------


def cases_traces(db_path: Path) -> list[dict[str, object]]:
    """`cases traces --json` on the store, in a real subprocess: it must read every trace."""
    proc = subprocess.run(
        [sys.executable, "-m", "casebank", "traces", "--db", str(db_path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    traces: list[dict[str, object]] = json.loads(proc.stdout)
    return traces


def test_a_team_callable_that_breaks_a_json_value_is_refused_and_the_store_still_reads(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def single_quotes(text: str) -> str:  # turns JSON text into something no JSON parser reads
        return text.replace('"', "'")

    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(redact=[single_quotes, acme])
        support('order ACME-INTERNAL-7 is "urgent"')
        assert casebank.flush()

    (trace,) = cases_traces(db_path)
    # The broken result is dropped for the JSON values; the callables before and after still ran.
    assert trace["input"] == {"question": 'order [REDACTED:acme]-7 is "urgent"'}
    assert trace["output"] == 're: order [REDACTED:acme]-7 is "urgent"'
    assert state.redactor.errors >= 2  # the input and the output
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "single_quotes returned text that is no longer JSON" in warned[0], warned


@pytest.mark.parametrize(
    ("question", "stored"),
    [
        pytest.param("hi\nbob@example.com", "hi\n[REDACTED:email]", id="email-after-a-newline"),
        pytest.param("hi\u0007bob@example.com", "hi\u0007[REDACTED:email]", id="email-after-a-control-character"),
        pytest.param("call\t+44 7700 900123", "call\t[REDACTED:phone]", id="phone-after-a-tab"),
        pytest.param("call:\n415-555-0123", "call:\n[REDACTED:phone]", id="national-phone-after-a-newline"),
        pytest.param("card\n4111 1111 1111 1111", "card\n[REDACTED:card]", id="card-after-a-newline"),
        pytest.param("iban\nDE89 3704 0044 0532 0130 00", "iban\n[REDACTED:iban]", id="iban-after-a-newline"),
    ],
)
def test_pii_right_after_a_json_escape_is_redacted_and_the_json_stays_json(
    db_path: Path, question: str, stored: str
) -> None:
    # In JSON text a newline is `\n`: the `n` is no part of the address, and a marker that took it
    # would leave a lone backslash that no parser reads; nor is it a letter glued to a number.
    casebank.init(redact=["pii"])
    support(question)
    assert casebank.flush()

    (trace,) = cases_traces(db_path)
    assert trace["input"] == {"question": stored}
