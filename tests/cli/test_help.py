"""Every `cases` command has help with an example (sqlite-utils' tests/test_docs.py habit).

The command list is read from the typer app, so a new command is covered the day it is added.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.models import CommandInfo

import casebank
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
# `cases demo` works in a temporary folder of its own, `cases holdout` on the suite folder alone: no --db.
WITHOUT_DB = {"demo", "holdout"}


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


def _every_command_path() -> list[tuple[str, ...]]:
    """Every command as typed: ('run',), ('judge',), ('judge', 'calibrate'), ... read from the click app."""
    import typer

    _register()
    paths: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:  # typer's own copy of click's classes
        if path:
            paths.append(path)
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return sorted(paths)


# What typer prints when an option or argument has no metavar: a Python type where a person
# expects a word they can type.
PYTHON_TYPES = re.compile(r"<[^>\s]*>|\b(list|dict|tuple|set)\[|\b(str|int|float|bool|Path|NoneType|dict)\b(?!\w)")


@pytest.mark.parametrize("path", _every_command_path(), ids=" ".join)
def test_no_help_shows_a_python_type(path: tuple[str, ...], cases: Cases) -> None:
    result = cases(*path, "--help")
    assert result.code == 0, result.err
    options_and_arguments = result.out.partition("\nArguments:")[2] or result.out.partition("\nOptions:")[2]
    found = {m.group(0) for m in PYTHON_TYPES.finditer(options_and_arguments)}
    assert not found, f"'cases {' '.join(path)} --help' shows {sorted(found)}: give the option a metavar"


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_package_version(flag: str, cases: Cases) -> None:
    result = cases(flag)
    assert (result.code, result.out, result.err) == (0, f"cases (casebank) {casebank.__version__}\n", "")


def test_shell_completion_is_offered_and_prints_a_script(cases: Cases) -> None:
    assert "--install-completion" in cases("--help").out
    script = cases("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert script.code == 0, script.err
    assert "complete" in script.out and "_CASES_COMPLETE" in script.out
