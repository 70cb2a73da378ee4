"""`cases prune --older-than 30d [--dry-run]`: delete old traces that no incident references.

`--older-than` is an age (`30d`, `12h`) counted back from now, or an ISO date or time (UTC unless
it says its zone); the store does the rest in one transaction (`Store.prune`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, open_store
from casebank.errors import UsageError

__all__ = ["cutoff", "prune"]

_AGE = re.compile(r"(\d+)\s*([dh])")


def cutoff(older_than: str, now: dt.datetime | None = None) -> str:
    """`--older-than` as the ISO-8601 UTC time before which traces go; UsageError if it is neither
    an age (Nd, Nh) nor an ISO date or time."""
    text = older_than.strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    if age := _AGE.fullmatch(text.lower()):
        unit = "days" if age.group(2) == "d" else "hours"
        return (now - dt.timedelta(**{unit: int(age.group(1))})).isoformat(timespec="milliseconds")
    try:
        # Python 3.10 reads no "Z" for UTC.
        when = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("z", "Z")) else text)
    except ValueError:
        raise UsageError(
            f"--older-than '{older_than}' is neither an age nor a date - "
            "write 30d, 12h or an ISO date such as 2024-05-01"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


@app.command()
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="AGE|DATE", help="Traces that started before this: 30d, 12h, or an ISO date/time."
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    db: DbOption = None,
) -> None:
    """Delete traces (and their spans) older than --older-than that no incident references.

    Incidents keep their own snapshot of their trace, and their trace stays too; labels keep the
    output they labelled. Run it from cron, or set retention_days for 'cases serve'.

    \b
    Example:
        cases prune --older-than 30d --dry-run
    """
    before = cutoff(older_than)
    with open_store(db) as store:
        gone = store.prune(before, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {gone['traces']} traces ({gone['spans']} spans) that started before {before} "
        "and that no incident references"
    )
