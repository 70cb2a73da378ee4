"""The real `cases` command never writes a case file outside the suite folder
(`tests/replay/test_case_paths.py` holds the cases of `write_case` itself)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cases, assert_one_line_error


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_cases_import_with_an_entry_point_that_climbs_out_writes_nothing(cases: Cases, tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"ticket": "refund?", "expected": "30 days"}\n')
    before = _files(tmp_path)
    result = cases("import", "rows.jsonl", "--entrypoint", "support_bot:../../evil")
    assert_one_line_error(result, 2)
    assert _files(tmp_path) == before
