"""`cases runs`, `cases report` and `cases compare`: the stored runs, re-rendered and compared.

Wherever a command takes a RUN it accepts `latest`, any unique prefix of a run id, or a JSON file
written by `cases run --json` (a run from another machine, e.g. one CI shard). None of these
commands creates a store; `report --merge` is the one that writes, recording the joined run so
that it can serve as a baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, JsonFlag, open_store, print_json
from casebank.cli._traces import console, short_time
from casebank.errors import InvalidInput
from casebank.replay._report_formats import FormatNames
from casebank.store import Store

if TYPE_CHECKING:
    from casebank.replay._results import RunReport

__all__ = ["compare_runs", "report", "runs"]

# The metavar lists the report formats, a team's own too, when the help is shown.
FormatOption = Annotated[str, typer.Option("--format", metavar=cast(str, FormatNames()), help="How to print the run.")]


def _store_if_any(db: str | None, refs: list[str]) -> Store | None:
    """The store, unless every RUN is a JSON file (then no store is needed at all)."""
    if all(ref.endswith(".json") or Path(ref).exists() for ref in refs):
        return None
    return open_store(db)


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", min=1, metavar="N", help="Show this many runs, newest first.")] = 20,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List the recorded runs, newest first: id, time, suite hash, target, git commit, pass rate, what ran it.

    What ran a run: cli (`cases run`), pytest (`pytest --casebank`) or api (`casebank.replay.run_suite`).

    \b
    Example:
        cases runs --limit 5
    """
    from rich.table import Table
    from rich.text import Text

    with open_store(db) as store:
        rows = store.list_runs(limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("no runs yet - record one with 'cases run'")
        return
    table = Table()
    headings = ("run", "started (UTC)", "suite hash", "target", "commit", "passed", "pass rate", "status", "from")
    for heading in headings:
        table.add_column(heading, no_wrap=heading in ("run", "started (UTC)"))
    for row in rows:
        table.add_row(
            row["id"],
            short_time(row["started_at"]),
            (row["suite_hash"] or "").removeprefix("sha256:")[:12],
            Text(row["target"] or "(each case's)"),
            (row.get("git_commit") or "")[:12],
            f"{row['passed']}/{row['total']}",
            f"{(row['pass_rate'] or 0.0):.1%}",
            row.get("status") or "finished",
            row.get("origin") or "",
        )
    console().print(table)


@app.command()
def report(
    run: Annotated[
        list[str], typer.Argument(metavar="RUN...", help="A run id (any unique prefix), latest, or PATH.json.")
    ],
    output_format: FormatOption = "table",
    merge: Annotated[
        bool, typer.Option("--merge", help="Join several runs (e.g. CI shards) into one, record it, report it.")
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            metavar="RUN|latest|PATH.json",
            help="Also show regressions and fixes against this run (formats table, markdown, html).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="PATH", dir_okay=False, help="Write it to this file.", show_default=False
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print a recorded run again: a table, JSON, JUnit XML, a markdown pull-request comment or an HTML page.

    The HTML page is one self-contained file (no network references) with the pass rate over the
    stored runs as charts, overall and per tag, and each failure's expected against actual.

    \b
    Examples:
        cases report latest --format markdown
        cases report latest --format html --output report.html
        cases report --merge shard1.json shard2.json shard3.json --format junit
    """
    from casebank.cli._run import write_file
    from casebank.replay._compare import comparison_lines, comparison_markdown, load_baseline
    from casebank.replay._records import merge_reports, record
    from casebank.replay._report_formats import get_format

    chosen = get_format(output_format)
    if len(run) > 1 and not merge:
        raise InvalidInput(f"{len(run)} runs given - pass one RUN, or --merge to join them")
    if baseline is not None and output_format not in ("table", "markdown", "html"):
        raise InvalidInput(
            f"--baseline is shown by the table, markdown and html formats, not {output_format} - pick one"
        )
    store = open_store(db, create=True) if merge else _store_if_any(db, [*run, *([baseline] if baseline else [])])
    try:
        if merge:
            assert store is not None
            loaded = merge_reports([load_baseline(store, ref, role="merge") for ref in run])
            record(store, loaded)
        else:
            loaded = load_baseline(store, run[0], role="run")
        _compare_with_baseline(loaded, store, baseline, output_format)
        text = None  # the table for a terminal is printed by rich, not rendered as text
        if output is not None or chosen.show is None:
            if chosen.render_stored is not None and store is not None:  # drawn among the stored runs (charts)
                text = chosen.render_stored(loaded, store)
            else:
                text = chosen.render(loaded)
    finally:
        if store is not None:
            store.close()
    if text is None:
        assert chosen.show is not None
        chosen.show(loaded, console())
        if loaded.comparison is not None:
            for line in comparison_lines(loaded.comparison):
                console().print(line, soft_wrap=True)
    else:
        if loaded.comparison is not None and output_format == "markdown":  # the comment also says what changed
            text += "\n" + comparison_markdown(loaded.comparison)
        elif loaded.comparison is not None and output_format == "table":
            text += "".join(line + "\n" for line in comparison_lines(loaded.comparison))
        if output is None:
            sys.stdout.write(text)
            return
        write_file("--output", output, text)
        console().print(f"wrote {output}", soft_wrap=True)
    if merge:  # for people: no part of a document on stdout
        console().print(f"merged run {loaded.id} recorded")


def _compare_with_baseline(loaded: RunReport, store: Store | None, baseline: str | None, output_format: str) -> None:
    """Set `loaded.comparison`: against `--baseline` when given, else against the baseline the run
    ran with (as CI saw it), for the formats that show one."""
    from casebank.replay._compare import compare, load_baseline
    from casebank.replay._records import stored_baseline

    if baseline is not None:
        loaded.comparison = compare(load_baseline(store, baseline), loaded)
    elif store is not None and output_format in ("table", "markdown", "html"):
        if (before := stored_baseline(store, loaded)) is not None:
            loaded.comparison = compare(before, loaded)


@app.command("compare")
def compare_runs(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="The baseline: run id prefix, latest, or PATH.json.")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The run to judge against it.")],
    output_format: Annotated[
        str, typer.Option("--format", metavar="table|json|markdown", help="How to print the comparison.")
    ] = "table",
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="any|regression|significant",
            help="Exit 1 when RUN_B has any failing case, any regression, or a significant drop. Default: exit 0.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Compare two runs case by case: regressions, fixes, still failing, new, removed, and McNemar's test.

    \b
    Example:
        cases compare a1b2 latest --format markdown > comment.md
    """
    from casebank.replay._compare import (
        FAIL_ON,
        compare,
        comparison_dict,
        comparison_lines,
        comparison_markdown,
        exit_code,
        load_baseline,
    )

    if output_format not in ("table", "json", "markdown"):
        raise InvalidInput(f"--format '{output_format}' is not one of table, json, markdown - pick one")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InvalidInput(f"--fail-on '{fail_on}' is not one of {', '.join(FAIL_ON)} - pick one")
    store = _store_if_any(db, [run_a, run_b])
    try:
        comparison = compare(load_baseline(store, run_a), load_baseline(store, run_b, role="run"))
    finally:
        if store is not None:
            store.close()
    if output_format == "json":
        print_json(comparison_dict(comparison))
    elif output_format == "markdown":
        sys.stdout.write(comparison_markdown(comparison))
    else:
        out = console()
        for line in comparison_lines(comparison):
            out.print(line)
    if fail_on is not None:
        raise typer.Exit(exit_code(comparison.current, comparison, fail_on))
