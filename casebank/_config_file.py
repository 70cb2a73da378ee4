"""The project config's `redact` key, read for `casebank.init()` without loading the runner.

`casebank.replay._config` reads and checks the whole file for the `cases` commands; `init()`,
which runs inside the product, needs one key of it and must stay light (`import casebank` loads
no runner, pydantic or jsonschema) and must never raise. So this leaf finds the file as
`find_config` does - from the current folder upwards, the first `casebank.toml`, or
`pyproject.toml` with a `[tool.casebank]` table - and reads only `redact`, with `tomllib`
(`tomli` before Python 3.11). A file it cannot read gives no names and one warning: capture
still starts. The built-in redactors' names live here so that the config check and capture
share them without importing each other.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_FILE", "PII_ALL", "PII_NAMES", "PYPROJECT", "configured_redact"]

logger = logging.getLogger("casebank")

PYPROJECT = "pyproject.toml"
CONFIG_FILE = "casebank.toml"
PII_NAMES = ("email", "phone", "card", "iban")  # the built-in PII redactors (capture/_pii.py)
PII_ALL = "pii"  # all four


def configured_redact(start: Path | None = None) -> list[str]:
    """The names in the project config's `redact` (empty when there is no file or no key); never raises."""
    try:
        table = _table(start)
    except Exception as exc:
        logger.warning("casebank: the project config's redact setting is not read - %s", exc)
        return []
    value = (table or {}).get("redact")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        logger.warning("casebank: the project config's redact is not a list of names - it is ignored")
        return []
    return value


def _table(start: Path | None) -> dict[str, Any] | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the CI runs one Python
        import tomli as tomllib

    folder = (start or Path.cwd()).absolute()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        if own.is_file():
            return dict(tomllib.loads(own.read_text(encoding="utf-8")))
        pyproject = candidate / PYPROJECT
        if pyproject.is_file():
            tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool")
            table = tool.get("casebank") if isinstance(tool, dict) else None
            if isinstance(table, dict):
                return table
    return None
