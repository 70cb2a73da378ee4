"""Help about graders is generated from the registry: `cases annotate --help` and the README's table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from casebank.errors import UsageError
from casebank.replay.graders import GRADERS
from casebank.replay.graders._help import README_END, README_START, readme_table, with_readme_table
from casebank.replay.graders._registry import BUILTIN
from tests.cli.conftest import PROJECT_ROOT, Cases

README = PROJECT_ROOT / "README.md"
REGENERATE = ".venv/bin/python -m casebank.replay.graders --write README.md"


def test_the_readme_grader_table_is_the_registrys() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_readme_table(text) == text, (
        f"README.md's grader table differs from the grader registry - regenerate it with: {REGENERATE}"
    )


def test_the_readme_table_has_a_row_a_built_in_with_its_options() -> None:
    rows = readme_table().splitlines()[2:]
    assert [row.split(" | ")[0].removeprefix("| ").split()[0].strip("`") for row in rows] == list(BUILTIN)
    regex = next(row for row in rows if row.startswith("| `regex`"))
    assert "`pattern=REGEX`" in regex and "`match=search\\|full`" in regex and "(default `search`)" in regex
    assert "`database=PATH`: the SQLite fixture database (required)" in readme_table()


def test_annotate_help_lists_every_grader_and_option_within_80_columns(cases: Cases) -> None:
    result = cases("annotate", "--help")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    for name, cls in GRADERS.items():
        assert any(line.startswith(f"  {name}") for line in lines), name
        for option in cls.declared_options:
            assert f"    {option.usage()}" in result.out, f"{name} {option.usage()}"
    assert "  exact (the default): the output equals the expected output" in result.out
    assert "    --expected        the pattern it must match, e.g. '\\d+ days' (with" in result.out
    assert result.out.index("Graders (--grader NAME)") < result.out.index("Example:")


def test_the_module_prints_the_table_and_writes_it_into_a_readme(tmp_path: Path) -> None:
    def graders(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "casebank.replay.graders", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)

    printed = graders()
    assert printed.returncode == 0 and printed.stdout == readme_table() + "\n"
    stale = tmp_path / "README.md"
    stale.write_text(f"# A project\n\n{README_START}\n| old | table |\n{README_END}\n\nMore.\n", encoding="utf-8")
    assert graders("--write", "README.md").stdout == "updated the grader table in README.md\n"
    assert (
        stale.read_text(encoding="utf-8") == f"# A project\n\n{README_START}\n{readme_table()}\n{README_END}\n\nMore.\n"
    )
    assert graders("--write", "README.md").stdout == "already current: the grader table in README.md\n"
    wrong = graders("--frobnicate")
    assert (wrong.returncode, wrong.stderr) == (2, "usage: python -m casebank.replay.graders [--write README.md]\n")


def test_a_readme_without_the_markers_is_refused_saying_where_they_go() -> None:
    with pytest.raises(UsageError, match="the README has no graders markers - put"):
        with_readme_table("# no table here\n")
