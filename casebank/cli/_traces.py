"""`cases status`, `cases traces` and `cases flag`: what the store holds, and turning a trace into an incident.

These commands only read the store, except `flag`, and none of them creates one: a mistyped
`--db` should say "no store here", not leave an empty database behind. `flag` prints the
incident id alone on stdout so that a support script can capture it with `$(cases flag ...)`.
Tables keep the full 32-hex trace id on one line, because support tooling copies it.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import deque
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from casebank._flag import flag_in
from casebank._words import count
from casebank.cli import app
from casebank.cli._common import (
    DbOption,
    JsonFlag,
    SuiteOption,
    open_store,
    output_width,
    parse_pairs,
    print_json,
    suite_folder,
)
from casebank.errors import InvalidInput, UsageError
from casebank.replay._suite import count_cases, load_suite
from casebank.store import Store, TraceSummary
from casebank.store._attributes import describe

__all__ = ["console", "preview", "short_time"]


def console() -> Console:
    # soft_wrap: long lines are left to the terminal, so a copied value has no inserted breaks.
    # markup off: inputs and outputs are the product's text, and "[b]" in a ticket is not a style.
    # Piped (a CI log, a file): as wide as the content, not 80 columns with cells cut to "fin…".
    return Console(markup=False, highlight=False, emoji=False, soft_wrap=True, width=output_width())


def preview(value: Any, limit: int = 40) -> str:
    """One line of at most `limit` characters: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_time(iso: str | None) -> str:
    """`2024-05-01T12:00:03.123+00:00` -> `2024-05-01 12:00:03` (times are stored in UTC)."""
    if not iso:
        return ""
    return iso[:19].replace("T", " ")


@app.command()
def status(db: DbOption = None, suite: SuiteOption = None, as_json: JsonFlag = False) -> None:
    """Show what the store holds: traces, incidents by status, cases in the suite, dropped spans.

    \b
    Example:
        cases status --suite evals/
    """
    with open_store(db) as store:
        counts = store.counts()
    suite = suite_folder(suite)
    cases = count_cases(suite)
    if as_json:
        print_json(
            {
                "store": str(counts.location),
                "traces": counts.traces,
                "spans": counts.spans,
                "incidents": counts.incidents,
                "suite": str(suite),
                "cases": cases,
                "dropped_spans": counts.dropped_spans,
                "runs": counts.runs,
            }
        )
        return
    incidents = ", ".join(f"{n} {name}" for name, n in counts.incidents.items())
    lines = [
        ("store", str(counts.location)),
        ("traces", f"{counts.traces} ({count(counts.spans, 'span')})"),
        ("incidents", incidents),
        ("cases", f"{cases} in {suite}"),
        ("runs", str(counts.runs)),
        (
            "dropped",
            count(counts.dropped_spans, "span") + (" - the capture queue was full" if counts.dropped_spans else ""),
        ),
    ]
    for label, value in lines:
        typer.echo(f"{label:<10} {value}")


@app.command()
def traces(
    db: DbOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="How many traces to show, newest first.", min=1)
    ] = 20,
    as_json: JsonFlag = False,
    uncovered: Annotated[
        bool,
        typer.Option(
            "--uncovered",
            help="Only traces of the last --days whose input no case of the suite resembles (as 'cases audit "
            "coverage' judges): the traffic support should review first.",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option("--days", metavar="N", help="With --uncovered: how many days back to look.", min=1)
    ] = 7,
    suite: SuiteOption = None,
) -> None:
    """List recent traces, newest first: id, entry point, time (UTC), status, input and output.

    Copy a trace id from here to flag it.

    \b
    Examples:
        cases traces --limit 5
        cases traces --uncovered --days 7 --suite evals/
    """
    with open_store(db) as store:
        rows = _uncovered(store, suite, days, limit) if uncovered else store.recent_traces(limit)
    if uncovered and not rows and not as_json:
        typer.echo(f"every trace of the last {days} days resembles a case of the suite")
        return
    if as_json:
        print_json([_trace_json(t) for t in rows])
        return
    if not rows:
        typer.echo("no traces yet - decorate the app's entry point with @casebank.trace and call casebank.init()")
        return
    out = console()
    out.print(_wide_table(rows) if out.width >= WIDE else _stacked_table(rows))


def _uncovered(store: Store, suite: Path | None, days: int, limit: int) -> list[TraceSummary]:
    """The newest `limit` traces of the last `days` that no case resembles (with no suite: all)."""
    from casebank.audit._coverage import uncovered_traces  # MinHash and numpy: only when asked

    folder = suite_folder(suite)
    cases = load_suite(folder).cases if count_cases(folder) else []
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
    newest: deque[TraceSummary] = deque(uncovered_traces(store, cases, since), maxlen=limit)
    return list(reversed(newest))


# Below this width a one-line row cannot hold the 32-hex id, the time, the entry point and any
# preview, so each trace takes three lines instead of losing its id or its preview.
WIDE = 130


def _shown_output(t: TraceSummary) -> str:
    return preview(t.error if t.status == "error" and t.error else t.output, 60)


def _wide_table(rows: list[TraceSummary]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("trace id", no_wrap=True, min_width=32)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("entry point", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("input", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("output", no_wrap=True, overflow="ellipsis", ratio=1)
    for t in rows:
        table.add_row(
            t.trace_id,
            short_time(t.started_at),
            Text(t.status or "", style="red" if t.status == "error" else ""),
            t.entrypoint or t.name or "",
            preview(t.input, 60),
            _shown_output(t),
        )
    return table


def _stacked_table(rows: list[TraceSummary]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("trace id / time (UTC), status", no_wrap=True, min_width=32)
    table.add_column("entry point / input / output", no_wrap=True, overflow="ellipsis")
    for t in rows:
        when = Text(f"{short_time(t.started_at)} ")
        when.append(t.status or "", style="red" if t.status == "error" else "")
        table.add_row(
            Text(t.trace_id + "\n") + when,
            Text(f"{t.entrypoint or t.name or ''}\nin:  {preview(t.input, 60)}\nout: {_shown_output(t)}"),
        )
    return table


def _trace_json(t: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": t.trace_id,
        "name": t.name,
        "entrypoint": t.entrypoint,
        "started_at": t.started_at,
        "duration_ms": t.duration_ms,
        "status": t.status,
        "error": t.error,
        "input": t.input,
        "output": t.output,
        "span_count": t.span_count,
        "attributes": t.attributes,
    }


@app.command()
def flag(
    reason: Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="What was wrong with the answer.")],
    trace_id: Annotated[
        str | None,
        typer.Argument(
            metavar="TRACE_ID",
            help="The 32-hex trace id, as casebank.current_trace_id() returned it, or any unique prefix of it.",
            show_default=False,
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            metavar="KEY=VALUE",
            help="Instead of TRACE_ID: the trace carrying this attribute (from casebank.set_attributes); repeatable.",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who flagged it (a name or an email).")] = None,
    db: DbOption = None,
) -> None:
    """Flag a trace as a bad answer; prints the incident id and nothing else.

    Name the trace by its id, or with --where by an attribute the app attached with
    casebank.set_attributes (a ticket id, a user id). Flagging the same trace again returns the
    same incident and keeps every reason.

    \b
    Examples:
        cases flag 4bf92f3577b34da6a3ce929d0e0e4736 --reason "quoted the wrong refund window" --by ana
        cases flag --where ticket_id=8812 --reason "quoted the wrong refund window"
    """
    if (trace_id is None) == (not where):
        raise UsageError("name the trace with a TRACE_ID or with --where KEY=VALUE - exactly one of them")
    if not reason.strip():
        raise InvalidInput("--reason is empty - say what was wrong with the answer")
    attributes = parse_pairs(where or [], "--where", "ticket_id=123")  # before the store: bad input first
    with open_store(db) as store:
        given = trace_id.strip().lower() if trace_id is not None else None
        incident_id, held = flag_in(store, given, attributes if trace_id is None else None, reason, flagged_by=by)
        location = store.location
    if held:  # only a casebank server holds a flag for a trace it has not received
        what = f"trace {given}" if given is not None else f"the trace with {describe(attributes)}"
        sys.stderr.write(f"held: {what} has not reached {location} yet - the server flags it when it arrives\n")
    if incident_id is not None:
        typer.echo(incident_id)
