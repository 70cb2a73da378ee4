"""What every command shares: the --db and --suite options, opening the store, printing."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from casebank.store import Store
from casebank.store import open_store as open_store_at

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="Store: a file path or sqlite:///PATH. Default: $CASEBANK_DB, else .casebank/casebank.db here.",
        show_default=False,
    ),
]
SuiteOption = Annotated[
    Path,
    typer.Option("--suite", help="Suite folder holding the case files."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def open_store(db: str | None, *, create: bool = False) -> Store:
    """The store named by --db (or the default); commands that only read do not create one."""
    return open_store_at(db, create=create)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def parse_pairs(pairs: list[str], flag: str, example: str) -> dict[str, str]:
    """`KEY=VALUE` pairs given as `flag` (e.g. `--where`) as a dict of text; `example` shows one."""
    from casebank.errors import InvalidInput

    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{flag} '{pair}' is not KEY=VALUE - for example {flag} {example}")
        parsed[key.strip()] = value
    return parsed


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """`--option KEY=VALUE` pairs as a dict; a value is JSON where it parses (0.8, true, [..]), else text."""
    options: dict[str, Any] = {}
    for key, raw in parse_pairs(pairs, "--option", "normalize=whitespace").items():
        try:
            options[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            options[key] = raw
    return options
