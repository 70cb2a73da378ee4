"""Case files, valid ones mutated at random and random JSON: each either loads or is refused with a
CasebankError naming the file (and, for a field, the field); never another exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casebank.errors import CasebankError
from casebank.replay._case import Case, content_hash, load_case
from casebank.replay._verify import check_suite
from tests.fuzz.strategies import json_values

_FIELDS = [
    "schema_version", "id", "created_at", "entrypoint", "input", "expected", "grader", "tags", "source",
    "input_types", "fixtures", "frozen_tools", "hash", "grader.name", "grader.options", "source.trace_id",
]  # fmt: skip


def _valid() -> dict[str, Any]:
    case = Case(
        id="c1a2b3",
        created_at="2026-12-07T12:00:00+00:00",
        entrypoint="support_bot:answer",
        input={"ticket": "refund?"},
        expected="30 days",
        grader={"name": "contains", "options": {"ignore_case": True}},
        tags=["refunds"],
        fixtures=[{"tool": "search", "arguments": {"q": "refund"}, "result": ["30 days"]}],
    )
    return {**case.body(), "hash": content_hash(case.body())}


def _mutated(body: dict[str, Any], field: str, value: Any, delete: bool) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    parent, _, leaf = field.rpartition(".")
    target = body.get(parent) if parent else body
    if not isinstance(target, dict):
        return body
    if delete:
        target.pop(leaf or field, None)
    else:
        target[leaf or field] = value
    return body


def _check(path: Path) -> None:
    try:
        load_case(path)
    except CasebankError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message, message
    # any other exception fails the test: that is a traceback for a user


@given(
    field=st.sampled_from(_FIELDS) | st.text(max_size=10),
    value=json_values,
    delete=st.booleans(),
    rehash=st.booleans(),
)
def test_a_mutated_case_file_loads_or_is_refused_naming_it(
    tmp_path: Path, field: str, value: Any, delete: bool, rehash: bool
) -> None:
    folder = tmp_path / "evals"
    folder.mkdir(exist_ok=True)
    body = _mutated(_valid(), field, value, delete)
    if rehash:  # past the hash check, so that the fields themselves are read
        body["hash"] = content_hash({k: v for k, v in body.items() if k != "hash"})
    path = folder / "answer-c1a2b3.json"
    path.write_text(json.dumps(body))
    _check(path)
    assert check_suite(folder).cases in (0, 1)


@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_or_json_as_a_case_file_is_refused_naming_it(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "evals" / "x.json"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    _check(path)
    assert len(check_suite(path.parent).problems) == 1


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"id": "\\ud800"}', id="lone-surrogate-escape"),
        pytest.param(b'{"schema_version": 18446744073709551616}', id="int-past-64-bits"),
        pytest.param(b"[" * 100_000, id="deep-nesting"),
        pytest.param(b'{"schema_version": NaN}', id="nan"),
        pytest.param(b"\xff\xfe{}", id="not-utf-8"),
    ],
)
def test_json_that_parsers_disagree_on_is_refused_naming_the_file(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(raw)
    with pytest.raises(CasebankError, match="x.json"):
        load_case(path)
