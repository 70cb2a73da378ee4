"""The `cases` command. Thin: each command parses, calls the library, prints.

Errors raised on purpose (`casebank.errors`) become one line on stderr and the error's exit
code (2 usage, 1 failure); nothing else of ours prints a traceback for a user's mistake.
"""

from __future__ import annotations

import importlib
import sys

import typer

from casebank.errors import CasebankError

__all__ = ["app", "main"]

app = typer.Typer(
    name="cases",
    help="Turn an LLM product's production failures into a regression suite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    # Each module adds its commands to `app` on import.
    from casebank.cli import _demo, _import, _incidents, _judge, _run, _runs, _traces  # noqa: F401

    # After the loop's commands in `cases --help` (registration order): it is about the set-up.
    importlib.import_module("casebank.cli._config")


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        app(args=argv, prog_name="cases", standalone_mode=True)
    except CasebankError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
