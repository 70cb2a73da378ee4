"""`cases db copy SOURCE DEST`: copy a whole store into another (SQLite, PostgreSQL, either way).

Thin: `casebank.store._copying.copy_store` pages through each kind of record; this prints a line
a kind as it finishes, so that a long copy shows where it is.
"""

from __future__ import annotations

from typing import Annotated

import typer

from casebank.cli import app
from casebank.errors import InvalidInput
from casebank.store import open_store, parse_store_url

__all__ = ["copy"]

db_app = typer.Typer(
    name="db",
    help="Whole stores: copy one into another.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")


@db_app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="The store to copy: a file path or a store URL.")],
    dest: Annotated[
        str, typer.Argument(metavar="DEST", help="The store to copy into (made if it does not exist yet).")
    ],
) -> None:
    """Copy traces, spans, incidents, runs (with results), labels and calibrations from SOURCE to DEST.

    What DEST already holds is kept and skipped, so running the copy again copies nothing twice,
    and a copy cut short is finished by running it again. API tokens are not copied.

    \b
    Example:
        cases db copy .casebank/casebank.db postgresql://casebank@db.internal/casebank
    """
    from casebank.store._copying import copy_store

    source_url, dest_url = parse_store_url(source).absolute(), parse_store_url(dest).absolute()
    if source_url.url == dest_url.url:
        raise InvalidInput(f"SOURCE and DEST are both '{source_url.shown}' - name the store to copy into")

    def done(kind: str, copied: int, already: int) -> None:
        typer.echo(f"{kind}: {copied} copied, {already} already there")

    with open_store(source_url, create=False) as from_store, open_store(dest_url) as to_store:
        copy_store(from_store, to_store, done=done)
    typer.echo(f"copied {source_url.shown} into {dest_url.shown}")
