"""promptfoo: the inline `tests:` of a promptfooconfig*.yaml, each test's `vars` and `assert` a case.

A test's `vars` (over `defaultTest`'s) are the arguments by name. Its asserts (after
`defaultTest`'s) map to graders: equals -> exact, contains -> contains, icontains -> contains
ignore_case, not-contains -> not_contains, regex -> regex, is-json -> json_valid, or json_schema
when it carries a schema; several asserts -> all, each child carrying its own text in its
options. Any other assert type refuses the test, naming the supported ones: a case that checks
less than the test did would pass where promptfoo failed. A number given as an assert's value is
compared as text, as promptfoo does.

The YAML is parsed once: its node tree gives each test's line for the problems and the cases'
source, and the data is built from that same tree (the last `tests` key wins, merges included).
"""

from __future__ import annotations

from typing import Any

from casebank.errors import InvalidInput
from casebank.replay._importers._base import ImportFormat, Problem, Read, Row, RowError

__all__ = ["FORMAT"]

_ASSERTS = ("equals", "contains", "icontains", "not-contains", "regex", "is-json")


def read(text: str, file: str) -> Read:
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
    read = Read()
    for line, test in zip(lines, tests, strict=True):
        try:
            read.rows.append(_row(line, test, default_test))
        except RowError as exc:
            read.problems.append(Problem(line=line, reason=str(exc)))
    return read


def _row(line: int, test: Any, default_test: dict[str, Any]) -> Row:
    if not isinstance(test, dict):
        raise RowError(f"a test must be a mapping with 'vars' and 'assert', not {type(test).__name__}")
    variables = {**_mapping(default_test, "vars"), **_mapping(test, "vars")}
    asserts = _sequence(default_test, "assert") + _sequence(test, "assert")
    if not asserts:
        raise RowError(f"has no assert to grade with - add one of: {', '.join(_ASSERTS)}")
    kinds = [item.get("type") if isinstance(item, dict) else item for item in asserts]
    for n, kind in enumerate(kinds):
        if kind not in _ASSERTS:
            raise RowError(
                f"assert {n + 1} type {kind!r} is not supported - use one of: {', '.join(_ASSERTS)} (or drop it)"
            )
    if kinds.count("equals") > 1:
        raise RowError("has more than one 'equals' assert - keep one")
    alone = len(asserts) == 1
    built = [_assert_grader(item["type"], item.get("value"), alone=alone) for item in asserts]
    if alone:
        grader, expected = built[0]
    else:
        # Inside `all` every child carries its own text in its options; only `exact` reads `expected`.
        grader = {"name": "all", "options": {"graders": [spec for spec, _ in built]}}
        expected = next((value for kind, (_, value) in zip(kinds, built, strict=True) if kind == "equals"), None)
    extra = {"description": test["description"]} if isinstance(test.get("description"), str) else {}
    return Row(line=line, input=variables, expected=expected, grader=grader, extra=extra)


def _mapping(test: dict[str, Any], key: str) -> dict[str, Any]:
    value = test.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError(f"'{key}' must be a mapping of names to values, not {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _sequence(test: dict[str, Any], key: str) -> list[Any]:
    value = test.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"'{key}' must be a list, not {type(value).__name__}")
    return value


def _assert_grader(kind: str, value: Any, *, alone: bool) -> tuple[dict[str, Any], Any]:
    """(grader spec, expected) for one assert; inside `all` each child carries its own text."""
    if kind != "equals" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # `value: 14` in YAML is a number; promptfoo compares it as text
    needs_value = kind != "is-json"
    if needs_value and (value is None or (kind != "equals" and not isinstance(value, str))):
        raise RowError(f"assert '{kind}' needs a text 'value'")
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


FORMAT = ImportFormat(
    name="promptfoo",
    read=read,
    patterns=("promptfooconfig*.yaml", "promptfooconfig*.yml"),
    shown_as="promptfooconfig*.yaml",
)
