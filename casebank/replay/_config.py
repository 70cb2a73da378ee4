"""The project configuration: `[tool.casebank]` in `pyproject.toml`, or a `casebank.toml`.

Where it is found: from the current folder upwards, the first folder holding a `casebank.toml`
(top-level keys) or a `pyproject.toml` with a `[tool.casebank]` table. A `pyproject.toml` without
that table is passed over, as ruff and pytest pass over files that do not configure them, so a
package inside a monorepo finds the repository's settings. Both in one folder is an error, not a
silent choice: one place says how the project runs.

Precedence, one setting at a time: a command-line flag, then `CASEBANK_DB` (for `db` only, as
before there was a file), then the file, then the default. `ProjectConfig.sources` says where each
value came from; `cases config` prints it.

Paths in the file (`suite`, a `db` written as a plain path) are relative to the file's folder, so
that `cases run` started in a subfolder of the project finds the same suite and store; they are
shown relative to the current folder when they lie under it. A `db` written as a URL is used as
written.

Every key is checked when the file is read: an unknown key (with the nearest known one) or a
value of the wrong type is one `InvalidInput` naming the file, the key and what is valid. The
file is parsed with `tomllib` (`tomli` before Python 3.11). `frozen_tools`, `factories` and
`pytest` are read and checked here for the runner and the pytest plugin, which consume them;
`retention_days` for `cases serve`; `redact` for `casebank.init()` (which reads it through the
light `casebank._config_file`, never this module) and `cases serve`.
This module imports nothing of the runner, so every command can read the file cheaply.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from casebank._config_file import CONFIG_FILE, PII_ALL, PII_NAMES, PYPROJECT
from casebank.errors import InvalidInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the CI runs one Python
    import tomli as tomllib

__all__ = [
    "CONFIG_FILE",
    "DEFAULT",
    "ENV_DB",
    "FAIL_ON",
    "KEYS",
    "PYPROJECT",
    "ConfigKey",
    "ProjectConfig",
    "find_config",
    "load_config",
]

ENV_DB = "CASEBANK_DB"
DEFAULT = "default"  # the source of a value nobody set

# The defaults are written here rather than imported from the runner, so that reading the file
# does not load it (tests/replay/test_config.py holds them equal to the runner's and the CLI's).
_DEFAULT_SUITE = Path("evals")
_DEFAULT_CONCURRENCY = 8
FAIL_ON = ("any", "regression", "significant")
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True, kw_only=True)
class ConfigKey:
    """One key of the file: how its value is checked, and how `cases config` and errors describe it."""

    name: str
    valid: str  # what a valid value is, for the error line
    example: str  # a line of TOML that would be right
    check: Callable[[Any], bool]
    help: str


def _whole(minimum: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _seconds(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _flag(v: Any) -> bool:
    return isinstance(v, bool)


def _redactors(v: Any) -> bool:
    return isinstance(v, list) and all(name in (*PII_NAMES, PII_ALL) for name in v)


def _factories(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(f, str) for k, f in v.items())


KEYS: dict[str, ConfigKey] = {
    key.name: key
    for key in (
        ConfigKey(
            name="suite",
            valid="a folder path (relative to this file)",
            example='suite = "evals"',
            check=_text,
            help="the suite folder holding the case files",
        ),
        ConfigKey(
            name="db",
            valid="a file path (relative to this file), sqlite:///PATH or a store URL",
            example='db = ".casebank/casebank.db"',
            check=_text,
            help="the store; CASEBANK_DB and --db win over it",
        ),
        ConfigKey(
            name="concurrency",
            valid="a whole number of at least 1",
            example="concurrency = 16",
            check=_whole(1),
            help="cases in flight at once in 'cases run'",
        ),
        ConfigKey(
            name="timeout",
            valid="a positive number of seconds",
            example="timeout = 30",
            check=_seconds,
            help="seconds a case may run in 'cases run' before it fails as timed out",
        ),
        ConfigKey(
            name="epochs",
            valid="a whole number of at least 1",
            example="epochs = 3",
            check=_whole(1),
            help="times 'cases run' runs each case",
        ),
        ConfigKey(
            name="fail_on",
            valid="one of " + ", ".join(f'"{v}"' for v in FAIL_ON),
            example='fail_on = "regression"',
            check=lambda v: v in FAIL_ON,
            help="the CI gate of 'cases run'",
        ),
        ConfigKey(
            name="frozen_tools",
            valid="true or false",
            example="frozen_tools = true",
            check=_flag,
            help="answer @casebank.tool calls from the case's recorded fixtures",
        ),
        ConfigKey(
            name="factories",
            valid='a table of "module:Class" = "module:function"',
            example='factories = { "invoice_app.bot:Bot" = "invoice_app.bot:make_bot" }',
            check=_factories,
            help="how replay gets an instance of a class whose method is an entry point",
        ),
        ConfigKey(
            name="pytest",
            valid="true or false",
            example="pytest = true",
            check=_flag,
            help="run the suite's cases as tests in every 'pytest' run (else: pytest --casebank)",
        ),
        ConfigKey(
            name="retention_days",
            valid="a whole number of at least 1",
            example="retention_days = 30",
            check=_whole(1),
            help="days 'cases serve' keeps traces that no incident references (it prunes once a day)",
        ),
        ConfigKey(
            name="redact",
            valid="a list of " + ", ".join(f'"{v}"' for v in (*PII_NAMES, PII_ALL)),
            example='redact = ["email", "phone"]',
            check=_redactors,
            help="PII redacted beside secrets: by casebank.init(), 'cases serve' ingest and in 'cases run' results",
        ),
    )
}


@dataclass(kw_only=True)
class ProjectConfig:
    """The settings in effect: flags over `CASEBANK_DB` (db) over the file over the defaults."""

    file: Path | None = None  # the file read, None when none was found
    suite: Path = _DEFAULT_SUITE
    db: str | None = None  # None: the store's own default, .casebank/casebank.db under the current folder
    concurrency: int = _DEFAULT_CONCURRENCY
    timeout: float | None = None  # None: no limit
    epochs: int = 1
    fail_on: str | None = None  # None: regression with a baseline, else any
    frozen_tools: bool = False
    factories: dict[str, str] = field(default_factory=dict)
    pytest: bool = False
    retention_days: int | None = None  # None: keep every trace
    redact: list[str] = field(default_factory=list)  # PII redactors' names
    # key -> "default" | "flag --suite" | "env CASEBANK_DB" | the file's path
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, key: str) -> str:
        return self.sources.get(key, DEFAULT)

    def with_flags(self, **flags: Any) -> ProjectConfig:
        """A copy in which each flag that was given (not None) wins; keys as in the file."""
        given = {key: value for key, value in flags.items() if value is not None}
        unknown = set(given) - set(KEYS)
        if unknown:
            raise TypeError(f"not configuration keys: {', '.join(sorted(unknown))}")
        if "suite" in given:
            given["suite"] = Path(given["suite"])
        sources = dict(self.sources)
        sources.update({key: f"flag --{key.replace('_', '-')}" for key in given})
        return replace(self, **given, sources=sources)

    def as_dict(self) -> dict[str, Any]:
        """Every setting as JSON values, with where it came from: what `cases config --json` prints."""
        return {
            "file": str(self.file) if self.file is not None else None,
            "settings": {key: {"value": _jsonable(getattr(self, key)), "source": self.source(key)} for key in KEYS},
        }


def find_config(start: Path | None = None) -> Path | None:
    """The configuration file for `start` (default: the current folder), looking upwards; None if none."""
    folder = (start or Path.cwd()).absolute()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        pyproject = candidate / PYPROJECT
        in_pyproject = pyproject.is_file() and _tool_table(pyproject) is not None
        if own.is_file() and in_pyproject:
            raise InvalidInput(
                f"both '{own}' and [tool.casebank] in '{pyproject}' configure casebank - keep one of them"
            )
        if own.is_file():
            return own
        if in_pyproject:
            return pyproject
    return None


def load_config(start: Path | None = None, env: Mapping[str, str] | None = None) -> ProjectConfig:
    """The file's settings over the defaults, and `CASEBANK_DB` over the file's `db`; flags come after
    (`ProjectConfig.with_flags`)."""
    env = os.environ if env is None else env
    cwd = (start or Path.cwd()).absolute()
    path = find_config(cwd)
    config = ProjectConfig()
    if path is not None:
        table = _tool_table(path) if path.name == PYPROJECT else _read(path)
        config = _from_table(table or {}, path, cwd)
    if env.get(ENV_DB):
        config.db = env[ENV_DB]
        config.sources["db"] = f"env {ENV_DB}"
    return config


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            table: dict[str, Any] = tomllib.load(file)
            return table
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"'{path}' is not valid TOML ({exc}) - fix the file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror or exc}") from None


def _tool_table(pyproject: Path) -> dict[str, Any] | None:
    tool = _read(pyproject).get("tool")
    table = tool.get("casebank") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise InvalidInput(f"'{pyproject}': tool.casebank is not a table - write a [tool.casebank] section")
    return table


def _from_table(table: dict[str, Any], path: Path, cwd: Path) -> ProjectConfig:
    where = f"'{path}'" + (" [tool.casebank]" if path.name == PYPROJECT else "")
    values: dict[str, Any] = {}
    for name, value in table.items():
        key = KEYS.get(name)
        if key is None:
            near = difflib.get_close_matches(name, KEYS, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            raise InvalidInput(f"{where}: unknown key '{name}' - {hint}valid keys: {', '.join(KEYS)}")
        if not key.check(value):
            raise InvalidInput(f"{where}: {name} = {_toml(value)} is not {key.valid} - for example: {key.example}")
        values[name] = value
    for cls, factory in values.get("factories", {}).items():
        for what, text in (("key", cls), ("value", factory)):
            if not _IMPORT_PATH.fullmatch(text):
                raise InvalidInput(
                    f"{where}: factories {what} '{text}' is not MODULE:NAME - for example: {KEYS['factories'].example}"
                )
    base = path.parent
    if "suite" in values:
        values["suite"] = _shown(base / values["suite"], cwd)
    if "db" in values and "://" not in values["db"]:
        values["db"] = str(_shown(base / Path(values["db"]).expanduser(), cwd))
    if "timeout" in values:
        values["timeout"] = float(values["timeout"])
    return ProjectConfig(file=path, sources=dict.fromkeys(values, str(path)), **values)


def _shown(path: Path, cwd: Path) -> Path:
    """`path` relative to the current folder when it lies under it (as people write it), else absolute."""
    absolute = Path(os.path.normpath(path.absolute()))
    try:
        return absolute.relative_to(cwd)
    except ValueError:
        return absolute


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
