"""Every `cases` command has help with an example (sqlite-utils' tests/test_docs.py habit).

The command list is read from the typer app, so a new command is covered the day it is added.
"""

from __future__ import annotations

import pytest
from typer.models import CommandInfo

from casebank.cli import _register, app
from tests.cli.conftest import Cases


def _commands() -> dict[str, CommandInfo]:
    _register()
    commands = {}
    for info in app.registered_commands:
        # typer names a command after its function unless @app.command("name") says otherwise
        name = info.name or (info.callback.__name__.replace("_", "-") if info.callback else "")
        commands[name] = info
    return commands


COMMANDS = sorted(_commands())
# `cases demo` works in a temporary folder of its own, so it is the one command without --db.
WITHOUT_DB = {"demo"}


def test_the_contracts_commands_are_all_registered() -> None:
    expected = {"status", "traces", "flag", "list", "show", "annotate", "dismiss", "promote"}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_docstring_with_an_example(command: str) -> None:
    info = _commands()[command]
    doc = info.callback.__doc__ if info.callback else None
    assert doc and "Example" in doc, f"'cases {command}' needs a docstring with an Example line"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_exits_0_and_shows_an_example(command: str, cases: Cases) -> None:
    result = cases(command, "--help")
    assert result.code == 0, result.err
    assert "Example" in result.out
    assert f"cases {command}" in result.out  # the example shows the command as a user types it
    if command not in WITHOUT_DB:
        assert "--db" in result.out


def test_the_top_level_help_lists_every_command(cases: Cases) -> None:
    result = cases("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out
