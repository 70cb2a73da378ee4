"""The few project settings the pytest plugin reads: `[tool.casebank]` `pytest`, `suite` and `db`.

Read from pytest's rootdir: `casebank.toml` (its top level) if there is one, else the
`[tool.casebank]` table of `pyproject.toml`. This is a stand-in for the project configuration
loader (`cases config`), which validates every key; here only the three keys the plugin uses are
read and checked, and a file that is not there, or says nothing of casebank, is no settings.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["ProjectSettings", "read_project_settings"]


@dataclass(frozen=True, kw_only=True)
class ProjectSettings:
    root: Path  # the folder of the file the settings came from: relative paths start there
    pytest: bool = False
    suite: str | None = None
    db: str | None = None


def read_project_settings(root: Path, *, strict: bool = True) -> ProjectSettings:
    """The settings in `root`; ValueError naming the file and the key when one is wrong, or (`strict`)
    when a file cannot be read as TOML."""
    table, where = _table(root, strict=strict)
    if table is None:
        return ProjectSettings(root=root)
    pytest = table.get("pytest", False)
    if not isinstance(pytest, bool):
        raise ValueError(f"{where}: pytest is {pytest!r}, not true or false - write pytest = true")
    texts: dict[str, str | None] = {}
    for key in ("suite", "db"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f'{where}: {key} is {value!r}, not a path - write {key} = "PATH"')
        texts[key] = value
    return ProjectSettings(root=root, pytest=pytest, suite=texts["suite"], db=texts["db"])


def _table(root: Path, *, strict: bool) -> tuple[dict[str, Any] | None, str]:
    for name, path_in_file in (("casebank.toml", ()), ("pyproject.toml", ("tool", "casebank"))):
        path = root / name
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            if not strict:  # a session that did not ask for casebank: its files are not ours to judge
                return None, ""
            raise ValueError(f"cannot read '{path}': {exc} - fix the file") from None
        for key in path_in_file:
            data = data.get(key) if isinstance(data, dict) else None
        where = f"'{path}'" + (" [tool.casebank]" if path_in_file else "")
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ValueError(f"{where} is not a table - write [tool.casebank]")
        return data, where
    return None, ""
