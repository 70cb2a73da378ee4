"""`cases list / show / dismiss / promote`: look at incidents, close them, freeze them into cases.

With `cases annotate` (its own module, `_annotate.py`, registered here between `show` and
`dismiss`) these are the loop from a flagged incident to a frozen case. Every command takes an
incident id or any unique prefix of it (or of its trace id), as git does. `promote` refuses a
case its grader would not have caught (`casebank.replay._promote`), saying which half of the
check did not hold and how to fix it.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from casebank.cli import app
from casebank.cli._annotate import AnnotateCommand, IdArgument, annotate, indented, readable
from casebank.cli._audit import promote_warnings
from casebank.cli._common import DbOption, JsonFlag, SuiteOption, open_store, print_json, suite_folder
from casebank.cli._traces import console, preview, short_time
from casebank.cli._tree import span_tree
from casebank.errors import InvalidInput
from casebank.replay._promote import promote_checked
from casebank.store import Incident

__all__: list[str] = []


class ListStatus(str, Enum):
    """What `cases list --status` accepts: `open` (flagged or annotated), one status, or `all`."""

    open = "open"
    flagged = "flagged"
    annotated = "annotated"
    promoted = "promoted"
    dismissed = "dismissed"
    all = "all"


# -- list ----------------------------------------------------------------------------------------


@app.command("list")
def list_incidents(
    db: DbOption = None,
    status: Annotated[
        ListStatus,
        typer.Option(
            "--status",
            "-s",
            metavar="|".join(s.value for s in ListStatus),
            help="Which incidents: open (flagged and annotated), one status, or all.",
        ),
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
    out.print(indented(readable(incident.input)))
    out.print("\nbad output")
    if incident.output is None and incident.error:
        out.print("  (none: the call raised)")
    else:
        out.print(indented(readable(incident.output)))
    if incident.error:
        out.print(f"\nerror\n{indented(incident.error)}")
    if incident.spans:
        out.print("\nspans")
        out.print(span_tree(incident.spans))
    if incident.has_expected:
        grader = incident.grader or {"name": "exact", "options": {}}
        options = " ".join(f"{k}={_option_text(v)}" for k, v in sorted((grader.get("options") or {}).items()))
        out.print("\nexpected")
        out.print(indented(readable(incident.expected)))
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
        return f"cases annotate {incident.id} --reopen ... reopens it"
    return "cases run"


# -- annotate (casebank/cli/_annotate.py), registered here: the loop's order in `cases --help` ------

app.command(cls=AnnotateCommand)(annotate)


# -- dismiss / promote ---------------------------------------------------------------------------


@app.command()
def dismiss(
    incident_id: IdArgument,
    reason: Annotated[str, typer.Option("--reason", "-r", metavar="TEXT", help="Why this is not a bug worth a case.")],
    db: DbOption = None,
) -> None:
    """Close an incident without a case (not a bug, a duplicate, ...). 'cases annotate --reopen' reopens it.

    \b
    Example:
        cases dismiss 3f9a --reason "the customer misread the answer"
    """
    if not reason.strip():
        raise InvalidInput("--reason is empty - say why the incident is dismissed")
    with open_store(db) as store:
        incident = store.dismiss(store.resolve_incident(incident_id).id, reason)
    typer.echo(f"dismissed incident {incident.id}")


@app.command()
def promote(
    incident_id: IdArgument,
    suite: SuiteOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the grader would not have caught the incident (recorded).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Freeze an annotated incident into a case file in the suite folder; prints the file's path.

    The grader must pass the expected output and fail the flagged bad output, or the case
    would not have caught the incident and promotion is refused; --force promotes anyway and
    records it in the case.

    The cheap audits (size, graders) then look at the new case and print warnings; they never
    refuse it ('cases audit' runs every audit on the whole suite).

    \b
    Example:
        cases promote 3f9a --suite evals/
    """
    suite = suite_folder(suite)
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
        path, check = promote_checked(store, incident, suite, force=force)
        warnings = promote_warnings(suite, incident.id, store)
    if not check.holds:  # only --force gets here
        sys.stderr.write(f"warning: promoted with --force although {check.problem()}\n")
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")
    typer.echo(str(path))
