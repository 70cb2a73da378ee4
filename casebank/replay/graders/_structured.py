"""Structured graders: json_valid, json_schema, json_fields, numeric.

An output that is text is parsed as JSON first (a reply wrapped whole in a Markdown code fence,
as chat models like to send it, is unwrapped); an output that is already a value - the entry
point returned a dict - is taken as it is. `jsonschema` is imported when a `json_schema` grader
is built, not before: listing incidents must not pay for it.

`json_fields` is the "did it pull the right invoice total" grader: the expected output is an
object of paths to values (`{"invoice.total": 120.5, "items[0].sku": "A-1"}`); each path is
looked up in the output and compared, numbers within option `tolerance`. Its score is the share
of fields that match, so a report can tell one wrong field from a wrong document.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import orjson

from casebank._words import count
from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, Verdict, as_text, fenced_source, shorten
from casebank.replay.graders._options import File, Json, Number

__all__ = ["JsonFields", "JsonSchema", "JsonValid", "Numeric", "first_number", "parse_json_output"]


class _NotJson(Exception):
    pass


def parse_json_output(output: Any) -> Any:
    """The output as a JSON value; raises _NotJson with a one-line reason when text does not parse."""
    if not isinstance(output, str):
        return output
    text = fenced_source(output, whole=True) or ""
    if not text.strip():
        raise _NotJson("output is empty, not JSON")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _NotJson(f"output is not valid JSON: {exc}") from None


def _fail(reason: str) -> Verdict:
    return Verdict(passed=False, score=0.0, reason=reason)


class JsonValid(Grader):
    """The output is valid JSON (text that parses, or a value the entry point returned)."""

    name = "json_valid"
    summary = "the output is JSON (a reply wrapped whole in a code fence is unwrapped)"
    instant = True

    def grade(self, output: Any, expected: Any) -> Verdict:
        try:
            value = parse_json_output(output)
        except _NotJson as exc:
            return _fail(str(exc))
        kind = type(value).__name__ if value is not None else "null"
        return Verdict(passed=True, score=1.0, reason=f"output is valid JSON ({kind})")


class JsonSchema(Grader):
    """The output validates against a JSON schema: option `schema` (inline) or `schema_file` (suite-relative)."""

    name = "json_schema"
    summary = "the output validates against a JSON Schema"
    instant = True
    exactly_one = (("schema", "schema_file"),)
    schema = Json(
        types=(dict, bool), help="the schema, inline", fix='give a JSON object, e.g. schema=\'{"type": "object"}\''
    )
    schema_file = File(help="the schema in a JSON file")

    def prepare(self) -> None:
        schema: Any = self.schema
        where = "schema"
        if self.schema_file is not None:
            try:
                schema = orjson.loads(self.schema_file.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise self.invalid(
                    "schema_file", self.options["schema_file"], f"'{self.schema_file}' is not JSON: {exc}"
                ) from None
            where = f"schema_file '{self.schema_file}'"
        from jsonschema import exceptions, validators

        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as exc:
            raise InvalidInput(
                f"grader 'json_schema' {where} is not a valid JSON schema: {shorten(exc.message, 100)} - fix the schema"
            ) from None
        self.validator = cls(schema)
        self._best_match = exceptions.best_match

    def grade(self, output: Any, expected: Any) -> Verdict:
        try:
            value = parse_json_output(output)
        except _NotJson as exc:
            return _fail(str(exc))
        # The first error, not the best of all: ranking every error (best_match) costs more than the
        # validation itself. Under anyOf/oneOf best_match still picks the branch error worth reading.
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is None:
            return Verdict(passed=True, score=1.0, reason="output matches the schema")
        if error.context:
            error = self._best_match([error])
        return _fail(f"output does not match the schema at {error.json_path}: {shorten(error.message, 100)}")


# -- json_fields ---------------------------------------------------------------------------------

_STEP = re.compile(r"""\.?([^.\[\]'"]+)|\[(-?\d+)\]|\[(?:"([^"]*)"|'([^']*)')\]""")


@functools.lru_cache(maxsize=4096)
def _parse_path(path: str) -> tuple[str | int, ...] | None:
    """`invoice.items[0].sku` -> ('invoice', 'items', 0, 'sku'); None when it is not a path."""
    text = path[1:] if path.startswith("$") else path
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        m = _STEP.match(text, position)
        if m is None or m.end() == position:
            return None
        key, index, dq, sq = m.groups()
        steps.append(int(index) if index is not None else key if key is not None else dq if dq is not None else sq)
        position = m.end()
    return tuple(steps) if steps else None


_MISSING = object()


def _lookup(value: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def _place(document: Any, steps: tuple[str | int, ...], value: Any) -> Any:
    """`document` with `value` set at `steps`, creating objects and lists (padded with null) on the way."""
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, int):
        items = document if isinstance(document, list) else []
        items.extend([None] * (step + 1 - len(items)))
        items[step] = _place(items[step], rest, value)
        return items
    fields = document if isinstance(document, dict) else {}
    fields[step] = _place(fields.get(step), rest, value)
    return fields


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _matches(actual: Any, expected: Any, tolerance: float) -> bool:
    if _is_number(actual) and _is_number(expected):
        return bool(abs(actual - expected) <= tolerance)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(_matches(actual[k], v, tolerance) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return False
        return all(_matches(a, e, tolerance) for a, e in zip(actual, expected, strict=True))
    return bool(type(actual) is type(expected) and actual == expected)


class JsonFields(Grader):
    """Each path of the expected object (`invoice.total`, `items[0].sku`) has that value in the output."""

    name = "json_fields"
    summary = "each path of the expected object has that value in the output"
    expected_help = """an object of paths to values: `--expected-json '{"invoice.total": 120.5}'`"""
    instant = True
    tolerance = Number(0.0, help="how far a number may be off")

    def reference(self, expected: Any) -> Any:
        """The smallest document that has every expected path (negative indexes cannot be built)."""
        if not isinstance(expected, dict):
            return expected
        document: Any = None
        for path, want in expected.items():
            steps = _parse_path(path) if isinstance(path, str) else None
            if steps is None or any(isinstance(s, int) and s < 0 for s in steps):
                return expected
            document = _place(document, steps, want)
        return document

    def grade(self, output: Any, expected: Any) -> Verdict:
        if not isinstance(expected, dict) or not expected:
            return _fail(
                "grader 'json_fields' needs the expected output to be an object of paths to values - annotate with "
                "--expected-json '{\"invoice.total\": 120.5}'"
            )
        try:
            value = parse_json_output(output)
        except _NotJson as exc:
            return _fail(str(exc))
        wrong: list[str] = []
        for path, want in expected.items():
            steps = _parse_path(path)
            if steps is None:
                return _fail(f"expected path {path!r} is not a path like invoice.total or items[0].sku - fix the case")
            got = _lookup(value, steps)
            if got is _MISSING:
                wrong.append(f"{path} is missing")
            elif not _matches(got, want, self.tolerance):
                # As JSON, so that a type is seen: expected 89.99, got "89.99" (a string).
                wrong.append(f"{path}: expected {shorten(_as_json(want), 40)}, got {shorten(_as_json(got), 40)}")
        total = len(expected)
        score = (total - len(wrong)) / total
        if not wrong:
            return Verdict(
                passed=True, score=1.0, reason="the 1 field matches" if total == 1 else f"all {total} fields match"
            )
        more = f"; +{len(wrong) - 3} more" if len(wrong) > 3 else ""
        return Verdict(
            passed=False,
            score=score,
            reason=f"{len(wrong)} of {count(total, 'field')} wrong: " + "; ".join(wrong[:3]) + more,
        )


def _as_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # not a JSON value (a grader called directly): as text
        return as_text(value)


# -- numeric -------------------------------------------------------------------------------------

# Not inside a word ("order-123" is 123, "v2" is no number); thousands separators allowed ("1,250.50").
_NUMBER = re.compile(
    r"(?<![\w.])(?:[-+\u2212](?=\.?\d))?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
)


def first_number(value: Any) -> float | None:
    """A number as it is, or the first number written in text; None when there is none."""
    if _is_number(value):
        return float(value)
    if not isinstance(value, str):
        return None
    m = _NUMBER.search(value)
    if m is None:
        return None
    number = float(m.group().replace(",", "").replace("\u2212", "-"))
    return number if math.isfinite(number) else None


def _fmt(number: float) -> str:
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


class Numeric(Grader):
    """The first number in the output is within `abs` or `rel` tolerance of the expected number."""

    name = "numeric"
    summary = "the first number in the output is within tolerance of the expected number"
    expected_help = "the number: `--expected-json 120.5`"
    instant = True
    abs = Number(0.0, help="how far off it may be")
    rel = Number(0.0, help="how far off it may be, as a share of the expected number")

    def grade(self, output: Any, expected: Any) -> Verdict:
        want = first_number(expected)
        if want is None:
            return _fail(
                f"grader 'numeric' needs a number as the expected output, not {shorten(as_text(expected), 40)!r} - "
                "annotate with --expected-json 120.5"
            )
        got = first_number(output)
        if got is None:
            return _fail(f"output has no number (expected {_fmt(want)}): {shorten(as_text(output), 60)!r}")
        tolerance = max(self.abs, self.rel * abs(want))
        within = f" within {_fmt(tolerance)}" if tolerance else ""
        if abs(got - want) <= tolerance:
            return Verdict(passed=True, score=1.0, reason=f"output {_fmt(got)} equals {_fmt(want)}{within}")
        return _fail(f"expected {_fmt(want)}{within}, got {_fmt(got)} (off by {_fmt(abs(got - want))})")
