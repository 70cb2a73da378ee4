"""The structured graders: json_valid, json_schema, json_fields, numeric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import Verdict, make_grader

HUGE = "x" * 1_100_000
INVOICE_SCHEMA = {
    "type": "object",
    "required": ["invoice"],
    "properties": {
        "invoice": {
            "type": "object",
            "required": ["total", "currency"],
            "properties": {"total": {"type": "number"}, "currency": {"enum": ["EUR", "USD"]}},
        }
    },
}


def grade(name: str, output: Any, expected: Any, **options: Any) -> Verdict:
    return make_grader({"name": name, "options": options}).grade(output, expected)


@pytest.mark.parametrize(
    ("name", "options", "output", "expected", "passed"),
    [
        pytest.param("json_valid", {}, '{"a": 1}', None, True, id="valid-object-text"),
        pytest.param("json_valid", {}, "[1, 2]", None, True, id="valid-array-text"),
        pytest.param("json_valid", {}, {"a": 1}, None, True, id="valid-value"),
        pytest.param("json_valid", {}, '```json\n{"a": 1}\n```', None, True, id="valid-fenced"),
        pytest.param("json_valid", {}, " \n```\n[1]\n```\n ", None, True, id="valid-fenced-untagged-blank-around"),
        pytest.param("json_valid", {}, '```JSON5\n{"a": 1}```', None, True, id="valid-fenced-any-tag-closed-inline"),
        pytest.param("json_valid", {}, 'Here:\n```json\n{"a": 1}\n```', None, False, id="invalid-fence-in-prose"),
        pytest.param("json_valid", {}, '```json\n{"a": 1}\n```\nDone.', None, False, id="invalid-prose-after-fence"),
        pytest.param("json_valid", {}, '```json\n{"a": 1}', None, False, id="invalid-unclosed-fence"),
        pytest.param("json_valid", {}, '``` json\n{"a": 1}\n```', None, False, id="invalid-space-before-tag"),
        pytest.param("json_valid", {}, '{"a": 1,}', None, False, id="invalid-trailing-comma"),
        pytest.param("json_valid", {}, "Sure! {'a': 1}", None, False, id="invalid-prose"),
        pytest.param("json_valid", {}, '{"città": "Zürich ☕"}', None, True, id="valid-unicode"),
        pytest.param("json_valid", {}, "", None, False, id="invalid-empty-output"),
        pytest.param("json_valid", {}, orjson.dumps({"k": HUGE}).decode(), None, True, id="valid-huge"),
        pytest.param("json_valid", {}, '{"k": "' + HUGE, None, False, id="invalid-huge"),
        pytest.param(
            "json_schema",
            {"schema": INVOICE_SCHEMA},
            {"invoice": {"total": 1, "currency": "EUR"}},
            None,
            True,
            id="schema-ok",
        ),
        pytest.param(
            "json_schema",
            {"schema": INVOICE_SCHEMA},
            '{"invoice": {"total": "1", "currency": "EUR"}}',
            None,
            False,
            id="schema-wrong-type",
        ),
        pytest.param(
            "json_schema", {"schema": INVOICE_SCHEMA}, {"invoice": {"total": 1}}, None, False, id="schema-missing-field"
        ),
        pytest.param(
            "json_schema", {"schema": {"type": "string", "pattern": "^é"}}, '"été"', None, True, id="schema-unicode"
        ),
        pytest.param("json_schema", {"schema": INVOICE_SCHEMA}, "", None, False, id="schema-empty-output"),
        pytest.param(
            "json_schema", {"schema": {"type": "string"}}, orjson.dumps(HUGE).decode(), None, True, id="schema-huge"
        ),
        pytest.param("json_fields", {}, {"invoice": {"total": 120.5}}, {"invoice.total": 120.5}, True, id="fields"),
        pytest.param("json_fields", {}, '{"items": [{"sku": "A-1"}]}', {"items[0].sku": "A-1"}, True, id="index"),
        pytest.param("json_fields", {}, {"items": [{"sku": "A-1"}]}, {"items[1].sku": "A-1"}, False, id="no-index"),
        pytest.param("json_fields", {}, {"items": [1, 2]}, {"items[-1]": 2}, True, id="negative-index"),
        pytest.param("json_fields", {}, {"a.b": 1}, {'["a.b"]': 1}, True, id="quoted-key"),
        pytest.param(
            "json_fields", {}, {"invoice": {"total": 120.49}}, {"invoice.total": 120.5}, False, id="number-off"
        ),
        pytest.param(
            "json_fields",
            {"tolerance": 0.01},
            {"invoice": {"total": 120.495}},
            {"invoice.total": 120.5},
            True,
            id="number-within-tolerance",
        ),
        pytest.param("json_fields", {}, {"total": "120.5"}, {"total": 120.5}, False, id="string-is-not-a-number"),
        pytest.param("json_fields", {}, {"total": True}, {"total": 1}, False, id="bool-is-not-a-number"),
        pytest.param("json_fields", {}, {"name": "Ærø"}, {"$.name": "Ærø"}, True, id="unicode-dollar-path"),
        pytest.param("json_fields", {}, "", {"total": 1}, False, id="fields-empty-output"),
        pytest.param("json_fields", {}, {"blob": HUGE, "t": 1}, {"t": 1}, True, id="fields-huge"),
        pytest.param("json_fields", {}, {"a": {"b": [1, 2.0]}}, {"a": {"b": [1, 2]}}, True, id="nested-value"),
        pytest.param("numeric", {}, "The total is 120.50 EUR.", 120.5, True, id="numeric-in-text"),
        pytest.param("numeric", {}, "The total is 1,250.50 EUR.", "1250.5", True, id="numeric-thousands"),
        pytest.param("numeric", {}, "Order-77 costs −3 EUR", -3, False, id="numeric-first-number-is-77"),
        pytest.param("numeric", {}, "It costs −3 EUR", -3, True, id="numeric-unicode-minus"),
        pytest.param("numeric", {}, 120.5, 120.5, True, id="numeric-value"),
        pytest.param("numeric", {}, "121", 120.5, False, id="numeric-off"),
        pytest.param("numeric", {"abs": 1}, "121", 120.5, True, id="numeric-abs"),
        pytest.param("numeric", {"rel": 0.01}, "121.6", 120.5, True, id="numeric-rel"),
        pytest.param("numeric", {"rel": 0.001}, "121.6", 120.5, False, id="numeric-rel-too-tight"),
        pytest.param("numeric", {}, "no idea", 120.5, False, id="numeric-no-number"),
        pytest.param("numeric", {}, "v2 of the model", 2, False, id="numeric-inside-a-word"),
        pytest.param("numeric", {}, "", 120.5, False, id="numeric-empty-output"),
        pytest.param("numeric", {}, HUGE + " 42", 42, True, id="numeric-huge"),
        pytest.param("numeric", {}, "1e3", "1000", True, id="numeric-exponent"),
    ],
)
def test_verdicts(name: str, options: dict[str, Any], output: Any, expected: Any, passed: bool) -> None:
    verdict = grade(name, output, expected, **options)
    assert verdict.passed is passed, verdict.reason
    assert verdict.reason and "\n" not in verdict.reason
    assert verdict.score is not None and 0.0 <= verdict.score <= 1.0


@pytest.mark.parametrize(
    ("name", "output", "expected", "reason", "options"),
    [
        pytest.param("json_valid", "", None, "output is empty, not JSON", {}, id="empty"),
        pytest.param(
            "json_schema",
            {"invoice": {"total": "1", "currency": "EUR"}},
            None,
            "output does not match the schema at $.invoice.total: '1' is not of type 'number'",
            {"schema": INVOICE_SCHEMA},
            id="schema-path",
        ),
        pytest.param(
            "json_fields",
            {"invoice": {"total": 102.5}, "items": []},
            {"invoice.total": 120.5, "items[0].sku": "A-1"},
            "2 of 2 fields wrong: invoice.total: expected 120.5, got 102.5; items[0].sku is missing",
            {},
            id="fields",
        ),
        pytest.param(
            "json_fields",
            {},
            ["invoice.total"],
            "grader 'json_fields' needs the expected output to be an object",
            {},
            id="fields-expected-not-an-object",
        ),
        pytest.param("json_fields", {}, {"a[": 1}, "expected path 'a[' is not a path", {}, id="fields-bad-path"),
        pytest.param(
            "json_fields",
            '{"total": "89.99", "paid": "true", "note": null}',
            {"total": 89.99, "paid": True, "note": "none"},
            '3 of 3 fields wrong: total: expected 89.99, got "89.99"; paid: expected true, got "true"; '
            'note: expected "none", got null',
            {},
            id="fields-show-their-types",
        ),
        pytest.param(
            "json_fields",
            {"order": {"total": 3}},
            {"order.total": 4},
            "1 of 1 field wrong: order.total: expected 4, got 3",
            {},
            id="fields-one",
        ),
        pytest.param(
            "numeric",
            "121.6",
            120.5,
            "expected 120.5 within 0.1205, got 121.6 (off by 1.0999999999999943)",
            {"rel": 0.001},
            id="numeric",
        ),
        pytest.param(
            "numeric",
            "12",
            "n/a",
            "grader 'numeric' needs a number as the expected output",
            {},
            id="numeric-expected-not-a-number",
        ),
    ],
)
def test_a_failing_verdict_says_what_is_wrong(
    name: str, output: Any, expected: Any, reason: str, options: dict[str, Any]
) -> None:
    verdict = grade(name, output, expected, **options)
    assert not verdict.passed
    assert verdict.reason.startswith(reason), verdict.reason


def test_json_fields_scores_the_share_of_fields_that_match() -> None:
    verdict = grade("json_fields", {"a": 1, "b": 2, "c": 0, "d": 4}, {"a": 1, "b": 2, "c": 3, "d": 4})
    assert (verdict.passed, verdict.score) == (False, 0.75)


def test_json_fields_reference_is_the_document_its_paths_describe() -> None:
    grader = make_grader({"name": "json_fields"})
    expected = {"invoice.total": 120.5, "items[1].sku": "A-1", "customer": "Ann"}
    reference = grader.reference(expected)
    assert reference == {"invoice": {"total": 120.5}, "items": [None, {"sku": "A-1"}], "customer": "Ann"}
    assert grader.grade(reference, expected).passed
    assert grader.reference({"items[-1]": 1}) == {"items[-1]": 1}  # cannot be built: left as it is


def test_json_schema_reads_schema_file_relative_to_the_suite_folder(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "invoice.json").write_bytes(orjson.dumps(INVOICE_SCHEMA))
    grader = make_grader({"name": "json_schema", "options": {"schema_file": "schemas/invoice.json"}}, base_dir=tmp_path)
    assert grader.grade('{"invoice": {"total": 3, "currency": "USD"}}', None).passed
    assert not grader.grade('{"invoice": {"total": 3, "currency": "GBP"}}', None).passed
    assert grader.spec() == {"name": "json_schema", "options": {"schema_file": "schemas/invoice.json"}}


def test_file_options_default_to_the_evals_folder(tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "s.json").write_text('{"type": "integer"}')
    grader = make_grader({"name": "json_schema", "options": {"schema_file": "s.json"}})  # cwd is tmp_path
    assert grader.grade("3", None).passed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"name": "json_schema"},
            "needs exactly one of --option schema=JSON or --option schema_file",
            id="schema-none",
        ),
        pytest.param(
            {"name": "json_schema", "options": {"schema": {}, "schema_file": "x.json"}},
            "exactly one of",
            id="schema-both",
        ),
        pytest.param(
            {"name": "json_schema", "options": {"schema": "{type: object"}},
            "option schema='{type: object' - give a JSON object",
            id="schema-not-json",
        ),
        pytest.param(
            {"name": "json_schema", "options": {"schema": {"type": "integr"}}},
            "is not a valid JSON schema",
            id="schema-invalid",
        ),
        pytest.param(
            {"name": "json_schema", "options": {"schema_file": "nope.json"}},
            "option schema_file='nope.json' - no file at",
            id="schema-file-missing",
        ),
        pytest.param({"name": "json_schema", "options": {"schema_file": "bad.json"}}, "is not JSON", id="schema-file"),
        pytest.param(
            {"name": "json_fields", "options": {"tolerance": -1}},
            "option tolerance='-1' - use a number >= 0",
            id="fields-tolerance",
        ),
        pytest.param({"name": "json_fields", "options": {"tolerance": "a lot"}}, "use a number", id="fields-text"),
        pytest.param({"name": "numeric", "options": {"abs": "nan"}}, "option abs='nan'", id="numeric-nan"),
        pytest.param({"name": "numeric", "options": {"rel": True}}, "option rel='true'", id="numeric-bool"),
        pytest.param({"name": "json_valid", "options": {"strict": True}}, "no option 'strict'", id="valid-option"),
    ],
)
def test_a_bad_option_is_one_line_naming_the_option_and_the_fix(
    spec: dict[str, Any], message: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InvalidInput) as raised:
        make_grader(spec, base_dir=tmp_path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_json_schema_explains_an_any_of_failure_by_its_closest_branch() -> None:
    schema = {"anyOf": [{"type": "integer"}, {"type": "object", "required": ["total"]}]}
    verdict = grade("json_schema", {"sum": 3}, None, schema=schema)
    assert verdict.reason == "output does not match the schema at $: 'total' is a required property"


# -- whole verdicts: what a report shows ---------------------------------------------------------

NOT_JSON = "output is not valid JSON: unexpected end of data: line 1 column 2 (char 1)"


@pytest.mark.parametrize(
    ("name", "options", "output", "expected", "verdict"),
    [
        pytest.param(
            "json_valid", {}, "null", None, Verdict(passed=True, score=1.0, reason="output is valid JSON (null)")
        ),
        pytest.param(
            "json_valid", {}, "[1]", None, Verdict(passed=True, score=1.0, reason="output is valid JSON (list)")
        ),
        pytest.param("json_valid", {}, "{", None, Verdict(passed=False, score=0.0, reason=NOT_JSON), id="not-json"),
        pytest.param(
            "json_schema",
            {"schema": {"type": "object"}},
            {"a": 1},
            None,
            Verdict(passed=True, score=1.0, reason="output matches the schema"),
            id="schema-ok",
        ),
        pytest.param(
            "json_schema",
            {"schema": {"type": "object"}},
            "{",
            None,
            Verdict(passed=False, score=0.0, reason=NOT_JSON),
            id="schema-not-json",
        ),
        pytest.param(
            "json_schema",
            {"schema": {"properties": {"name": {"maxLength": 3}}}},
            {"name": "x" * 120},
            None,
            Verdict(
                passed=False,
                score=0.0,
                reason="output does not match the schema at $.name: '" + "x" * 96 + "...",  # 100 of the message
            ),
            id="schema-message-shortened",
        ),
        pytest.param(
            "json_fields", {}, "{", {"a": 1}, Verdict(passed=False, score=0.0, reason=NOT_JSON), id="fields-not-json"
        ),
        pytest.param(
            "json_fields",
            {},
            {"a": 1},
            ["a"],
            Verdict(
                passed=False,
                score=0.0,
                reason="grader 'json_fields' needs the expected output to be an object of paths to values - annotate "
                """with --expected-json '{"invoice.total": 120.5}'""",
            ),
            id="fields-expected-not-an-object",
        ),
        pytest.param(
            "json_fields",
            {},
            {"a": {"b": 1}, "l": [1, 2], "x": 5},
            {"a": 5, "l": [1, 2, 3], "x": {"y": 1}},
            Verdict(
                passed=False,
                score=0.0,
                reason='3 of 3 fields wrong: a: expected 5, got {"b":1}; l: expected [1,2,3], got [1,2]; '
                'x: expected {"y":1}, got 5',
            ),
            id="fields-of-another-shape",
        ),
        pytest.param(
            "json_fields",
            {},
            {"l": [1, 2], "m": [1, 2]},
            {"l": [1, 2], "m": [1, 2, 3]},
            Verdict(passed=False, score=0.5, reason="1 of 2 fields wrong: m: expected [1,2,3], got [1,2]"),
            id="fields-list-one-short",
        ),
        pytest.param(
            "json_fields",
            {},
            {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},
            {"a": 0, "b": 0, "c": 0, "d": 4, "e": 5},
            Verdict(
                passed=False,
                score=0.4,
                reason="3 of 5 fields wrong: a: expected 0, got 1; b: expected 0, got 2; c: expected 0, got 3",
            ),
            id="fields-three-wrong-all-shown",
        ),
        pytest.param(
            "json_fields",
            {},
            {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},
            {"a": 0, "b": 0, "c": 0, "d": 0, "e": 0},
            Verdict(
                passed=False,
                score=0.0,
                reason="5 of 5 fields wrong: a: expected 0, got 1; b: expected 0, got 2; c: expected 0, got 3; +2 more",
            ),
            id="fields-five-wrong-three-shown",
        ),
        pytest.param(
            "json_fields",
            {},
            {"t": "x" * 50},
            {"t": "y" * 50},
            Verdict(
                passed=False,
                score=0.0,
                reason=f'1 of 1 field wrong: t: expected "{"y" * 36}..., got "{"x" * 36}...',  # 40 of each, as JSON
            ),
            id="fields-values-shortened",
        ),
        pytest.param(
            "numeric",
            {},
            "120.5",
            120.5,
            Verdict(passed=True, score=1.0, reason="output 120.5 equals 120.5"),
            id="numeric-equal",
        ),
        pytest.param(
            "numeric",
            {"abs": 1},
            "121",
            120.5,
            Verdict(passed=True, score=1.0, reason="output 121 equals 120.5 within 1"),
            id="numeric-within",
        ),
        pytest.param(
            "numeric",
            {},
            "121",
            120.5,
            Verdict(passed=False, score=0.0, reason="expected 120.5, got 121 (off by 0.5)"),
            id="numeric-off",
        ),
        pytest.param(
            "numeric",
            {},
            "about 1e999",
            5,
            Verdict(passed=False, score=0.0, reason="output has no number (expected 5): 'about 1e999'"),
            id="numeric-infinity-is-no-number",
        ),
        pytest.param(
            "numeric",
            {},
            "no number " + "x" * 60,
            5,
            Verdict(passed=False, score=0.0, reason=f"output has no number (expected 5): 'no number {'x' * 47}...'"),
            id="numeric-output-shortened",
        ),
        pytest.param(
            "numeric",
            {},
            "5",
            {"k": "v" * 50},
            Verdict(
                passed=False,
                score=0.0,
                reason=f"""grader 'numeric' needs a number as the expected output, not '{{"k":"{"v" * 31}...' - """
                "annotate with --expected-json 120.5",
            ),
            id="numeric-expected-shortened",
        ),
    ],
)
def test_whole_verdicts(name: str, options: dict[str, Any], output: Any, expected: Any, verdict: Verdict) -> None:
    assert grade(name, output, expected, **options) == verdict


def test_a_schema_that_is_no_schema_is_refused_naming_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema", "options": {"schema": {"type": "integr"}}})
    assert str(raised.value) == (
        "grader 'json_schema' schema is not a valid JSON schema: 'integr' is not valid under any of the given "
        "schemas - fix the schema"
    )
    (tmp_path / "s.json").write_text('{"type": "integr"}')
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema", "options": {"schema_file": "s.json"}}, base_dir=tmp_path)
    assert str(raised.value) == (
        f"grader 'json_schema' schema_file '{tmp_path / 's.json'}' is not a valid JSON schema: 'integr' is not valid "
        "under any of the given schemas - fix the schema"
    )
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema", "options": {"schema_file": "bad.json"}}, base_dir=tmp_path)
    assert str(raised.value) == (
        f"grader 'json_schema' option schema_file='bad.json' - '{tmp_path / 'bad.json'}' is not JSON: unexpected "
        "character, expected a string key: line 1 column 2 (char 1)"
    )


def test_json_fields_reference_builds_shared_objects_and_lists_once() -> None:
    grader = make_grader({"name": "json_fields"})
    expected = {"items[0].sku": "A-1", "items[0].qty": 2, "items[2]": "last", "customer.name": "Ann", "customer.id": 7}
    assert grader.reference(expected) == {
        "items": [{"sku": "A-1", "qty": 2}, None, "last"],
        "customer": {"name": "Ann", "id": 7},
    }
    assert grader.reference({1: "x"}) == {1: "x"}  # a key that is no path: left as it is


def test_json_fields_counts_negative_indexes_from_the_end() -> None:
    assert grade("json_fields", {"items": [1, 2]}, {"items[-2]": 1}).passed
    assert (
        grade("json_fields", {"items": [1, 2]}, {"items[-3]": 1}).reason == "1 of 1 field wrong: items[-3] is missing"
    )
    assert (
        grade("json_fields", {"items": {"0": 1}}, {"items[0]": 1}).reason == "1 of 1 field wrong: items[0] is missing"
    )
    assert grade("json_fields", {"items": [1]}, {"items.sku": 1}).reason == "1 of 1 field wrong: items.sku is missing"
    assert grade("json_fields", {"a": {}}, {"a.b": 1}).reason == "1 of 1 field wrong: a.b is missing"
    assert grade("json_fields", {"a": 5}, {"a.b": 1}).reason == "1 of 1 field wrong: a.b is missing"


def test_json_fields_an_expected_object_must_have_the_same_keys_not_just_the_expected_ones() -> None:
    grader = make_grader({"name": "json_fields"})
    assert grader.grade({"user": {"id": 1, "name": "Ann"}}, {"user": {"id": 1}}) == Verdict(
        passed=False, score=0.0, reason='1 of 1 field wrong: user: expected {"id":1}, got {"id":1,"name":"Ann"}'
    )
    assert grader.grade({"user": {"id": 1}}, {"user": {"id": 1, "name": "Ann"}}) == Verdict(
        passed=False, score=0.0, reason='1 of 1 field wrong: user: expected {"id":1,"name":"Ann"}, got {"id":1}'
    )


def test_numeric_writes_whole_numbers_bare_below_1e15_and_as_floats_from_there() -> None:
    assert grade("numeric", "1e15", 1e15).reason == "output 1000000000000000.0 equals 1000000000000000.0"
    assert grade("numeric", "999999999999999", 1e15).reason == (
        "expected 1000000000000000.0, got 999999999999999 (off by 1)"
    )


def test_a_schema_error_is_shown_up_to_100_characters() -> None:
    message = f"'{'t' * 55}' is not valid under any of the given schemas"
    assert len(message) == 101
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema", "options": {"schema": {"type": "t" * 55}}})
    assert str(raised.value) == (
        f"grader 'json_schema' schema is not a valid JSON schema: {message[:97]}... - fix the schema"
    )


def test_json_fields_a_text_is_no_list_even_when_its_letters_are_the_items() -> None:
    assert grade("json_fields", {"tags": "ab"}, {"tags": ["a", "b"]}) == Verdict(
        passed=False, score=0.0, reason='1 of 1 field wrong: tags: expected ["a","b"], got "ab"'
    )


def test_json_fields_names_three_wrong_fields_and_counts_the_fourth() -> None:
    assert grade("json_fields", {"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 1, "b": 1, "c": 1, "d": 1}) == Verdict(
        passed=False,
        score=0.0,
        reason="4 of 4 fields wrong: a: expected 1, got 0; b: expected 1, got 0; c: expected 1, got 0; +1 more",
    )
