"""The case file's JSON Schema, and the check that names the file and the field.

A case file is checked where it enters (STYLE: validation at the edges), before its hash: a
hand-made file with `"tags": "refunds"` and a correct hash must not run with the tags r, e, f,
u, n, d and s. Fields casebank does not know are allowed, so that a file written by a newer
casebank with a field of its own is refused by its `schema_version`, not by this check.

Each property says in its `description` what it must be; the one error shown is jsonschema's
best match, as `field 'tags' is "refunds", not a list of texts`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import SuiteError

__all__ = ["CASE_FILE_SCHEMA", "check_case_file"]

_TYPE_PATH = r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.<>]*$"

CASE_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "casebank case file",
    "type": "object",
    "required": ["schema_version", "id", "entrypoint", "input", "expected", "grader", "hash"],
    "properties": {
        "schema_version": {"type": "integer", "minimum": 1, "description": "a whole number, 1 or more"},
        "id": {"type": "string", "minLength": 1, "description": "a text"},
        "created_at": {"type": "string", "description": "a timestamp text"},
        "entrypoint": {"type": "string", "minLength": 1, "description": "a 'module:function' text"},
        "input": {"type": "object", "description": "an object of the arguments by name"},
        "expected": {"description": "any JSON value"},
        "grader": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": "a grader's name"},
                "options": {"type": "object", "description": "an object of options by name"},
            },
            "description": 'an object {"name": ..., "options": {...}}',
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "description": "a text"},
            "description": "a list of texts",
        },
        "source": {"type": "object", "description": "an object"},
        "input_types": {
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/type"},
            "description": "an object of type descriptors by argument name",
        },
        "fixtures": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "description": "a tool's name"},
                    "arguments": {"type": "object", "description": "an object of the arguments by name"},
                    "error": {"type": "object", "description": "an object (the recorded exception)"},
                },
                "anyOf": [{"required": ["result"]}, {"required": ["error"]}],
                "description": "a recorded tool call: name, arguments, and result or error",
            },
            "description": "a list of recorded tool calls",
        },
        "frozen_tools": {"type": "boolean", "description": "true or false"},
        "hash": {"type": "string", "description": "a 'sha256:...' text"},
    },
    "$defs": {
        "type": {
            "description": 'a type descriptor: \'module:Class\', {"list": ...}, {"tuple": [...]}, ... or null',
            "anyOf": [
                {"type": "null"},
                {"type": "string", "pattern": _TYPE_PATH},
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        "list": {"$ref": "#/$defs/type"},
                        "set": {"$ref": "#/$defs/type"},
                        "frozenset": {"$ref": "#/$defs/type"},
                        "tuple": {
                            "anyOf": [{"$ref": "#/$defs/type"}, {"type": "array", "items": {"$ref": "#/$defs/type"}}]
                        },
                        "dict": {
                            "type": "array",
                            "prefixItems": [{"$ref": "#/$defs/type"}] * 2,
                            "minItems": 2,
                            "maxItems": 2,
                        },
                        "union": {"type": "array", "items": {"$ref": "#/$defs/type"}, "minItems": 2},
                    },
                },
            ],
        }
    },
}


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(CASE_FILE_SCHEMA)


def check_case_file(raw: dict[str, Any], path: Path) -> None:
    """Raise SuiteError naming the file and the field when `raw` is no case file; one error, the most telling."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(raw))
    if error is None:
        return
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        field = _field([*error.absolute_path, missing])
        raise SuiteError(f"case file '{path}': field '{field}' is missing - restore it from git")
    described = error  # best_match picks the deepest error: say what the nearest described schema asks for
    while described is not None and not (isinstance(described.schema, dict) and "description" in described.schema):
        described = described.parent
    description = described.schema["description"] if described is not None else None
    field = _field(list(error.absolute_path)) or "(the whole file)"
    what = f"not {description}" if description else error.message
    raise SuiteError(f"case file '{path}': field '{field}' is {_shown(error.instance)}, {what} - restore it from git")


def _field(parts: list[Any]) -> str:
    """`['tags', 0]` -> `tags[0]`; `['grader', 'name']` -> `grader.name`."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."
