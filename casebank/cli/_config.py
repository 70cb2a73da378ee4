"""`cases config`: the settings in effect here, and where each came from.

The settings are the project configuration's (`casebank.replay._config`): a flag given here, then
`CASEBANK_DB` for the store, then `[tool.casebank]` in pyproject.toml or a casebank.toml found from
the current folder upwards, then the default. The same flags as `cases run` may be given, to see
what a run with them would use.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, JsonFlag, SuiteOption, print_json, project_config
from casebank.errors import InvalidInput

__all__ = ["config"]

_NO_FILE = "none (no casebank.toml, nor pyproject.toml with [tool.casebank], here or above)"
# How a value nobody set reads: what it means, not a bare "None".
_UNSET = {
    "db": ".casebank/casebank.db",
    "timeout": "none (no limit)",
    "fail_on": "regression with --baseline, else any",
    "retention_days": "none (keep every trace)",
}


@app.command()
def config(
    suite: SuiteOption = None,
    db: DbOption = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, metavar="N", help="As 'cases run --concurrency'.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", metavar="SECONDS", help="As 'cases run --timeout'.")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, metavar="K", help="As 'cases run --epochs'.")] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", metavar="any|regression|significant", help="As 'cases run --fail-on'."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the settings in effect here and where each came from: a flag, CASEBANK_DB, the file, or the default.

    The file is [tool.casebank] in pyproject.toml, or casebank.toml, found from the current
    folder upwards. Keys: suite, db, concurrency, timeout, epochs, fail_on, frozen_tools,
    factories, pytest, retention_days, redact; flags win over the file, the file over the defaults.

    \b
    Examples:
        cases config
        cases config --concurrency 4 --json
    """
    from casebank.replay._config import FAIL_ON

    settings = project_config(
        suite=suite, db=db, concurrency=concurrency, timeout=timeout, epochs=epochs, fail_on=fail_on
    )
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InvalidInput(f"--fail-on '{fail_on}' is not one of any, regression, significant - pick one")
    if as_json:
        print_json(settings.as_dict())
        return
    found = str(settings.file) if settings.file is not None else _NO_FILE
    typer.echo(f"file: {found}")
    rows = [(key, _shown(key, getattr(settings, key)), settings.source(key)) for key in settings.as_dict()["settings"]]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    for key, value, source in rows:
        typer.echo(f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}".rstrip())


def _shown(key: str, value: Any) -> str:
    if value is None:
        return _UNSET.get(key, "none")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]" if value else "[] (secrets only)"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = "{v}"' for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
