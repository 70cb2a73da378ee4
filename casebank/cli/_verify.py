"""`cases verify`: is the suite sound, and the store? One line a problem, exit 1 if there is one."""

from __future__ import annotations

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, SuiteOption, project_config, suite_folder

__all__ = ["verify"]


@app.command()
def verify(suite: SuiteOption = None, db: DbOption = None) -> None:
    """Check every case file (its schema and hash, ids shared by two files, files that are not cases, symlinks
    out of the folder) and the store (SQLite's integrity check, PostgreSQL's catalog, the schema version),
    reading the store without changing it: a store at an older schema is reported, not migrated.

    Prints one line a problem, naming the file or store and what to do, and exits 1; prints a one-line
    summary and exits 0 when all is sound. Without --db, a store that does not exist yet is not checked.

    \b
    Examples:
        cases verify
        cases verify --suite evals/ --db postgresql://casebank@db/casebank
    """
    from casebank.replay._verify import check_suite

    folder = suite_folder(suite)
    checked = check_suite(folder)
    problems = list(checked.problems)
    if not checked.exists and suite is not None and not problems:
        problems.append(f"suite folder '{folder}' does not exist - pass the folder that holds the case files")
    store_said, store_problems = _check_store(db)
    problems += store_problems
    for problem in problems:
        typer.echo(problem)
    cases = (
        f"{checked.cases} case{'s' if checked.cases != 1 else ''}" if checked.exists else f"no suite folder '{folder}'"
    )
    if problems:
        typer.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} ({cases}; {store_said})")
        raise typer.Exit(1)
    typer.echo(f"{cases}, {store_said}")


def _check_store(db: str | None) -> tuple[str, list[str]]:
    """(what to say of the store in the summary, its problems). Reads the store without migrating
    or writing to it (`check_store`): a store at an older schema is reported, not upgraded."""
    from casebank.errors import StoreError
    from casebank.store import check_store
    from casebank.store._open import parse_store_url

    url = db if db is not None else project_config().db
    where = parse_store_url(url)
    if db is None and where.backend == "sqlite" and where.path is not None and not where.path.exists():
        return f"no store at '{where.path}' (not checked)", []
    try:
        problems = check_store(where)
    except StoreError as exc:
        return "store not sound", [str(exc)]
    return ("store not sound" if problems else "store sound"), problems
