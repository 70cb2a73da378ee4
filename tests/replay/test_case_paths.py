"""Case ids and file names that come from outside never write outside the suite folder.

`write_case` is where every case file is written (`cases promote`, `cases import`): each test here
hands it a name that would climb out, and checks that it refuses with one line naming the value
and that no file appeared anywhere but where it belongs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casebank.errors import SuiteError
from casebank.replay._case import Case, load_case, safe_name_part, write_case


def _case(case_id: str = "c1a2b3", entrypoint: str = "support_bot:answer") -> Case:
    return Case(
        id=case_id,
        created_at="2026-12-07T12:00:00+00:00",
        entrypoint=entrypoint,
        input={"ticket": "refund?"},
        expected="30 days",
        grader={"name": "contains", "options": {}},
    )


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param("../../evil", id="parent-folders"),
        pytest.param("/etc/evil", id="absolute"),
        pytest.param("a/b", id="separator"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("..", id="dot-dot"),
        pytest.param(".hidden", id="leading-dot"),
        pytest.param("nul\x00byte", id="nul"),
        pytest.param("CON", id="windows-reserved"),
        pytest.param("lpt1.txt", id="windows-reserved-with-extension"),
        pytest.param("", id="empty"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("sp ace", id="space"),
        pytest.param("tab\tbed", id="tab"),
        pytest.param("new\nline", id="newline"),
    ],
)
def test_an_id_that_could_leave_the_folder_is_refused(tmp_path: Path, case_id: str) -> None:
    suite = tmp_path / "work" / "evals"
    with pytest.raises(SuiteError, match="cannot be part of a case file's name") as caught:
        write_case(_case(case_id), suite)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("case id ")
    assert _files(tmp_path) == set()


@pytest.mark.parametrize(
    "entrypoint",
    [
        pytest.param("app:../../evil", id="function-with-parent-folders"),
        pytest.param("app:x/../../evil", id="function-with-separator"),
        pytest.param("app:/etc/passwd", id="absolute-function"),
    ],
)
def test_an_entry_point_whose_function_could_leave_the_folder_is_refused(tmp_path: Path, entrypoint: str) -> None:
    with pytest.raises(SuiteError, match="entry point function"):
        write_case(_case(entrypoint=entrypoint), tmp_path / "evals")
    assert _files(tmp_path) == set()


def test_ordinary_ids_and_methods_make_ordinary_names(tmp_path: Path) -> None:
    path = write_case(_case("inc-3f2a.v2", entrypoint="bot.app:Bot.answer"), tmp_path / "evals")
    assert path == tmp_path / "evals" / "answer-inc-3f2a.v2.json"
    assert load_case(path).id == "inc-3f2a.v2"
    assert safe_name_part("a_b-1.2", "case id") == "a_b-1.2"
    assert safe_name_part("répondre", "entry point function") == "répondre"  # a Python identifier


def test_a_symlink_where_the_case_file_goes_is_not_written_through(tmp_path: Path) -> None:
    suite = tmp_path / "evals"
    suite.mkdir()
    target = tmp_path / "outside.json"
    target.write_text("keep me")
    (suite / "answer-c1a2b3.json").symlink_to(target)
    with pytest.raises(SuiteError, match="outside the suite folder - remove that symlink"):
        write_case(_case(), suite)
    assert target.read_text() == "keep me"


def test_a_symlink_where_the_temporary_file_goes_is_not_written_through(tmp_path: Path) -> None:
    suite = tmp_path / "evals"
    suite.mkdir()
    target = tmp_path / "outside.txt"
    target.write_text("keep me")
    (suite / ".answer-c1a2b3.json.tmp").symlink_to(target)
    with pytest.raises(SuiteError, match="cannot write case into suite folder"):
        write_case(_case(), suite)
    assert target.read_text() == "keep me"


def test_a_suite_folder_that_is_itself_a_symlink_is_the_users_choice(tmp_path: Path) -> None:
    real = tmp_path / "real-evals"
    real.mkdir()
    os.symlink(real, tmp_path / "evals")
    path = write_case(_case(), tmp_path / "evals")
    assert (real / path.name).is_file()
