"""The `cases` command. Thin: each command parses, calls the library, prints.

Errors raised on purpose (`casebank.errors`) become one line on stderr and the error's exit
code (2 usage, 1 failure); nothing else of ours prints a traceback for a user's mistake.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperArgument

from casebank._version import __version__
from casebank.errors import CasebankError

__all__ = ["app", "main"]

app = typer.Typer(
    name="cases",
    help="Turn an LLM product's production failures into a regression suite.",
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _no_type_after_a_metavar() -> None:
    """Help shows an argument as its metavar alone ("ID"), not with its Python type ("ID <str>").

    typer >= 0.20 appends the annotation's type to every argument's name in help, even where a
    metavar already says what to type; people read "<str>" and "<list[str]>" as noise.
    """
    original = getattr(TyperArgument, "display_type_rich", None)
    if original is None or getattr(original, "_casebank", False):
        return

    def display_type_rich(self: TyperArgument, ctx: Any) -> str | None:
        return None if self.metavar is not None else original(self, ctx)

    display_type_rich._casebank = True  # type: ignore[attr-defined]
    TyperArgument.display_type_rich = display_type_rich  # type: ignore[method-assign,assignment]


_no_type_after_a_metavar()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cases (casebank) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    """Turn an LLM product's production failures into a regression suite."""


def _register() -> None:
    # Each module adds its commands to `app` on import.
    from casebank.cli import _db, _demo, _import, _incidents, _judge, _prune, _run, _runs, _token, _traces  # noqa: F401

    for name in ("_audit", "_holdout", "_verify"):  # after `run`: they check and split what `run` measures
        importlib.import_module(f"casebank.cli.{name}")
    # After the loop's commands in `cases --help` (registration order): it is about the set-up.
    importlib.import_module("casebank.cli._config")
    importlib.import_module("casebank.cli._serve")


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        app(args=argv, prog_name="cases", standalone_mode=True)
    except CasebankError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
