"""A case file: one frozen, content-hashed JSON file in the suite folder.

The file is pretty-printed with sorted keys and a trailing newline so that a pull request shows
a clean diff. `hash` is `sha256:` over the canonical JSON (sorted keys, compact) of every other
field; the algorithm is in the value so that a later format change is visible (llm's habit).
A case whose hash does not match is refused: changing a case means promoting a new one.

Two optional fields, written only when they say something, so that a case file without them
(and its hash) is exactly what casebank wrote before they existed: `fixtures`, the trace's
recorded `@casebank.tool` calls (`_fixtures.py`), and `frozen_tools: true`, set at annotate
time for a case that should always replay with its tools answered from those fixtures.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import CaseIntegrityError, SuiteError

__all__ = ["CASE_SCHEMA_VERSION", "Case", "content_hash", "load_case", "write_case"]

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
    fixtures: list[dict[str, Any]] = field(default_factory=list)
    frozen_tools: bool = False
    schema_version: int = CASE_SCHEMA_VERSION
    hash: str = ""
    path: Path | None = None

    def body(self) -> dict[str, Any]:
        """Everything the hash covers, i.e. the file without `hash`."""
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


def write_case(case: Case, suite_dir: Path) -> Path:
    """Write `case` as `<suite>/<function>-<id>.json`, atomically; returns the path."""
    body = case.body()
    case.hash = content_hash(body)
    function = case.entrypoint.rpartition(":")[2].rpartition(".")[2] or "case"
    path = suite_dir / f"{function}-{case.id}.json"
    data = orjson.dumps({**body, "hash": case.hash}, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    try:
        suite_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as fh:
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


_REQUIRED = {"schema_version": int, "id": str, "entrypoint": str, "input": dict, "grader": dict, "hash": str}


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
    for name, kind in _REQUIRED.items():
        if not isinstance(raw.get(name), kind):
            raise SuiteError(
                f"case file '{path}': field '{name}' is missing or not {kind.__name__} - restore it from git"
            )
    if raw["schema_version"] > CASE_SCHEMA_VERSION:
        raise SuiteError(f"case file '{path}' has schema_version {raw['schema_version']} - upgrade casebank to read it")
    if "expected" not in raw:
        raise SuiteError(f"case file '{path}': field 'expected' is missing - restore it from git")
    fixtures = raw.get("fixtures", [])
    if not isinstance(fixtures, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and ("result" in f or isinstance(f.get("error"), dict))
        for f in fixtures
    ):
        raise SuiteError(
            f"case file '{path}': field 'fixtures' is not a list of tool calls (name, arguments, result or error) "
            "- restore it from git"
        )
    if not isinstance(raw.get("frozen_tools", False), bool):
        raise SuiteError(f"case file '{path}': field 'frozen_tools' is not true or false - restore it from git")
    case = Case(
        id=raw["id"],
        created_at=str(raw.get("created_at", "")),
        entrypoint=raw["entrypoint"],
        input=raw["input"],
        expected=raw["expected"],
        grader=raw["grader"],
        tags=list(raw.get("tags") or []),
        source=dict(raw.get("source") or {}),
        fixtures=fixtures,
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
