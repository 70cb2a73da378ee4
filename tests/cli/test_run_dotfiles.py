"""`cases run` reads the suite folder as `cases verify` does: a dotfile is never a case.

`write_case` refuses a name with a leading dot, so one in the folder is an editor's or an
interrupted write's leftover; verify skips it, and `Path.glob("*.json")` alone would hand it to
the loader, failing the run on a file verify calls sound.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson

from casebank.replay import Case, load_suite, write_case
from casebank.replay._suite import count_cases
from tests.cli.conftest import Cases


def write_suite(root: Path) -> None:
    (root / "shop_bot.py").write_text(textwrap.dedent('def answer(question):\n    return "Happy to help."\n'))
    write_case(
        Case(
            id="c1",
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="shop_bot:answer",
            input={"question": "hello"},
            expected="Happy to help.",
            grader={"name": "exact", "options": {}},
        ),
        root / "evals",
    )
    (root / "evals" / ".bad.json").write_text("{not a case")
    (root / "evals" / ".answer-c1.json").write_text("{an editor's swap copy")


def test_run_skips_the_dotfiles_that_verify_skips(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path)

    verified = cases("verify")
    result = cases("run", "--json", "run.json")

    assert verified.code == 0, verified.out + verified.err
    assert result.code == 0, result.out + result.err
    assert [r["case_id"] for r in orjson.loads((tmp_path / "run.json").read_bytes())["results"]] == ["c1"]


def test_the_loader_and_the_count_skip_dotfiles(tmp_path: Path) -> None:
    write_suite(tmp_path)

    assert [case.id for case in load_suite(tmp_path / "evals").cases] == ["c1"]
    assert count_cases(tmp_path / "evals") == 1
