"""The plugin's project settings: `[tool.casebank]` in pyproject.toml, or casebank.toml, in pytest's rootdir."""

from __future__ import annotations

from pathlib import Path

import pytest

from casebank.pytest_plugin._config import ProjectSettings, read_project_settings


def test_no_file_or_no_casebank_table_is_no_settings(tmp_path: Path) -> None:
    assert read_project_settings(tmp_path) == ProjectSettings(root=tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.other]\npytest = true\n")
    assert read_project_settings(tmp_path) == ProjectSettings(root=tmp_path)


def test_the_settings_come_from_pyproject_toml_or_casebank_toml_first(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.casebank]\npytest = true\nsuite = "qa"\ndb = "cb.db"\n')
    from_pyproject = read_project_settings(tmp_path)
    (tmp_path / "casebank.toml").write_text('suite = "cases"\n')
    from_casebank_toml = read_project_settings(tmp_path)

    assert from_pyproject == ProjectSettings(root=tmp_path, pytest=True, suite="qa", db="cb.db")
    assert from_casebank_toml == ProjectSettings(root=tmp_path, pytest=False, suite="cases")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("pytest = 1", "pytest is 1, not true or false - write pytest = true", id="pytest-not-bool"),
        pytest.param("suite = ['a']", "suite is ['a'], not a path - write suite = \"PATH\"", id="suite-not-text"),
        pytest.param("db = ' '", "db is ' ', not a path - write db = \"PATH\"", id="db-blank"),
        pytest.param("casebank = 3", "is not a table - write [tool.casebank]", id="not-a-table"),
    ],
)
def test_a_wrong_setting_is_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    body = "[tool]\n" + text if text.startswith("casebank") else "[tool.casebank]\n" + text
    (tmp_path / "pyproject.toml").write_text(body + "\n")

    with pytest.raises(ValueError) as caught:
        read_project_settings(tmp_path, strict=False)

    assert str(caught.value).startswith(f"'{tmp_path / 'pyproject.toml'}'")
    assert str(caught.value).endswith(message)


def test_a_file_that_is_not_toml_is_refused_only_when_casebank_was_asked_for(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.casebank\n")

    assert read_project_settings(tmp_path, strict=False) == ProjectSettings(root=tmp_path)
    with pytest.raises(ValueError, match=r"cannot read '.*pyproject.toml': .* - fix the file"):
        read_project_settings(tmp_path)
