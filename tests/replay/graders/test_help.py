"""Help about graders is generated from the registry: `cases annotate --help` and the README's table."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import UsageError
from casebank.replay.graders import GRADERS, REQUIRED, Choice, File, Flag, Grader, Number, Text, Texts, Verdict
from casebank.replay.graders import _help as help_module
from casebank.replay.graders.__main__ import main
from casebank.replay.graders._help import (
    README_END,
    README_START,
    annotate_graders_help,
    describe,
    readme_table,
    with_readme_table,
)
from casebank.replay.graders._registry import BUILTIN, Registry
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


def test_the_readme_table_starts_with_its_header_and_the_default_grader_in_markdown() -> None:
    # Whole rows: the README check above needs README.md, which the mutation run's copy lacks.
    assert readme_table().splitlines()[:4] == [
        "| grader | passes when | `--expected` is | options |",
        "|---|---|---|---|",
        "| `exact` (default) | the output equals the expected output (text as text, anything else as JSON values) "
        "| the output it must equal | `normalize=none\\|whitespace\\|case\\|both`: what to ignore when comparing "
        "(default `none`) |",
        "| `contains` | the output contains a text | the text it must contain (with `substring=`, an example of a good "
        "output) | `substring=TEXT`: the text, when `--expected` is an example of a good output instead<br>"
        "`ignore_case=true`: ignore the difference between upper and lower case (default `false`) |",
    ]


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


def test_the_module_prints_the_table(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "casebank.replay.graders"]
    printed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert printed.returncode == 0 and printed.stdout == readme_table() + "\n"


def test_main_writes_the_table_into_a_readme_once_and_refuses_other_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out == readme_table() + "\n"
    stale = tmp_path / "README.md"
    stale.write_text(f"# A project\n\n{README_START}\n| old | table |\n{README_END}\n\nMore.\n", encoding="utf-8")
    assert main(["--write", str(stale)]) == 0
    assert capsys.readouterr().out == f"updated the grader table in {stale}\n"
    assert (
        stale.read_text(encoding="utf-8") == f"# A project\n\n{README_START}\n{readme_table()}\n{README_END}\n\nMore.\n"
    )
    written = stale.stat().st_mtime_ns
    assert main(["--write", str(stale)]) == 0
    assert capsys.readouterr().out == f"already current: the grader table in {stale}\n"
    assert stale.stat().st_mtime_ns == written  # a current README is not rewritten
    for wrong in (["--frobnicate"], ["--write"], ["--write", str(stale), "again"], ["--frobnicate", str(stale)]):
        assert main(wrong) == 2
        assert capsys.readouterr() == ("", "usage: python -m casebank.replay.graders [--write README.md]\n")


def test_a_readme_without_the_markers_is_refused_saying_where_they_go() -> None:
    with pytest.raises(UsageError, match="the README has no graders markers - put"):
        with_readme_table("# no table here\n")


def test_markers_in_the_wrong_order_are_refused_and_an_empty_table_is_filled() -> None:
    with pytest.raises(UsageError) as raised:
        with_readme_table(f"{README_END}\n{README_START}\n")
    assert str(raised.value) == (
        f"the README has no graders markers - put {README_START!r} and {README_END!r} around the table"
    )
    with pytest.raises(UsageError):
        with_readme_table(f"{README_START}\n")
    assert with_readme_table(f"a{README_START}{README_END}b") == f"a{README_START}\n{readme_table()}\n{README_END}b"


def test_the_first_pair_of_markers_is_filled_even_at_the_very_start_and_a_later_pair_is_left_alone() -> None:
    table = readme_table()
    assert with_readme_table(f"{README_START}{README_END}") == f"{README_START}\n{table}\n{README_END}"
    quoted = f"Keep {README_START} and {README_END} around the table.\n"  # a README that explains its markers
    assert with_readme_table(f"{README_START}\nold\n{README_END}\n{quoted}") == (
        f"{README_START}\n{table}\n{README_END}\n{quoted}"
    )


class Tone(Grader):
    name = "tone"
    expected_help = "an example of a `polite` answer, one that thanks the customer for waiting and for asking"
    known_options = frozenset({"legacy"})  # listed by hand, as a grader written before declarations does

    def grade(self, output: Any, expected: Any) -> Verdict:
        return Verdict(passed=True)


def declare_tone() -> type[Grader]:
    """Tone with every kind of option, declared when called, so that what declaring does is under test."""

    class DeclaredTone(Tone):
        exactly_one = (("words", "words_file"),)
        words = Texts(help="the polite words")
        words_file = File(help="the polite words, one a line", placeholder="FOLDER")
        minimum = Number(1.0, help="how many of them it needs")
        model = Text(REQUIRED, help="the model", placeholder="NAME")
        style = Choice("plain", ("plain", "formal", "very_formal"), help="which words")
        loud = Flag(help="capitals allowed")

    return DeclaredTone


def test_a_graders_help_is_its_declarations_in_columns() -> None:
    described = describe("tone", declare_tone())
    assert described.summary == "tone passes the output"  # no docstring, no summary
    assert [(o.name, o.kind, o.default, o.usage, o.required) for o in described.options] == [
        ("words", "text or list of texts", None, "words=TEXT", False),
        ("words_file", "file", None, "words_file=FOLDER", False),
        ("minimum", "number", "1", "minimum=N", False),
        ("model", "text", None, "model=NAME", True),
        ("style", "choice", "plain", "style=plain|formal|very_formal", False),
        ("loud", "true/false", "false", "loud=true", False),
        ("legacy", "value", None, "legacy=VALUE", False),
    ]
    assert help_module._grader_lines(described) == [
        "tone: tone passes the output",
        "  --expected        an example of a polite answer, one that thanks the",
        "                    customer for waiting and for asking",
        "  words=TEXT        the polite words",
        "  words_file=FOLDER",
        "                    the polite words, one a line",
        "  minimum=N         how many of them it needs (default 1)",
        "  model=NAME        the model (required)",
        "  style=plain|formal|very_formal",
        "                    which words (default plain)",
        "  loud=true         capitals allowed (default false)",
        "  legacy=VALUE",
        "  exactly one of words= and words_file=",
    ]
    assert help_module._option_cell(described.options[3]) == "`model=NAME`: the model (required)"
    assert help_module._option_cell(described.options[2]) == "`minimum=N`: how many of them it needs (default `1`)"


def test_help_wraps_between_words_and_keeps_an_address_or_a_hyphenated_word_whole() -> None:
    class Cited(Grader):
        name = "cited"
        expected_help = (
            "the answer, which cites the page https://docs.example.com/guides/refunds-and-returns/for-customers-abroad "
            "and is well-formed"
        )

        def grade(self, output: Any, expected: Any) -> Verdict:
            return Verdict(passed=True)

    assert help_module._grader_lines(describe("cited", Cited)) == [
        "cited: cited passes the output",
        "  --expected        the answer, which cites the page",
        "                    https://docs.example.com/guides/refunds-and-returns/for-customers-abroad",
        "                    and is well-formed",
    ]


def test_annotate_help_lists_the_built_ins_then_plug_ins_and_says_why_one_cannot_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry(BUILTIN)
    broken = importlib.metadata.EntryPoint(
        name="broken", value="plugin_not_installed_xyz:Tone", group="casebank.graders"
    )
    monkeypatch.setattr(registry, "_plugins", {"broken": broken})
    registry.add(Tone)
    monkeypatch.setattr(help_module, "registry", registry)
    text = annotate_graders_help()
    assert text.startswith(
        "\b\n"
        "Graders (--grader NAME), what --expected is to each, and their options\n"
        "(--option KEY=VALUE; a PATH is relative to the suite folder):\n"
        "exact (the default): the output equals the expected output (text as text,\n"
        "    anything else as JSON values)\n"
        "  --expected        the output it must equal\n"
        "  normalize=none|whitespace|case|both\n"
        "                    what to ignore when comparing (default none)\n"
        "contains: the output contains a text\n"
    )
    assert (
        "json_schema: the output validates against a JSON Schema\n"
        "  --expected        an example of a good output\n"
        "  schema=JSON       the schema, inline\n"
        "  schema_file=PATH  the schema in a JSON file\n"
        "  exactly one of schema= and schema_file=\n"
        "json_fields: "
    ) in text
    assert text.endswith(
        "\nbroken: grader 'broken' (entry point 'plugin_not_installed_xyz:Tone') cannot\n"
        "    be loaded: ModuleNotFoundError: No module named\n"
        "    'plugin_not_installed_xyz' - reinstall or fix that package\n"
        "tone: tone passes the output\n"
        "  --expected        an example of a polite answer, one that thanks the\n"
        "                    customer for waiting and for asking\n"
        "  legacy=VALUE"
    )
    assert [line for line in text.splitlines() if len(line) > 78] == []
    # The README documents casebank: neither plug-in is in its table.
    assert [row.split(" | ")[0] for row in readme_table().splitlines()[2:]][-1] == "| `any`"
