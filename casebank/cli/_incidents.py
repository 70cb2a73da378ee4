"""`cases list / show / annotate / dismiss / promote`: from a flagged incident to a frozen case.

Every command takes an incident id or any unique prefix of it (or of its trace id), as git
does. `annotate` checks everything it was given - the expected output parses, the grader
exists and accepts its options - before it writes anything, so a typo never leaves a
half-annotated incident behind. Expected output comes from exactly one place: `--expected`
(text), `--expected-json`, `--expected-file`, or, on a terminal only, `$EDITOR` with a template
that shows what was flagged; a script that forgets the option gets a usage error, not a hung
editor.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import click
import orjson
import typer
from rich.table import Table

from casebank.cli import app
from casebank.cli._common import DbOption, JsonFlag, SuiteOption, is_interactive, open_store, parse_options, print_json
from casebank.cli._traces import console, preview, short_time
from casebank.cli._tree import span_tree
from casebank.errors import InvalidInput, UsageError
from casebank.replay._promote import promote_checked, sanity_check
from casebank.replay._suite import DEFAULT_SUITE
from casebank.replay.graders import GRADERS, make_grader
from casebank.store import Incident

__all__: list[str] = []

IdArgument = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="Incident id, or any unique prefix of it (or of its trace id).", show_default=False
    ),
]


class ListStatus(str, Enum):
    """What `cases list --status` accepts: `open` (flagged or annotated), one status, or `all`."""

    open = "open"
    flagged = "flagged"
    annotated = "annotated"
    promoted = "promoted"
    dismissed = "dismissed"
    all = "all"


def _text(value: Any) -> str:
    """A value as a person reads it: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix.rstrip()


# -- list ----------------------------------------------------------------------------------------


@app.command("list")
def list_incidents(
    db: DbOption = None,
    status: Annotated[
        ListStatus,
        typer.Option("--status", "-s", help="Which incidents: open (flagged and annotated), one status, or all."),
    ] = ListStatus.open,
    as_json: JsonFlag = False,
) -> None:
    """List incidents, newest first. By default only open ones: flagged or annotated, not yet promoted.

    --json prints every field but the span snapshot; 'cases show ID --json' has that too.

    \b
    Example:
        cases list --status all --json
    """
    with open_store(db) as store:
        if status is ListStatus.open:
            incidents = [i for i in store.list_incidents("all") if i.status in ("flagged", "annotated")]
        else:
            incidents = store.list_incidents(status.value)
    if as_json:
        rows = []
        for incident in incidents:
            row = incident.as_dict()
            row["span_count"] = len(row.pop("spans"))
            rows.append(row)
        print_json(rows)
        return
    if not incidents:
        what = "open incidents" if status is ListStatus.open else f"incidents with status {status.value}"
        typer.echo(f"no {what} - flag a trace with 'cases flag TRACE_ID --reason TEXT'")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    # The id and the time never shrink: the id is what every other command takes.
    table.add_column("id", no_wrap=True, min_width=max(len(i.id) for i in incidents))
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("flagged (UTC)", no_wrap=True, min_width=19)
    table.add_column("entry point", no_wrap=True, overflow="ellipsis", min_width=10, max_width=40)
    table.add_column("reason", no_wrap=True, overflow="ellipsis", min_width=12, ratio=1)
    for incident in incidents:
        reason = incident.reasons[-1]["reason"] if incident.reasons else ""
        if len(incident.reasons) > 1:
            reason = f"({len(incident.reasons)}x) {reason}"
        table.add_row(
            incident.id,
            incident.status,
            short_time(incident.flagged_at),
            incident.entrypoint or "",
            preview(reason, 50),
        )
    console().print(table)


# -- show ----------------------------------------------------------------------------------------


@app.command()
def show(incident_id: IdArgument, db: DbOption = None, as_json: JsonFlag = False) -> None:
    """Show an incident: why it was flagged, the input, the bad output, its spans and any annotation.

    \b
    Example:
        cases show 3f9a
    """
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
    if as_json:
        print_json(incident.as_dict())
        return
    out = console()
    out.print(f"incident   {incident.id} ({incident.status})")
    out.print(f"trace      {incident.trace_id}")
    out.print(f"entry      {incident.entrypoint or '(none recorded)'}")
    out.print(f"flagged    {short_time(incident.flagged_at)} UTC")
    out.print("\nreasons")
    for r in incident.reasons:
        who = f" - {r['flagged_by']}" if r.get("flagged_by") else ""
        out.print(f"  {short_time(r.get('flagged_at'))}{who}: {r['reason']}")
    out.print("\ninput")
    out.print(_indent(_text(incident.input)))
    out.print("\nbad output")
    if incident.output is None and incident.error:
        out.print("  (none: the call raised)")
    else:
        out.print(_indent(_text(incident.output)))
    if incident.error:
        out.print(f"\nerror\n{_indent(incident.error)}")
    if incident.spans:
        out.print("\nspans")
        out.print(span_tree(incident.spans))
    if incident.has_expected:
        grader = incident.grader or {"name": "exact", "options": {}}
        options = " ".join(f"{k}={_option_text(v)}" for k, v in sorted((grader.get("options") or {}).items()))
        out.print("\nexpected")
        out.print(_indent(_text(incident.expected)))
        out.print(f"grader     {grader.get('name')}" + (f" ({options})" if options else ""))
        if incident.tags:
            out.print(f"tags       {', '.join(incident.tags)}")
    if incident.status == "dismissed":
        out.print(f"\ndismissed: {incident.dismissed_reason}")
    if incident.case_path:
        out.print(f"\ncase       {incident.case_path}")
    out.print(f"\nnext: {_next_step(incident)}")


def _option_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _next_step(incident: Incident) -> str:
    if incident.status == "flagged":
        return f"cases annotate {incident.id} --expected TEXT   (or: cases dismiss {incident.id} --reason TEXT)"
    if incident.status == "annotated":
        return f"cases promote {incident.id}"
    if incident.status == "dismissed":
        return f"cases annotate {incident.id} ... reopens it"
    return "cases run"


# -- annotate ------------------------------------------------------------------------------------


def _expected_from_options(expected: str | None, expected_json: str | None, expected_file: Path | None) -> Any:
    """The expected output from whichever one option was given; `...` when none was."""
    given = [
        name
        for name, v in (
            ("--expected", expected),
            ("--expected-json", expected_json),
            ("--expected-file", expected_file),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise UsageError(f"pass only one of {', '.join(given)} - each one sets the expected output")
    if expected is not None:
        return expected
    if expected_json is not None:
        try:
            return orjson.loads(expected_json)
        except orjson.JSONDecodeError as exc:
            shown = preview(expected_json, 60)
            raise InvalidInput(
                f"--expected-json '{shown}' is not valid JSON ({exc}) - a JSON string needs quotes: '\"text\"'"
            ) from None
    if expected_file is not None:
        return _read_expected_file(expected_file)
    return ...


def _read_expected_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read --expected-file '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--expected-file '{path}' is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"--expected-file '{path}' is not valid JSON ({exc}) - fix it, or use a .txt file"
            ) from None
    # An editor ends a file with a newline; the answer being described almost never does.
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


_TEMPLATE_HELP = """\
# Write the expected output for incident {id} below these comment lines.
# {kind}
# Lines starting with '#' are ignored; an empty result leaves the incident unchanged.
# (For an answer with lines starting with '#', use --expected-file instead.)
#"""


def _template(incident: Incident, structured: bool) -> str:
    kind = (
        "The flagged output was structured, so write the expected output as JSON."
        if structured
        else "It is taken as text; leading and trailing blank lines are dropped."
    )
    parts = [_TEMPLATE_HELP.format(id=incident.id, kind=kind), "# entry point: " + (incident.entrypoint or "?")]
    parts.append("# reasons:")
    # one line each: a line break in a reason must not leak into the expected output
    parts.extend(f"#   - {' '.join(str(r['reason']).split())}" for r in incident.reasons)
    parts.append("# input:")
    parts.append(_indent(_text(incident.input), "#   "))
    parts.append("# bad output:")
    parts.append(_indent(_text(incident.output), "#   "))
    if incident.has_expected:
        parts.append("# current expected output:")
        parts.append(_indent(_text(incident.expected), "#   "))
    return "\n".join(parts) + "\n\n"


def _expected_from_editor(incident: Incident) -> Any:
    """Open $EDITOR on the template; `...` when the user left it empty."""
    structured = incident.output is not None and not isinstance(incident.output, str)
    edited = click.edit(
        _template(incident, structured), extension=".json" if structured else ".txt", require_save=False
    )
    if edited is None:
        return ...
    text = "\n".join(line for line in edited.splitlines() if not line.startswith("#")).strip("\n")
    if not text.strip():
        return ...
    if structured:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"the expected output from the editor is not valid JSON ({exc}) - run annotate again, "
                "or pass --expected TEXT for a text answer"
            ) from None
    return text


@app.command()
def annotate(
    incident_id: IdArgument,
    expected: Annotated[
        str | None, typer.Option("--expected", "-e", metavar="TEXT", help="The expected output, as text.")
    ] = None,
    expected_json: Annotated[
        str | None,
        typer.Option("--expected-json", metavar="JSON", help="The expected output as JSON (a structured answer)."),
    ] = None,
    expected_file: Annotated[
        Path | None,
        typer.Option(
            "--expected-file",
            metavar="PATH",
            help="Read the expected output from a file: JSON if it ends in .json, else text (final newline dropped).",
            dir_okay=False,
        ),
    ] = None,
    grader: Annotated[
        str,
        typer.Option("--grader", "-g", metavar="NAME", help=f"How a replay is judged: {', '.join(sorted(GRADERS))}."),
    ] = "exact",
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY=VALUE",
            help="A grader option KEY=VALUE, repeatable; VALUE is JSON if it parses, else text.",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", metavar="TAG", help="A tag for the case, repeatable.")
    ] = None,
    suite: SuiteOption = DEFAULT_SUITE,
    db: DbOption = None,
) -> None:
    """Record what the answer should have been, and how to judge a replay against it.

    Give the expected output with exactly one of --expected, --expected-json or --expected-file.
    On a terminal, with none of them, $EDITOR opens on a template showing the input, the
    reasons and the bad output. Graders: exact (--option normalize=whitespace|case|both),
    contains (--option ignore_case=true), not_contains (--option substring=TEXT), regex
    (--option pattern=REGEX), one_of (expected: a JSON list), json_valid, json_schema (--option
    schema=JSON or schema_file=PATH), json_fields (expected: {"path.to[0].field": value}, --option
    tolerance=N), numeric (--option abs=N rel=N), python_compiles, python_tests (expected: test
    code), sql_rows (--option database=PATH), embedding (--option threshold=0.8
    numbers=strict|off base_url=URL model=NAME), llm_judge (--option rubric=TEXT|rubric_file=PATH
    model=NAME provider=openai|anthropic pass='score >= 0.7'), python (--option
    function=MODULE:NAME), all / any (--option graders=JSON). File paths are relative to the
    suite folder (--suite, default evals/). Annotating again replaces the annotation; annotating a dismissed incident
    reopens it.

    \b
    Example:
        cases annotate 3f9a --expected "Refunds are accepted within 30 days." --tag refunds
        cases annotate 3f9a --grader regex --option pattern='30 days' --expected "within 30 days"
        cases annotate 3f9a --suite qa/ -g json_schema -o schema_file=refund.json --expected-json '{"days": 30}'
    """
    value = _expected_from_options(expected, expected_json, expected_file)
    spec = make_grader({"name": grader, "options": parse_options(option or [])}, base_dir=suite).spec()
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
        if incident.status == "promoted":
            raise UsageError(
                f"incident {incident.id} is already promoted as '{incident.case_path}' - a case is frozen; "
                "flag a new trace to record a different expectation"
            )
        if value is ...:
            if not is_interactive():
                raise UsageError(
                    "give the expected output with --expected TEXT, --expected-json JSON or --expected-file PATH "
                    "(the editor opens only on a terminal)"
                )
            value = _expected_from_editor(incident)
            if value is ...:
                typer.echo(f"no expected output given - incident {incident.id} is unchanged")
                return
        incident = store.annotate(incident.id, expected=value, grader=spec, tags=tag or [])
    typer.echo(f"annotated incident {incident.id} (grader {spec['name']})")
    check = sanity_check(incident, base_dir=suite)
    if check.holds:
        typer.echo(
            f"the grader passes the expected output and fails the flagged one - next: cases promote {incident.id}"
        )
    else:
        typer.echo(f"warning: {check.problem()} - promote would refuse this case", err=True)


# -- dismiss / promote ---------------------------------------------------------------------------


@app.command()
def dismiss(
    incident_id: IdArgument,
    reason: Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="Why this is not a bug worth a case.")],
    db: DbOption = None,
) -> None:
    """Close an incident without a case (not a bug, a duplicate, ...). Annotating it reopens it.

    \b
    Example:
        cases dismiss 3f9a --reason "the customer misread the answer"
    """
    if not reason.strip():
        raise InvalidInput("--reason is empty - say why the incident is dismissed")
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
        if incident.status == "promoted":
            raise UsageError(
                f"incident {incident.id} is already promoted as '{incident.case_path}' - remove that case file instead"
            )
        store.dismiss(incident.id, reason.strip())
    typer.echo(f"dismissed incident {incident.id}")


@app.command()
def promote(
    incident_id: IdArgument,
    suite: SuiteOption = DEFAULT_SUITE,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the grader would not have caught the incident (recorded).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Freeze an annotated incident into a case file in the suite folder; prints the file's path.

    The grader must pass the expected output and fail the flagged bad output, or the case
    would not have caught the incident and promotion is refused; --force promotes anyway and
    records it in the case.

    \b
    Example:
        cases promote 3f9a --suite evals/
    """
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
        path, check = promote_checked(store, incident, suite, force=force)
    if not check.holds:  # only --force gets here
        sys.stderr.write(f"warning: promoted with --force although {check.problem()}\n")
    typer.echo(str(path))
