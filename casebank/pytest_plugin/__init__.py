"""The pytest plugin: the suite's cases as test items, active only when asked (`pytest --casebank`).

pytest loads this module in every session of anyone who has casebank installed (entry point group
`pytest11`), so at import it defines two hooks and loads nothing of casebank's runner, graders or
reports; nor does a session that does not ask for the cases. It is asked with `--casebank [DIR]`
on the command line, or with `pytest = true` in `[tool.casebank]` (then a plain `pytest`, or a
`pytest evals/` naming the suite, runs the cases; `pytest tests/test_x.py` does not). Only then
is `_session` imported and registered: it collects the cases, runs them, and records the run.

It sits beside the CLI, above replay (import-linter holds it): like `cases run`, it is a way in
to the runner, and nothing below it imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casebank.pytest_plugin._config import ProjectSettings, read_project_settings

__all__ = ["pytest_addoption", "pytest_configure"]

DEFAULT_SUITE = "evals"  # as casebank.replay.DEFAULT_SUITE, which this module must not import


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("casebank", "casebank: the suite's frozen cases as tests")
    group.addoption(
        "--casebank",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        dest="casebank",
        help="Replay each case of the suite folder DIR (default: [tool.casebank] suite, else evals/) as a test.",
    )


def pytest_configure(config: pytest.Config) -> None:
    asked: str | None = config.getoption("casebank")
    try:
        settings = read_project_settings(config.rootpath, strict=asked is not None)
    except ValueError as exc:
        raise pytest.UsageError(f"casebank: {exc}") from None
    if asked is None and not settings.pytest:
        return
    config.addinivalue_line("markers", "casebank: a casebank case, replayed against the current code")
    from casebank.pytest_plugin._session import CasebankSession

    folder = _suite_folder(config, asked, settings)
    config.pluginmanager.register(
        CasebankSession(config, folder=folder, db=settings.db, always=asked is not None), "casebank-session"
    )


def _suite_folder(config: pytest.Config, asked: str | None, settings: ProjectSettings) -> Path:
    """DIR as typed (from the current folder, as any path argument), else the configured or default
    suite, from the folder that holds the configuration (pytest's rootdir)."""
    if asked:
        return Path(os.path.abspath(config.invocation_params.dir / asked))
    return Path(os.path.abspath(settings.root / (settings.suite or DEFAULT_SUITE)))
