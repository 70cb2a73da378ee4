"""A case file: written for a clean diff, read back equal, and refused once it is edited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import CaseIntegrityError, SuiteError
from casebank.replay._case import Case, content_hash, load_case, write_case
from casebank.replay._suite import count_cases, load_suite


def make_case(**changes: Any) -> Case:
    fields: dict[str, Any] = {
        "id": "3f9a2c71d0be",
        "created_at": "2024-05-01T12:00:00.000+00:00",
        "entrypoint": "support_bot.app:Bot.answer",
        "input": {"question": "Können Sie mir helfen? ☕", "lang": "de"},
        "expected": {"text": "Ja, innerhalb von 30 Tagen.", "days": 30},
        "grader": {"name": "exact", "options": {"normalize": "whitespace"}},
        "tags": ["refunds"],
        "source": {"trace_id": "a" * 32, "incident_id": "3f9a2c71d0be", "bad_output": {"days": 14}},
    }
    fields.update(changes)
    return Case(**fields)


def test_a_written_case_reads_back_equal(tmp_path: Path) -> None:
    case = make_case()
    path = write_case(case, tmp_path / "evals")
    assert path == tmp_path / "evals" / "answer-3f9a2c71d0be.json"
    loaded = load_case(path)
    assert loaded.body() == case.body()
    assert loaded.hash == case.hash and loaded.hash.startswith("sha256:")
    assert loaded.path == path
    assert (loaded.grader_name, loaded.grader_options) == ("exact", {"normalize": "whitespace"})


def test_the_file_has_sorted_keys_two_space_indent_and_a_trailing_newline(tmp_path: Path) -> None:
    path = write_case(make_case(), tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "☕" in text  # readable in a diff, not \u escapes
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_the_hash_is_sha256_over_the_canonical_body(tmp_path: Path) -> None:
    case = make_case()
    path = write_case(case, tmp_path)
    raw = json.loads(path.read_text())
    assert raw.pop("hash") == content_hash(raw) == content_hash(case.body())
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})


def test_writing_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_case(make_case(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["answer-3f9a2c71d0be.json"]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.update(expected={"text": "anything", "days": 30}), id="expected-edited"),
        pytest.param(lambda d: d["grader"].update(name="contains"), id="grader-edited"),
        pytest.param(lambda d: d.update(extra="field"), id="field-added"),
        pytest.param(lambda d: d.update(hash="sha256:" + "0" * 64), id="hash-edited"),
    ],
)
def test_a_tampered_case_is_refused_naming_the_file(tmp_path: Path, edit: Any) -> None:
    path = write_case(make_case(), tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    with pytest.raises(CaseIntegrityError, match=f"case file '{path}' was modified after it was frozen") as info:
        load_case(path)
    assert "promote a new case" in str(info.value)
    assert "\n" not in str(info.value)


def test_reformatting_a_case_file_is_not_tampering(tmp_path: Path) -> None:
    path = write_case(make_case(), tmp_path)
    path.write_text(json.dumps(json.loads(path.read_text())))  # one line, ascii escapes
    assert load_case(path).id == "3f9a2c71d0be"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "is not valid JSON", id="malformed-json"),
        pytest.param("", "is not valid JSON", id="empty-file"),
        pytest.param("[1, 2]", "holds list, not a case object", id="not-an-object"),
        pytest.param('{"schema_version": 1}', "field 'id' is missing", id="missing-field"),
    ],
)
def test_a_malformed_case_file_is_refused_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "answer-x.json"
    path.write_text(content)
    with pytest.raises(SuiteError, match=f"case file '{path}'.*{message}"):
        load_case(path)


def test_a_case_without_expected_is_refused(tmp_path: Path) -> None:
    path = write_case(make_case(), tmp_path)
    data = json.loads(path.read_text())
    del data["expected"]
    path.write_text(json.dumps(data))
    with pytest.raises(SuiteError, match="field 'expected' is missing"):
        load_case(path)


def test_a_case_from_a_newer_casebank_is_refused(tmp_path: Path) -> None:
    path = write_case(make_case(schema_version=99), tmp_path)
    with pytest.raises(SuiteError, match="schema_version 99 - upgrade casebank"):
        load_case(path)


def test_writing_into_a_path_that_is_a_file_is_a_suite_error(tmp_path: Path) -> None:
    blocker = tmp_path / "evals"
    blocker.write_text("x")
    with pytest.raises(SuiteError, match=f"cannot write case into suite folder '{blocker / 'sub'}'"):
        write_case(make_case(), blocker / "sub")
    assert blocker.read_text() == "x"


def test_a_suite_loads_every_case_and_refuses_duplicate_ids(tmp_path: Path) -> None:
    suite = tmp_path / "evals"
    write_case(make_case(id="aaa"), suite)
    write_case(make_case(id="bbb", entrypoint="bot:other"), suite)
    loaded = load_suite(suite)
    assert [c.id for c in loaded.cases] == ["aaa", "bbb"] and count_cases(suite) == 2
    (suite / "copy.json").write_bytes((suite / "answer-aaa.json").read_bytes())
    with pytest.raises(SuiteError, match="case id 'aaa' appears in both"):
        load_suite(suite)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda p: None, "does not exist", id="missing"),
        pytest.param(lambda p: p.write_text("x"), "is not a folder", id="a-file"),
        pytest.param(lambda p: p.mkdir(), "has no cases", id="empty"),
    ],
)
def test_an_unusable_suite_folder_is_refused(tmp_path: Path, setup: Any, message: str) -> None:
    suite = tmp_path / "evals"
    setup(suite)
    with pytest.raises(SuiteError, match=message):
        load_suite(suite)
    assert count_cases(suite) == 0


# A case file as casebank wrote it before types were recorded (README's example), byte for byte.
SCHEMA_1_FILE = """{
  "created_at": "2026-11-26T21:52:48.326+00:00",
  "entrypoint": "support_bot.bot:answer",
  "expected": "within 14 days",
  "grader": {
    "name": "contains",
    "options": {}
  },
  "hash": "sha256:c8264e5b9aba0d682d2f76b4e17dea21edc278581754a3ef42ea1c0b1450481f",
  "id": "9f0cf3b39185",
  "input": {
    "ticket": "My jacket arrived 20 days ago and it's the wrong size. Can I return it for a refund?"
  },
  "schema_version": 1,
  "source": {
    "bad_output": "Thanks for getting in touch! Refunds are accepted within 30 days of delivery. \
Is there anything else I can help with?",
    "error": null,
    "incident_id": "9f0cf3b39185",
    "reasons": [
      "quoted a 30-day refund window; the policy is 14 days"
    ],
    "sanity_check": {
      "bad_output_fails": true,
      "expected_passes": true,
      "forced": false
    },
    "trace_id": "6a446411bc774e42dc609eb5388afbce"
  },
  "tags": [
    "refunds"
  ]
}
"""


def test_a_schema_1_case_file_without_types_reads_and_writes_back_with_the_same_hash(tmp_path: Path) -> None:
    path = tmp_path / "answer-9f0cf3b39185.json"
    path.write_text(SCHEMA_1_FILE)
    case = load_case(path)
    assert case.input_types == {} and "input_types" not in case.body()
    assert write_case(case, tmp_path / "again").read_text() == SCHEMA_1_FILE


def test_input_types_are_written_when_there_are_some_and_covered_by_the_hash(tmp_path: Path) -> None:
    types = {"question": "support_bot.app:Question", "when": "datetime:datetime"}
    path = write_case(make_case(input_types=types), tmp_path)
    data = json.loads(path.read_text())
    assert data["input_types"] == types
    assert load_case(path).input_types == types
    data["input_types"]["when"] = "datetime:date"
    path.write_text(json.dumps(data))
    with pytest.raises(CaseIntegrityError, match="was modified after it was frozen"):
        load_case(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda d: d.update(tags="refunds"), "field 'tags' is \"refunds\", not a list of texts", id="tags-a-string"
        ),
        pytest.param(lambda d: d.update(tags=["refunds", 7]), "field 'tags[1]' is 7, not a text", id="tag-a-number"),
        pytest.param(
            lambda d: d["grader"].update(name=["exact"]),
            "field 'grader.name' is [\"exact\"], not a grader's name",
            id="grader-name-a-list",
        ),
        pytest.param(lambda d: d["grader"].pop("name"), "field 'grader.name' is missing", id="grader-without-name"),
        pytest.param(
            lambda d: d.update(input="hi"),
            "field 'input' is \"hi\", not an object of the arguments by name",
            id="input-a-string",
        ),
        pytest.param(
            lambda d: d.update(input_types={"when": "a date"}),
            "field 'input_types.when' is \"a date\", not a type descriptor",
            id="input-type-no-descriptor",
        ),
        pytest.param(lambda d: d.pop("entrypoint"), "field 'entrypoint' is missing", id="no-entrypoint"),
        pytest.param(
            lambda d: d.update(schema_version="1"),
            "field 'schema_version' is \"1\", not a whole number, 1 or more",
            id="version-a-string",
        ),
    ],
)
def test_a_case_file_that_breaks_the_schema_is_refused_naming_the_file_and_the_field_even_with_a_correct_hash(
    tmp_path: Path, edit: Any, message: str
) -> None:
    path = write_case(make_case(), tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    data.pop("hash")
    data["hash"] = content_hash(data)  # hand-made, and hashed as casebank would
    path.write_text(json.dumps(data))
    with pytest.raises(SuiteError) as caught:
        load_case(path)
    assert str(caught.value).startswith(f"case file '{path}': {message}")
    assert str(caught.value).endswith(" - restore it from git")
