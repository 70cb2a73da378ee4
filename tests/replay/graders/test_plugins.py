"""A team's own grader, end to end through the real `cases` command: annotate, promote, run.

Two ways in, both without touching casebank: an installed distribution's entry point in group
`casebank.graders` (a package and its `*.dist-info/entry_points.txt` on the `cases` process's
path, as pip leaves them), and `--grader module:name` (a module in the project folder).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import orjson
import pytest

from tests.cli.conftest import PROJECT_ROOT, Cases, assert_one_line_error

TEAM_GRADERS = '''
from casebank.replay.graders import Grader, Number, Verdict


class Tone(Grader):
    """The output thanks the customer at least `minimum` times."""

    expected_help = "an example of a polite answer"
    minimum = Number(1.0, help="how many thanks it needs")

    def grade(self, output, expected):
        thanks = output.lower().count("thank")
        return Verdict(passed=thanks >= self.minimum, score=None, reason=f"{thanks} thanks")


def shouty(output, expected):
    """The output is not in capitals."""
    return not output.isupper()
'''

BOT = """
def answer(question):
    return "Thank you for asking! We refund within 30 days."
"""

POLITE = "Thank you for asking! We refund within 30 days."


@pytest.fixture
def plugins(tmp_path: Path) -> dict[str, str]:
    """The environment of a `cases` process in which the team-graders distribution is installed."""
    site = tmp_path / "site"
    (site / "team_graders").mkdir(parents=True)
    (site / "team_graders" / "__init__.py").write_text(textwrap.dedent(TEAM_GRADERS))
    info = site / "team_graders-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: team-graders\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[casebank.graders]\ntone = team_graders:Tone\nshouty = team_graders:shouty\nbroken = team_graders:nothing\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(site), str(PROJECT_ROOT)])}


@pytest.fixture
def bot(tmp_path: Path) -> None:
    """The entry point the flagged trace recorded (`support_bot:answer`), fixed: it now thanks."""
    (tmp_path / "support_bot.py").write_text(textwrap.dedent(BOT))


def test_an_installed_grader_is_listed_in_annotate_help(cases: Cases, plugins: dict[str, str]) -> None:
    result = cases("annotate", "--help", env=plugins)
    assert result.code == 0, result.err
    assert "  tone: The output thanks the customer at least `minimum` times." not in result.out  # code is plain
    assert "  tone: The output thanks the customer at least minimum times." in result.out
    assert "    --expected        an example of a polite answer" in result.out
    assert "    minimum=N         how many thanks it needs (default 1)" in result.out
    assert "  shouty: The output is not in capitals." in result.out
    assert "    threshold=N       a score at or above it passes (default 0.5)" in result.out
    assert "  broken: grader 'broken' (entry point 'team_graders:nothing' of team-graders)\n" in result.out
    assert "'nothing' - reinstall or fix that package" in result.out
    assert [line for line in result.out.splitlines() if len(line) > 80] == []


def test_an_entry_point_grader_is_annotated_promoted_and_run_by_name(
    cases: Cases, flagged: str, tmp_path: Path, plugins: dict[str, str], bot: None
) -> None:
    result = cases("annotate", flagged, "--grader", "tone", "-o", "minimum=1", "--expected", POLITE, env=plugins)
    assert result.code == 0, result.err
    assert f"annotated incident {flagged} (grader tone)" in result.out
    assert "the grader passes the expected output and fails the flagged one" in result.out
    promoted = cases("promote", flagged, env=plugins)
    assert promoted.code == 0, promoted.err
    case = orjson.loads((tmp_path / promoted.out.strip()).read_bytes())
    assert case["grader"] == {"name": "tone", "options": {"minimum": 1}}
    run = cases("run", env=plugins)
    assert run.code == 0, run.out + run.err

    without = cases("run")  # where team-graders is not installed
    assert_one_line_error(without, 2, f"case file '{promoted.out.strip()}'", "unknown grader 'tone'")


def test_an_entry_point_grader_checks_its_options_at_annotate(
    cases: Cases, flagged: str, plugins: dict[str, str]
) -> None:
    result = cases("annotate", flagged, "-g", "tone", "-o", "minimum=-2", "--expected", POLITE, env=plugins)
    assert_one_line_error(result, 2, "grader 'tone' option minimum='-2' - use a number >= 0")
    result = cases("annotate", flagged, "-g", "broken", "--expected", POLITE, env=plugins)
    assert_one_line_error(result, 2, "grader 'broken' (entry point 'team_graders:nothing' of team-graders)")


CHECKS = '''
def polite(output, expected):
    """The output thanks the customer."""
    return "thank" in output.lower()
'''


def test_a_grader_by_import_path_is_frozen_by_reference_and_imported_again_by_the_run(
    cases: Cases, flagged: str, tmp_path: Path, bot: None
) -> None:
    (tmp_path / "team_checks.py").write_text(textwrap.dedent(CHECKS))
    result = cases("annotate", flagged, "--grader", "team_checks:polite", "--expected", POLITE)
    assert result.code == 0, result.err
    assert f"annotated incident {flagged} (grader team_checks:polite)" in result.out
    promoted = cases("promote", flagged)
    assert promoted.code == 0, promoted.err
    path = promoted.out.strip()
    assert orjson.loads((tmp_path / path).read_bytes())["grader"] == {"name": "team_checks:polite", "options": {}}
    assert cases("run").code == 0

    (tmp_path / "team_checks.py").unlink()
    gone = cases("run")
    assert_one_line_error(
        gone,
        2,
        f"error: case file '{path}': grader 'team_checks:polite' cannot be imported: ModuleNotFoundError: No module "
        "named 'team_checks' - install the package that has it, or run from the folder that holds the module",
    )


@pytest.mark.parametrize(
    ("grader", "message"),
    [
        pytest.param(
            "team_checks:rude", "grader 'team_checks:rude' cannot be imported: 'team_checks' has no", id="name"
        ),
        pytest.param("team_checks", "unknown grader 'team_checks' - choose one of: ", id="no-colon"),
        pytest.param("team-checks:polite", "grader 'team-checks:polite' is not MODULE:NAME", id="malformed"),
    ],
)
def test_a_bad_import_path_is_refused_at_annotate_and_stores_nothing(
    cases: Cases, flagged: str, tmp_path: Path, grader: str, message: str
) -> None:
    (tmp_path / "team_checks.py").write_text(textwrap.dedent(CHECKS))
    result = cases("annotate", flagged, "--grader", grader, "--expected", POLITE)
    assert_one_line_error(result, 2, message)
    assert "annotated" not in cases("show", flagged).out.split("\n")[0]
