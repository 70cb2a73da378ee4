"""A case file: one frozen, content-hashed JSON file in the suite folder.

The file is pretty-printed with sorted keys and a trailing newline so that a pull request shows
a clean diff. `hash` is `sha256:` over the canonical JSON (sorted keys, compact) of every other
field; the algorithm is in the value so that a later format change is visible (llm's habit).
A case whose hash does not match is refused: changing a case means promoting a new one.

`input_types` (argument name -> the type it was recorded as, see `casebank.capture._types`) is
written only when some argument has a type: a case of `str` arguments, and every case file
written before types were recorded, has the same fields and the same hash as before. A file is
checked against the case file's JSON Schema (`_case_schema`) when it is read, before its hash.

Two optional fields, written only when they say something, so that a case file without them
(and its hash) is exactly what casebank wrote before they existed: `fixtures`, the trace's
recorded `@casebank.tool` calls (`_fixtures.py`), and `frozen_tools: true`, set at annotate
time for a case that should always replay with its tools answered from those fixtures.

A case file's name is made of the entry point's function name and the case id, both of which
can come from outside (an incident id from another store, an entry point a span carried, an
import's `--entrypoint`): `safe_name_part` refuses any that could name a file outside the suite
folder (a path separator, `..`, NUL, a name Windows reserves), and `write_case` checks that the
file it writes lies in the folder and never writes through a symlink.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import CaseIntegrityError, SuiteError
from casebank.replay._case_schema import check_case_file

__all__ = ["CASE_SCHEMA_VERSION", "Case", "content_hash", "load_case", "safe_name_part", "write_case"]

CASE_SCHEMA_VERSION = 1
HASH_PREFIX = "sha256:"


@dataclass(kw_only=True)
class Case:
    id: str
    created_at: str
    entrypoint: str
    input: dict[str, Any]
    expected: Any
    grader: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    input_types: dict[str, Any] = field(default_factory=dict)  # argument -> recorded type descriptor
    fixtures: list[dict[str, Any]] = field(default_factory=list)
    frozen_tools: bool = False
    schema_version: int = CASE_SCHEMA_VERSION
    hash: str = ""
    path: Path | None = None

    def body(self) -> dict[str, Any]:
        """Everything the hash covers, i.e. the file without `hash` (the optional fields only when set)."""
        body: dict[str, Any] = {
            "schema_version": self.schema_version,
            "id": self.id,
            "created_at": self.created_at,
            "entrypoint": self.entrypoint,
            "input": self.input,
            "expected": self.expected,
            "grader": self.grader,
            "tags": self.tags,
            "source": self.source,
        }
        if self.input_types:
            body["input_types"] = self.input_types
        if self.fixtures:
            body["fixtures"] = self.fixtures
        if self.frozen_tools:
            body["frozen_tools"] = True
        return body

    @property
    def grader_name(self) -> str:
        return str(self.grader.get("name", ""))

    @property
    def grader_options(self) -> dict[str, Any]:
        options = self.grader.get("options") or {}
        return dict(options)


def content_hash(body: Mapping[str, object]) -> str:
    """`sha256:` over the canonical JSON of `body` (sorted keys, compact): what a case file's `hash` holds."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return HASH_PREFIX + hashlib.sha256(canonical).hexdigest()


# What a part of a case file's name may hold: letters (Python's identifiers may be any
# language's), digits, `_`, `-` and `.` (not first), so that no id or function name can climb
# out of the suite folder or mean something to a shell.
_SAFE_PART = re.compile(r"\w[\w.-]{0,127}")
# Names Windows refuses for a file whatever its extension (a suite checked out there must open).
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


def safe_name_part(value: str, what: str) -> str:
    """`value` if it can be part of a file name in the suite folder; SuiteError (exit 2) naming it otherwise."""
    if not _SAFE_PART.fullmatch(value) or value.split(".")[0].lower() in _RESERVED:
        raise SuiteError(
            f"{what} {value[:60]!r} cannot be part of a case file's name (letters, digits, '_', '-' and '.' only, "
            "up to 128, no path separators, '..' or reserved names) - pick another"
        )
    return value


def write_case(case: Case, suite_dir: Path) -> Path:
    """Write `case` as `<suite>/<function>-<id>.json`, atomically; returns the path.

    SuiteError when the id or the entry point's function cannot name a file in the folder."""
    body = case.body()
    case.hash = content_hash(body)
    safe_name_part(case.id, "case id")
    function = safe_name_part(case.entrypoint.rpartition(":")[2].rpartition(".")[2] or "case", "entry point function")
    path = suite_dir / f"{function}-{case.id}.json"
    data = orjson.dumps({**body, "hash": case.hash}, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    try:
        suite_dir.mkdir(parents=True, exist_ok=True)
        if path.resolve().parent != suite_dir.resolve():  # a symlink in the way (a name part cannot do it)
            raise SuiteError(f"case file '{path}' would be written outside the suite folder - remove that symlink")
        tmp = path.with_name(f".{path.name}.tmp")
        # O_NOFOLLOW: a symlink left where the temporary file goes is refused, not written through.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise SuiteError(
            f"cannot write case into suite folder '{suite_dir}': {exc.strerror} - pass a writable --suite"
        ) from None
    case.path = path
    return path


def load_case(path: Path) -> Case:
    """Read and verify one case file; errors name the file and the field."""
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SuiteError(f"cannot read case file '{path}': {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise SuiteError(f"case file '{path}' is not valid JSON ({exc}) - restore it from git") from None
    if not isinstance(raw, dict):
        raise SuiteError(f"case file '{path}' holds {type(raw).__name__}, not a case object - restore it from git")
    if isinstance(raw.get("schema_version"), int) and raw["schema_version"] > CASE_SCHEMA_VERSION:
        raise SuiteError(f"case file '{path}' has schema_version {raw['schema_version']} - upgrade casebank to read it")
    check_case_file(raw, path)
    case = Case(
        id=raw["id"],
        created_at=str(raw.get("created_at", "")),
        entrypoint=raw["entrypoint"],
        input=raw["input"],
        expected=raw["expected"],
        grader=raw["grader"],
        tags=list(raw.get("tags") or []),
        source=dict(raw.get("source") or {}),
        input_types=dict(raw.get("input_types") or {}),
        fixtures=list(raw.get("fixtures") or []),
        frozen_tools=raw.get("frozen_tools", False),
        schema_version=raw["schema_version"],
        hash=raw["hash"],
        path=path,
    )
    body = {k: v for k, v in raw.items() if k != "hash"}
    actual = content_hash(body)
    if actual != case.hash:
        raise CaseIntegrityError(
            f"case file '{path}' was modified after it was frozen (hash {actual[:19]}... != recorded "
            f"{case.hash[:19]}...) - restore it with git, or promote a new case instead of editing this one"
        )
    return case
