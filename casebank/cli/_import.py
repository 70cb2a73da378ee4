"""`cases import`: an eval set a team already has becomes frozen cases in the suite folder.

Thin: the library (`casebank.replay._importers`) reads, checks and writes all rows or none; this
command prints what it wrote, or every row it could not import (file:line: reason, on stderr)
before the one-line error that exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from casebank._words import count
from casebank.cli import app
from casebank.cli._common import DbOption, SuiteOption, parse_options, suite_folder

__all__ = ["import_"]

# Enough to fix a file by; the rest are counted, not printed.
_SHOWN_PROBLEMS = 50


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="The eval set to import.", show_default=False)],
    entrypoint: Annotated[
        str,
        typer.Option(
            "--entrypoint",
            metavar="MODULE:FUNC",
            help="The function every imported case replays (imported to read its parameters).",
            show_default=False,
        ),
    ],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="jsonl|csv|promptfoo|openai-evals",
            help="Default: from the name (.jsonl, .csv, promptfooconfig*.yaml).",
            show_default=False,
        ),
    ] = None,
    grader: Annotated[
        str | None,
        typer.Option(
            "--grader",
            "-g",
            metavar="NAME",
            help="Grader of rows that do not name their own (default exact).",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            metavar="KEY=VALUE",
            help="An option of --grader, repeatable; VALUE is JSON if it parses, else text.",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG", help="Add this tag to every case (repeatable).", show_default=False),
    ] = None,
    suite: SuiteOption = None,
    db: DbOption = None,  # taken as by every command; an import writes case files, not the store
) -> None:
    """Import an existing eval set as frozen cases (all rows, or none).

    Formats: jsonl - one {"input": {...by name...} | "text", "expected": ..., "grader": ...,
    "tags": [...]} a line; csv - columns input (text for the first parameter), expected, and
    optionally grader, tags (comma-separated) and columns named after parameters; promptfoo -
    tests: with vars and equals/contains/icontains/not-contains/regex/is-json asserts;
    openai-evals - samples with input (text or chat messages) and ideal (a list means one_of).
    A text input goes to the entry point's first parameter. Importing the same file again
    adds nothing: the same file, line and content give the same case id. The store (--db) is
    not touched: cases are files, to commit.

    \b
    Examples:
        cases import evals.jsonl --entrypoint support_bot.bot:answer --tag imported
        cases import golden.csv --entrypoint support_bot.bot:answer --grader contains --option ignore_case=true
        cases import promptfooconfig.yaml --entrypoint support_bot.bot:answer --suite evals/
        cases import samples.jsonl --format openai-evals --entrypoint support_bot.bot:answer
    """
    from casebank.replay._importers import ImportRejected, import_cases

    suite = suite_folder(suite)
    try:
        result = import_cases(
            path,
            entrypoint=entrypoint,
            format=format,
            grader=grader,
            options=parse_options(option or []),
            tags=tag or [],
            suite_dir=suite,
        )
    except ImportRejected as exc:
        for problem in exc.problems[:_SHOWN_PROBLEMS]:
            sys.stderr.write(f"{exc.file}:{problem.line}: {problem.reason}\n")
        if len(exc.problems) > _SHOWN_PROBLEMS:
            sys.stderr.write(f"... and {len(exc.problems) - _SHOWN_PROBLEMS} more\n")
        raise
    already = f", {len(result.existing)} already in the suite (same file, line and content)" if result.existing else ""
    counts = f"{len(result.written)} new{already}"
    typer.echo(f"imported {count(result.total, 'case')} from {result.file} ({result.format}): {counts}")
    for written in result.written:
        typer.echo(f"  {written}")
    if result.ignored_columns:
        typer.echo(f"ignored columns (not parameters of {entrypoint}): {', '.join(result.ignored_columns)}")
    typer.echo(f"next: cases run --suite {suite}")
