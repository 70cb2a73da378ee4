"""What a run keeps of what the code produced: output, error, traceback and reason, redacted.

Issue 18: secrets are never written to the store, and a report is an artifact CI uploads. A
replay calls today's code, which may return or raise what capture would have redacted (a key
in a reply, a database URL in an error). Graders see the raw output - a grade is of what the
code produced - and then `Plan.result`, where every `CaseResult` of a run is made, puts the
output, error text, traceback and reason through this module before anything stores, prints or
hands the result on (the store's `results` row, every report format, `on_result`, pytest).

The nets are capture's own: its secret nets (`casebank.capture._redact`, light), then the PII
redactors and team callables the project config's `redact` names (`casebank.capture._pii`). An
output is redacted as its JSON text, as capture redacts an entry point's output attribute, so
the key net sees `{"api_key": ...}` and a card number that is a JSON number is found too. The
case's input and expected output are not touched: they come from traces already redacted and
are the team's own text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import orjson

from casebank._config_file import configured_redact
from casebank.capture._pii import redactor
from casebank.capture._redact import redact
from casebank.replay._results import CaseResult, RunReport

__all__ = ["Redact", "read_back", "redact_output", "result_redactor"]

Redact = Callable[[str], str]


def result_redactor(items: Iterable[str | Redact] | None = None) -> Redact:
    """Text through the secret nets, then the redactors `items` names (None: the project config's `redact`)."""
    more = redactor(configured_redact() if items is None else items)
    if more is None:
        return redact

    def both(text: str) -> str:
        return more(redact(text))

    return both


def redact_output(value: object, text: Redact) -> object:
    """A JSON-compatible output with its JSON text redacted by `text`; the same object when nothing changed.

    A redaction that leaves no JSON (a number that was a card number, a team callable's edit) gives
    the redacted JSON text as a string: the output then reads oddly, but nothing is kept."""
    if value is None or isinstance(value, bool):
        return value
    try:
        raw = orjson.dumps(value).decode()
    except TypeError:  # read back from a file: a value no run makes (an integer past 64 bits), left as it is
        return value
    redacted = text(raw)
    if redacted == raw:
        return value
    try:
        return orjson.loads(redacted)
    except orjson.JSONDecodeError:
        return redacted


def read_back(report: RunReport) -> RunReport:
    """`report`, read from the store or a file, with its results through the secret nets again.

    A run made now was redacted as it ran (`Plan.result`); one an older casebank stored, or a
    `--json` file it wrote, may hold what the code returned or raised. Idempotent on clean text,
    ~5 us a result; the project config's PII redactors are not known here, so secrets only."""
    return dataclasses.replace(report, results=[_again(result) for result in report.results])


def _again(result: CaseResult) -> CaseResult:
    return dataclasses.replace(
        result,
        output=redact_output(result.output, redact),
        reason=redact(result.reason),
        error=redact(result.error) if result.error is not None else None,
        traceback=redact(result.traceback) if result.traceback is not None else None,
    )
