"""From rows to cases: each row checked against the entry point, given its grader, and written.

The same for every format (`_base.Row` is all a reader hands over):

- **Arguments by name, as the runner calls them.** The entry point is imported (current folder on
  `sys.path`, capture off, as `cases run` does) to read its signature: a bare-text input goes to
  its first parameter; named inputs must be parameters it takes, and its required parameters
  must all be given, so that a typo is an import error, not a suite of failing cases.
- **Graders.** A row that names its own grader keeps it; `--grader`/`--option` give the grader of
  the others (default `exact`), and override a format's own default (OpenAI-evals' `one_of`).
  Every grader is built (`make_grader`) here, so that a bad option refuses the row now.
- **Stable ids.** A case id is a hash of the file (as named relative to the current folder), the
  line and the case's content (entry point, input, expected, grader, tags). Importing the same
  file again gives the same ids, hence the same file names: cases already in the suite are left
  untouched (their `created_at` too, so git sees no change) and counted as already there.
- **No sanity check.** Promotion grades the flagged bad output to prove the case would catch it;
  an imported row has no bad output, so that check is skipped and the case's source says so.
- **Nothing half-written.** A write that fails half-way removes the files this import had written.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from casebank._words import count
from casebank.errors import InvalidInput, SuiteError
from casebank.replay._case import Case, load_case, write_case
from casebank.replay._importers._base import Columns, ImportResult, Messages, Row, RowError
from casebank.replay._suite import case_paths
from casebank.replay._target import import_target, replaying
from casebank.replay.graders import make_grader
from casebank.store import utc_now

__all__ = [
    "SANITY_SKIPPED",
    "Settings",
    "Signature",
    "build_case",
    "display_name",
    "read_file",
    "signature_of",
    "write_all",
]

SANITY_SKIPPED = "skipped: an imported row has no flagged bad output to check the grader against"


@dataclass(kw_only=True, frozen=True)
class Signature:
    """The entry point's parameters that an argument can be given to by name."""

    names: tuple[str, ...]  # parameters an argument can be passed to by name, in order
    required: frozenset[str]
    var_keyword: bool
    known: bool = True

    def describe(self) -> str:
        return ", ".join(self.names) or "no parameters"


@dataclass(kw_only=True, frozen=True)
class Settings:
    """What every row of one import shares."""

    format: str
    file: str  # as the cases' source names it (`display_name`)
    entrypoint: str
    signature: Signature
    default_grader: dict[str, Any]  # the spec of --grader/--option, or exact
    grader_given: bool  # --grader was passed: it overrides a format's own default
    tags: list[str]  # --tag, added to every case
    suite_dir: Path


def build_case(row: Row, settings: Settings) -> Case:
    """The case of one row; RowError (or a grader's CasebankError) says why the row cannot be one."""
    arguments = _arguments(row.input, settings.signature)
    spec = None if row.grader_is_format_default and settings.grader_given else row.grader
    grader = make_grader(spec, base_dir=settings.suite_dir).spec() if spec is not None else settings.default_grader
    tags = list(dict.fromkeys(row.tags + settings.tags))
    content = _jsonable(
        {
            "entrypoint": settings.entrypoint,
            "input": arguments,
            "expected": row.expected,
            "grader": grader,
            "tags": tags,
        }
    )
    digest = hashlib.sha256(
        b"import\0" + f"{settings.file}\0{row.line}\0".encode() + orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    )
    return Case(
        id=digest.hexdigest()[:12],
        created_at=utc_now(),
        entrypoint=settings.entrypoint,
        input=content["input"],
        expected=content["expected"],
        grader=content["grader"],
        tags=tags,
        source={
            "kind": "imported",
            "file": settings.file,
            "line": row.line,
            "format": settings.format,
            "sanity_check": SANITY_SKIPPED,
            **row.extra,
        },
    )


def _arguments(value: Any, signature: Signature) -> dict[str, Any]:
    if isinstance(value, Columns):
        arguments: dict[str, Any] = {k: v for k, v in value.columns.items() if k in signature.names}
        if value.has_input and value.text != "":
            arguments.update(_first(value.text, signature, taken=arguments))
    elif isinstance(value, Messages):
        arguments = _from_messages(value, signature)
    elif isinstance(value, str):
        arguments = _first(value, signature, taken={})
    else:
        arguments = dict(value)
    if signature.known:
        unknown = [k for k in arguments if k not in signature.names]
        if unknown and not signature.var_keyword:
            raise RowError(f"the entry point takes no argument '{unknown[0]}' (it takes: {signature.describe()})")
        missing = sorted(signature.required - set(arguments))
        if missing:
            raise RowError(f"no value for the entry point's required parameter '{missing[0]}'")
    return arguments


def _first(text: str, signature: Signature, *, taken: dict[str, Any]) -> dict[str, Any]:
    if not signature.names:
        raise RowError("a text input goes to the entry point's first parameter, but it takes none by name")
    first = signature.names[0]
    if first in taken:
        raise RowError(f"both the 'input' column and the '{first}' column give parameter '{first}' - keep one")
    return {first: text}


def _from_messages(messages: list[Any], signature: Signature) -> dict[str, Any]:
    if "messages" in signature.names:
        return {"messages": list(messages)}
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) == 1 and turns[0]["role"] == "user" and isinstance(turns[0]["content"], str):
        return _first(turns[0]["content"], signature, taken={})
    raise RowError(
        f"a conversation of {count(len(turns), 'message')} needs an entry point parameter named 'messages' "
        "(only a single user message goes to the first parameter)"
    )


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """As the case file will hold it (YAML dates become text, etc.); anything JSON cannot hold is a row error."""
    try:
        result: dict[str, Any] = orjson.loads(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    except TypeError as exc:
        raise RowError(f"holds a value JSON cannot represent ({exc})") from None
    return result


def signature_of(entrypoint: str) -> Signature:
    with replaying():
        function = import_target(entrypoint, command="cases import")
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins and C callables have none to read
        return Signature(names=(), required=frozenset(), var_keyword=True, known=False)
    by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return Signature(
        names=tuple(p.name for p in parameters if p.kind in by_name),
        required=frozenset(p.name for p in parameters if p.kind in by_name and p.default is inspect.Parameter.empty),
        var_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters),
    )


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"no file to import at '{path}' - check the path") from None
    except IsADirectoryError:
        raise InvalidInput(f"'{path}' is a folder - name the file to import") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"'{path}' is not UTF-8 text - save it as UTF-8 and import again") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read '{path}': {exc.strerror}") from None


def display_name(path: Path) -> str:
    """The file as the case's source names it: relative to the current folder when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def write_all(cases: list[Case], suite_dir: Path, result: ImportResult) -> None:
    # Case files are named `<function>-<id>.json`: one listing of the folder finds the cases already there.
    on_disk = {p.stem.rpartition("-")[2]: p for p in case_paths(suite_dir)} if suite_dir.is_dir() else {}
    present: dict[str, Path] = {}
    for case in cases:
        if case.id in on_disk:
            load_case(on_disk[case.id])  # a tampered copy is refused here, before anything is written
            present[case.id] = on_disk[case.id]
    try:
        for case in cases:
            if case.id in present:
                result.existing.append(present[case.id])
            else:
                result.written.append(write_case(case, suite_dir))
    except SuiteError:
        for path in result.written:  # nothing half-written: take back what this import wrote
            path.unlink(missing_ok=True)
        result.written.clear()
        raise
