"""What every command shares: the --db and --suite options, the project config, opening the store, printing.

`--db` and `--suite` default to None, meaning "not given", so that the project config
(`casebank.replay._config`: flag, then CASEBANK_DB for the store, then the file, then the default)
decides; `open_store` and `suite_folder` apply it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from casebank.store import Store
from casebank.store import open_store as open_store_at

if TYPE_CHECKING:
    from casebank.replay._config import ProjectConfig

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="Store: a file path, sqlite:///PATH or postgresql://USER@HOST/DB. Default: $CASEBANK_DB, "
        "else db in the project config, else .casebank/casebank.db here.",
        show_default=False,
    ),
]
SuiteOption = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        metavar="DIR",
        help="Suite folder holding the case files. Default: suite in the project config, else evals.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def project_config(**flags: Any) -> ProjectConfig:
    """The project's settings (`cases config` shows them), with the flags that were given winning."""
    from casebank.replay._config import load_config

    return load_config().with_flags(**flags)


def suite_folder(suite: Path | None) -> Path:
    """The suite folder: --suite, else the project config's, else evals."""
    return suite if suite is not None else project_config().suite


def open_store(db: str | None, *, create: bool = False) -> Store:
    """The store named by --db, else CASEBANK_DB, else the project config's, else the default;
    commands that only read do not create one."""
    return open_store_at(db if db is not None else project_config().db, create=create)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


# Columns of a table printed to a file or a CI log: no terminal to fit, and a cell cut to "fin…"
# there is lost, so as wide as the content needs (tables still wrap past this).
PIPED_WIDTH = 1000


def output_width() -> int | None:
    """The width for rich when stdout is not a terminal and COLUMNS does not say one; else None (rich's own)."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return PIPED_WIDTH


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
