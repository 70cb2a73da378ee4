"""Bringing existing eval sets in: JSONL, CSV, promptfoo and OpenAI-evals rows become frozen cases.

Every row becomes a case file exactly like a promoted one (`write_case`: same format, same hash),
with `source` saying where it came from: `{"kind": "imported", "file", "line", "format"}`.

Decisions a reader would otherwise have to reconstruct:

- **All or nothing.** Every row is parsed, its input checked against the entry point's signature
  and its grader built (`make_grader`) in memory first; if any row cannot be imported, they are
  all listed (`ImportRejected.problems`, file and line each) and nothing is written. A write that
  fails half-way removes the files this import had written.
- **Stable ids.** A case id is a hash of the file (as named relative to the current folder), the
  line and the case's content (entry point, input, expected, grader, tags). Importing the same
  file again gives the same ids, hence the same file names: cases already in the suite are left
  untouched (their `created_at` too, so git sees no change) and counted as already there.
- **Arguments by name, as the runner calls them.** The entry point is imported (current folder on
  `sys.path`, capture off, as `cases run` does) to read its signature: a bare-text input goes to
  its first parameter; named inputs must be parameters it takes, and its required parameters
  must all be given, so that a typo is an import error, not a suite of failing cases.
- **Graders.** A row that names its own grader keeps it; `--grader`/`--option` give the grader of
  the others (default `exact`). promptfoo asserts map to graders (equals -> exact, contains ->
  contains, icontains -> contains ignore_case, not-contains -> not_contains, regex -> regex,
  is-json -> json_valid, or json_schema when it carries a schema; several asserts -> all). An
  OpenAI-evals `ideal` list becomes `one_of` unless `--grader` says otherwise.
- **No sanity check.** Promotion grades the flagged bad output to prove the case would catch it;
  an imported row has no bad output, so that check is skipped and the case's source says so.
- **CSV cells are text.** `expected` is required; `input` goes to the first parameter; a column
  named after a parameter is that argument (an empty cell leaves it to the function's default);
  optional `grader` (a name) and `tags` (comma-separated) columns; any other column is ignored
  and reported, so that a team's `id` or `notes` columns do not stop an import.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import CasebankError, InvalidInput, SuiteError
from casebank.replay._case import Case, load_case, write_case
from casebank.replay._suite import DEFAULT_SUITE
from casebank.replay._target import import_target, replaying
from casebank.replay.graders import make_grader
from casebank.store import utc_now

__all__ = ["FORMATS", "ImportRejected", "ImportResult", "Problem", "guess_format", "import_cases"]

FORMATS = ("jsonl", "csv", "promptfoo", "openai-evals")
SANITY_SKIPPED = "skipped: an imported row has no flagged bad output to check the grader against"
_JSONL_KEYS = ("input", "expected", "grader", "tags")
_CSV_SPECIAL = ("input", "expected", "grader", "tags")
_ASSERTS = ("equals", "contains", "icontains", "not-contains", "regex", "is-json")


@dataclass(kw_only=True, frozen=True)
class Problem:
    line: int
    reason: str


class ImportRejected(InvalidInput):
    """Some rows cannot be imported; nothing was written. `problems` lists them by line."""

    def __init__(self, message: str, *, file: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.file = file
        self.problems = problems


@dataclass(kw_only=True)
class ImportResult:
    file: str
    format: str
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.written) + len(self.existing)


@dataclass(kw_only=True)
class _Row:
    """One row as read, before it meets the entry point: input is a dict, a text or chat messages."""

    line: int
    input: Any
    expected: Any
    grader: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    grader_is_format_default: bool = False  # the format's choice (one_of for a list), which --grader overrides


class _RowError(Exception):
    """A reason this row cannot be imported (collected, never raised out of this module)."""


@dataclass(kw_only=True, frozen=True)
class _Signature:
    names: tuple[str, ...]  # parameters an argument can be passed to by name, in order
    required: frozenset[str]
    var_keyword: bool
    known: bool = True

    def describe(self) -> str:
        return ", ".join(self.names) or "no parameters"


def guess_format(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("promptfooconfig") and name.endswith((".yaml", ".yml")):
        return "promptfoo"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    raise InvalidInput(
        f"cannot tell the format of '{path}' from its name - pass --format {'|'.join(FORMATS)}"
        " (.jsonl, .csv and promptfooconfig*.yaml are recognised)"
    )


def import_cases(
    path: Path,
    *,
    entrypoint: str,
    format: str | None = None,
    grader: str | None = None,
    options: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    suite_dir: Path = DEFAULT_SUITE,
) -> ImportResult:
    """Turn every row of `path` into a case file in `suite_dir`; all of them, or none (ImportRejected)."""
    fmt = format or guess_format(path)
    if fmt not in FORMATS:
        raise InvalidInput(f"--format '{fmt}' is not one of {', '.join(FORMATS)} - pick one")
    text = _read(path)
    default = make_grader({"name": grader or "exact", "options": options or {}}, base_dir=suite_dir).spec()
    signature = _signature(entrypoint)
    shown = _display(path)
    reader = _READERS[fmt]
    result = ImportResult(file=shown, format=fmt)
    rows, problems = reader(text, shown, result)
    result.ignored_columns = [c for c in result.ignored_columns if c not in signature.names]
    cases: list[Case] = []
    for row in rows:
        try:
            cases.append(
                _build(row, fmt, shown, entrypoint, signature, default, grader is not None, list(tags), suite_dir)
            )
        except _RowError as exc:
            problems.append(Problem(line=row.line, reason=str(exc)))
        except CasebankError as exc:  # a grader's own message: which option, and the fix
            problems.append(Problem(line=row.line, reason=str(exc)))
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ImportRejected(
            f"cannot import '{shown}': {len(problems)} row(s) cannot be imported (listed above), so nothing was "
            "written - fix them and import again",
            file=shown,
            problems=problems,
        )
    if not cases:
        raise InvalidInput(f"'{shown}' holds no rows to import - check the file and --format")
    _write_all(cases, suite_dir, result)
    return result


# -- reading each format --------------------------------------------------------------------------

_Reader = Callable[[str, str, ImportResult], tuple[list[_Row], list[Problem]]]


def _json_lines(text: str) -> Iterator[tuple[int, Any | _RowError]]:
    # split("\n"), not splitlines(): JSON text may hold a raw U+2028, which splitlines() breaks on.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield number, _RowError(f"not valid JSON ({exc})")


def _read_json_lines(text: str, make_row: Callable[[int, Any], _Row]) -> tuple[list[_Row], list[Problem]]:
    rows: list[_Row] = []
    problems: list[Problem] = []
    for line, value in _json_lines(text):
        try:
            rows.append(make_row(line, value))
        except _RowError as exc:
            problems.append(Problem(line=line, reason=str(exc)))
    return rows, problems


def _read_jsonl(text: str, file: str, result: ImportResult) -> tuple[list[_Row], list[Problem]]:
    return _read_json_lines(text, _jsonl_row)


def _jsonl_row(line: int, value: Any) -> _Row:
    if isinstance(value, _RowError):
        raise value
    if not isinstance(value, dict):
        raise _RowError(f"a row must be a JSON object with 'input' and 'expected', not {type(value).__name__}")
    unknown = sorted(set(value) - set(_JSONL_KEYS))
    if unknown:
        hint = " (an OpenAI-evals sample? pass --format openai-evals)" if "ideal" in value else ""
        raise _RowError(f"unknown key '{unknown[0]}' - a row takes only: {', '.join(_JSONL_KEYS)}{hint}")
    for key in ("input", "expected"):
        if key not in value:
            raise _RowError(f"'{key}' is missing - every row needs 'input' and 'expected' (null is allowed)")
    if not isinstance(value["input"], (dict, str)):
        raise _RowError(
            f"'input' is {type(value['input']).__name__} - give the arguments by name (an object) or a text"
        )
    return _Row(
        line=line,
        input=value["input"],
        expected=value["expected"],
        grader=_row_grader(value.get("grader")),
        tags=_tag_list(value.get("tags")),
    )


def _row_grader(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"name": value, "options": {}}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return {"name": value["name"], "options": value.get("options") or {}}
    raise _RowError('\'grader\' must be a name or {"name": ..., "options": {...}}')


def _tag_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise _RowError("'tags' must be a list of non-empty texts")
    return [t.strip() for t in value]


def _read_openai_evals(text: str, file: str, result: ImportResult) -> tuple[list[_Row], list[Problem]]:
    return _read_json_lines(text, _openai_row)


def _openai_row(line: int, value: Any) -> _Row:
    if isinstance(value, _RowError):
        raise value
    if not isinstance(value, dict) or "input" not in value or "ideal" not in value:
        raise _RowError("an OpenAI-evals sample needs 'input' (chat messages or text) and 'ideal'")
    sample_input = value["input"]
    if isinstance(sample_input, list):
        if not sample_input or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in sample_input
        ):
            raise _RowError("'input' must be a text or a non-empty list of chat messages with 'role' and 'content'")
        sample_input = _Messages(sample_input)
    elif not isinstance(sample_input, str):
        raise _RowError(f"'input' is {type(sample_input).__name__} - give a text or a list of chat messages")
    ideal = value["ideal"]
    if isinstance(ideal, list) and len(ideal) < 2:
        if not ideal:
            raise _RowError("'ideal' is an empty list - give at least one accepted answer")
        ideal = ideal[0]
    if not isinstance(ideal, list):
        return _Row(line=line, input=sample_input, expected=ideal)
    one_of = {"name": "one_of", "options": {}}
    return _Row(line=line, input=sample_input, expected=ideal, grader=one_of, grader_is_format_default=True)


class _Messages(list[Any]):
    """A chat-message list read from an OpenAI-evals sample (told apart from a list argument)."""


def _read_csv(text: str, file: str, result: ImportResult) -> tuple[list[_Row], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        line = reader.line_num + 1
    except StopIteration:
        return [], []
    except csv.Error as exc:
        raise InvalidInput(f"CSV file '{file}' cannot be read: {exc} - check its quoting") from None
    if "expected" not in header:
        raise InvalidInput(f"CSV file '{file}' has no 'expected' column (its columns: {', '.join(header)}) - add one")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidInput(f"CSV file '{file}' has the column '{dupes[0]}' twice - rename one")
    result.ignored_columns = [h for h in header if h not in _CSV_SPECIAL]  # narrowed to non-parameters later
    rows: list[_Row] = []
    problems: list[Problem] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(line=line, reason=f"cannot be read as CSV: {exc}"))
            break
        if any(c.strip() for c in cells):
            try:
                rows.append(_csv_row(line, header, cells))
            except _RowError as exc:
                problems.append(Problem(line=line, reason=str(exc)))
        line = reader.line_num + 1
    return rows, problems


def _csv_row(line: int, header: list[str], cells: list[str]) -> _Row:
    if len(cells) != len(header):
        raise _RowError(f"has {len(cells)} cells but the header has {len(header)} columns")
    named = dict(zip(header, cells, strict=True))
    arguments = {k: v for k, v in named.items() if k not in _CSV_SPECIAL and v != ""}
    grader_name = named.get("grader", "").strip()
    tags = [t.strip() for t in named.get("tags", "").split(",") if t.strip()]
    # Columns are matched against the entry point's parameters later, in _arguments: the
    # non-parameter ones are dropped there and reported once (ImportResult.ignored_columns).
    return _Row(
        line=line,
        input=_CsvInput(text=named.get("input", ""), columns=arguments, has_input="input" in named),
        expected=named["expected"],
        grader={"name": grader_name, "options": {}} if grader_name else None,
        tags=tags,
    )


@dataclass(kw_only=True)
class _CsvInput:
    text: str
    columns: dict[str, str]
    has_input: bool


def _read_promptfoo(text: str, file: str, result: ImportResult) -> tuple[list[_Row], list[Problem]]:
    import yaml

    # One parse: the node tree gives each test's line, and the data is built from that same tree.
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None)
        why = f" ({problem})" if problem else ""
        raise InvalidInput(f"promptfoo config '{file}' is not valid YAML{at}{why} - fix it and import again") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise InvalidInput(f"promptfoo config '{file}' is not a mapping with a 'tests:' list - check the file")
    tests = data.get("tests")
    if not isinstance(tests, list):
        hint = f" (it names {tests!r}: import that file instead)" if isinstance(tests, str) else ""
        raise InvalidInput(f"promptfoo config '{file}' has no inline 'tests:' list{hint}")
    # The last 'tests' key is the one `data` holds: a repeated key overrides, and building the data
    # has put the keys of any `<<:` merge first.
    node = next(
        (value for key, value in reversed(root.value) if isinstance(key, yaml.ScalarNode) and key.value == "tests"),
        None,
    )
    lines = (
        [item.start_mark.line + 1 for item in node.value] if isinstance(node, yaml.SequenceNode) else [0] * len(tests)
    )
    default_test = data.get("defaultTest")
    default_test = default_test if isinstance(default_test, dict) else {}
    rows: list[_Row] = []
    problems: list[Problem] = []
    for line, test in zip(lines, tests, strict=True):
        try:
            rows.append(_promptfoo_row(line, test, default_test))
        except _RowError as exc:
            problems.append(Problem(line=line, reason=str(exc)))
    return rows, problems


def _promptfoo_row(line: int, test: Any, default_test: dict[str, Any]) -> _Row:
    if not isinstance(test, dict):
        raise _RowError(f"a test must be a mapping with 'vars' and 'assert', not {type(test).__name__}")
    variables = {**_mapping(default_test, "vars"), **_mapping(test, "vars")}
    asserts = _sequence(default_test, "assert") + _sequence(test, "assert")
    if not asserts:
        raise _RowError(f"has no assert to grade with - add one of: {', '.join(_ASSERTS)}")
    kinds = [item.get("type") if isinstance(item, dict) else item for item in asserts]
    for n, kind in enumerate(kinds):
        if kind not in _ASSERTS:
            raise _RowError(
                f"assert {n + 1} type {kind!r} is not supported - use one of: {', '.join(_ASSERTS)} (or drop it)"
            )
    if kinds.count("equals") > 1:
        raise _RowError("has more than one 'equals' assert - keep one")
    alone = len(asserts) == 1
    built = [_promptfoo_assert(item["type"], item.get("value"), alone=alone) for item in asserts]
    if alone:
        grader, expected = built[0]
    else:
        # Inside `all` every child carries its own text in its options; only `exact` reads `expected`.
        grader = {"name": "all", "options": {"graders": [spec for spec, _ in built]}}
        expected = next((value for kind, (_, value) in zip(kinds, built, strict=True) if kind == "equals"), None)
    extra = {"description": test["description"]} if isinstance(test.get("description"), str) else {}
    return _Row(line=line, input=variables, expected=expected, grader=grader, extra=extra)


def _mapping(test: dict[str, Any], key: str) -> dict[str, Any]:
    value = test.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _RowError(f"'{key}' must be a mapping of names to values, not {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _sequence(test: dict[str, Any], key: str) -> list[Any]:
    value = test.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _RowError(f"'{key}' must be a list, not {type(value).__name__}")
    return value


def _promptfoo_assert(kind: str, value: Any, *, alone: bool) -> tuple[dict[str, Any], Any]:
    """(grader spec, expected) for one assert; inside `all` each child carries its own text."""
    if kind != "equals" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # `value: 14` in YAML is a number; promptfoo compares it as text
    needs_value = kind != "is-json"
    if needs_value and (value is None or (kind != "equals" and not isinstance(value, str))):
        raise _RowError(f"assert '{kind}' needs a text 'value'")
    if kind == "equals":
        return {"name": "exact", "options": {}}, value
    if kind in ("contains", "icontains"):
        options: dict[str, Any] = {} if alone else {"substring": value}
        if kind == "icontains":
            options["ignore_case"] = True
        return {"name": "contains", "options": options}, value
    if kind == "not-contains":
        return {"name": "not_contains", "options": {"substring": value}}, None
    if kind == "regex":
        return {"name": "regex", "options": {"pattern": value}}, None
    if value is not None:  # is-json with a schema
        return {"name": "json_schema", "options": {"schema": value}}, None
    return {"name": "json_valid", "options": {}}, None


_READERS: dict[str, _Reader] = {
    "jsonl": _read_jsonl,
    "csv": _read_csv,
    "promptfoo": _read_promptfoo,
    "openai-evals": _read_openai_evals,
}


# -- from a row to a case ------------------------------------------------------------------------


def _build(
    row: _Row,
    fmt: str,
    file: str,
    entrypoint: str,
    signature: _Signature,
    default: dict[str, Any],
    grader_given: bool,
    extra_tags: list[str],
    suite_dir: Path,
) -> Case:
    arguments = _arguments(row.input, signature)
    spec = None if row.grader_is_format_default and grader_given else row.grader
    grader = make_grader(spec, base_dir=suite_dir).spec() if spec is not None else default
    tags = list(dict.fromkeys(row.tags + extra_tags))
    content = _jsonable(
        {"entrypoint": entrypoint, "input": arguments, "expected": row.expected, "grader": grader, "tags": tags}
    )
    digest = hashlib.sha256(
        b"import\0" + f"{file}\0{row.line}\0".encode() + orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    )
    return Case(
        id=digest.hexdigest()[:12],
        created_at=utc_now(),
        entrypoint=entrypoint,
        input=content["input"],
        expected=content["expected"],
        grader=content["grader"],
        tags=tags,
        source={
            "kind": "imported",
            "file": file,
            "line": row.line,
            "format": fmt,
            "sanity_check": SANITY_SKIPPED,
            **row.extra,
        },
    )


def _arguments(value: Any, signature: _Signature) -> dict[str, Any]:
    if isinstance(value, _CsvInput):
        arguments: dict[str, Any] = {k: v for k, v in value.columns.items() if k in signature.names}
        if value.has_input and value.text != "":
            arguments.update(_first(value.text, signature, taken=arguments))
    elif isinstance(value, _Messages):
        arguments = _from_messages(value, signature)
    elif isinstance(value, str):
        arguments = _first(value, signature, taken={})
    else:
        arguments = dict(value)
    if signature.known:
        unknown = [k for k in arguments if k not in signature.names]
        if unknown and not signature.var_keyword:
            raise _RowError(f"the entry point takes no argument '{unknown[0]}' (it takes: {signature.describe()})")
        missing = sorted(signature.required - set(arguments))
        if missing:
            raise _RowError(f"no value for the entry point's required parameter '{missing[0]}'")
    return arguments


def _first(text: str, signature: _Signature, *, taken: dict[str, Any]) -> dict[str, Any]:
    if not signature.names:
        raise _RowError("a text input goes to the entry point's first parameter, but it takes none by name")
    first = signature.names[0]
    if first in taken:
        raise _RowError(f"both the 'input' column and the '{first}' column give parameter '{first}' - keep one")
    return {first: text}


def _from_messages(messages: list[Any], signature: _Signature) -> dict[str, Any]:
    if "messages" in signature.names:
        return {"messages": list(messages)}
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) == 1 and turns[0]["role"] == "user" and isinstance(turns[0]["content"], str):
        return _first(turns[0]["content"], signature, taken={})
    raise _RowError(
        f"a conversation of {len(turns)} messages needs an entry point parameter named 'messages' "
        "(only a single user message goes to the first parameter)"
    )


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """As the case file will hold it (YAML dates become text, etc.); anything JSON cannot hold is a row error."""
    try:
        result: dict[str, Any] = orjson.loads(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    except TypeError as exc:
        raise _RowError(f"holds a value JSON cannot represent ({exc})") from None
    return result


def _signature(entrypoint: str) -> _Signature:
    with replaying():
        function = import_target(entrypoint)
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins and C callables have none to read
        return _Signature(names=(), required=frozenset(), var_keyword=True, known=False)
    by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return _Signature(
        names=tuple(p.name for p in parameters if p.kind in by_name),
        required=frozenset(p.name for p in parameters if p.kind in by_name and p.default is inspect.Parameter.empty),
        var_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters),
    )


# -- files ----------------------------------------------------------------------------------------


def _read(path: Path) -> str:
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


def _display(path: Path) -> str:
    """The file as the case's source names it: relative to the current folder when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _write_all(cases: list[Case], suite_dir: Path, result: ImportResult) -> None:
    # Case files are named `<function>-<id>.json`: one listing of the folder finds the cases already there.
    on_disk = {p.stem.rpartition("-")[2]: p for p in sorted(suite_dir.glob("*.json"))} if suite_dir.is_dir() else {}
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
