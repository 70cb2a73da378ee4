"""The pytest plugin: the suite's cases as test items, active only when asked (`pytest --casebank`).

pytest loads this module in every session of anyone who has casebank installed (entry point group
`pytest11`), so at import it defines two hooks and loads nothing of casebank's runner, graders or
reports; nor does a session that does not ask for the cases (it reads the project configuration,
whose loader is light). It is asked with `--casebank [DIR]`
on the command line, or with `pytest = true` in `[tool.casebank]` (then a plain `pytest`, or a
`pytest evals/` naming the suite, runs the cases; `pytest tests/test_x.py` does not). Only then
is `_session` imported and registered: it collects the cases, runs them, and records the run.

It sits beside the CLI, above replay (import-linter holds it): like `cases run`, it is a way in
to the runner, and nothing below it imports it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from casebank.replay._config import ProjectConfig

__all__ = ["pytest_addoption", "pytest_configure"]


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
    # The project configuration is read in every session (`pytest = true` turns the plugin on);
    # its loader imports nothing of the runner.
    from casebank.errors import InvalidInput
    from casebank.replay._config import load_config

    try:
        project: ProjectConfig = load_config(config.rootpath)
    except InvalidInput as exc:
        raise pytest.UsageError(f"casebank: {exc}") from None
    if asked is None and not project.pytest:
        return
    config.addinivalue_line("markers", "casebank: a casebank case, replayed against the current code")
    from casebank.pytest_plugin._session import CasebankSession

    folder = _suite_folder(config, asked, project)
    db = project.db  # a path from the file is relative to rootdir, as the loader gives it; a URL as written
    if db is not None and "://" not in db:
        db = os.path.abspath(config.rootpath / db)
    config.pluginmanager.register(
        CasebankSession(
            config,
            folder=folder,
            db=db,
            always=asked is not None,
            # frozen_tools = true freezes every case; unset, each case says (as cases run does)
            replay_options={
                "timeout": project.timeout,
                "frozen_tools": True if project.frozen_tools else None,
                "factories": project.factories,
            },
        ),
        "casebank-session",
    )


def _suite_folder(config: pytest.Config, asked: str | None, project: ProjectConfig) -> Path:
    """DIR as typed (from the current folder, as any path argument), else the configured or default
    suite, which the loader gives relative to pytest's rootdir."""
    if asked:
        return Path(os.path.abspath(config.invocation_params.dir / asked))
    return Path(os.path.abspath(config.rootpath / project.suite))
