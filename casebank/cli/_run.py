"""`cases run`: replay the suite against the code as it is now, grade it, record it, report it.

The exit code is the CI gate: 0 when every case passed, 1 when any failed or raised, 2 when the
suite or a target could not be used (a tampered case, an unimportable entry point). Everything
that can be checked before the run is: the suite is loaded and verified, then the store is
opened (created if missing, as on a fresh CI machine), and only then does any case run, so a
bad --db does not cost a whole replay. The replay package is imported inside the command so
that `cases --help` and the other commands do not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, SuiteOption, open_store
from casebank.errors import InvalidInput
from casebank.replay._suite import DEFAULT_SUITE

__all__ = ["run"]

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="MODULE:FUNC",
        help="Call this function for every case instead of each case's recorded entry point.",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1, help="Cases in flight at once.")]


@app.command()
def run(
    suite: SuiteOption = DEFAULT_SUITE,
    target: TargetOption = None,
    concurrency: ConcurrencyOption = 8,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", dir_okay=False, show_default=False, help="Also write the whole run as JSON here."),
    ] = None,
    junit_path: Annotated[
        Path | None,
        typer.Option("--junit", dir_okay=False, show_default=False, help="Also write a JUnit XML report here."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Replay every case in the suite against the current code and grade it; exit 1 if any case fails.

    Each case's entry point is imported from the current folder (as `python -m` does) and called
    with the case's recorded input. The run and every result are stored.

    \b
    Example:
        cases run --suite evals/ --concurrency 16 --junit reports/cases.xml
    """
    from rich.console import Console

    from casebank.replay._report import render_table, to_json, to_junit
    from casebank.replay._runner import record, run_suite
    from casebank.replay._suite import load_suite

    loaded = load_suite(suite)
    with open_store(db, create=True) as store:
        report = run_suite(loaded, target=target, concurrency=concurrency)
        record(store, report)
        store_path = store.path
    console = Console(markup=False, highlight=False, emoji=False)
    render_table(report, console)
    console.print(f"run {report.id} recorded in {store_path}", soft_wrap=True)
    for option, path, text in (("--json", json_path, to_json), ("--junit", junit_path, to_junit)):
        if path is not None:
            _write(option, path, text(report))
            console.print(f"wrote {path}", soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


def _write(option: str, path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {option} file '{path}': {exc.strerror} - pass a writable path") from None
