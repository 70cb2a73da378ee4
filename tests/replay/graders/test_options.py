"""Declared options (`casebank.replay.graders._options`): a grader's options are its fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import (
    GRADERS,
    REQUIRED,
    Choice,
    File,
    Flag,
    Grader,
    Integer,
    Json,
    Number,
    Text,
    Texts,
    Verdict,
)
from casebank.replay.graders._options import Option


class Tone(Grader):
    """The output is polite.

    More words that help does not show."""

    name = "tone"
    words = Texts(help="polite words")
    minimum = Number(1.0, minimum=0, maximum=10, above="use at most 10", help="how many it needs")
    limit = Integer(3, minimum=1, help="how many it counts")
    loud = Flag(help="capitals allowed")
    style = Choice("plain", ("plain", "formal"), help="which words")
    rule = Text("always", option="pass", help="a keyword as an option name")
    model = Text(REQUIRED, help="the model", placeholder="NAME")
    table = File(help="a file of words")
    extra = Json(types=(dict,), help="anything else")

    def grade(self, output: Any, expected: Any) -> Verdict:
        return Verdict(passed=True)


def tone(tmp_path: Path | None = None, **options: Any) -> Tone:
    return Tone({"model": "m", **options}, base_dir=tmp_path)


def test_the_declarations_are_the_known_options_in_order_and_the_summary_is_the_docstrings_first_line() -> None:
    assert [o.option for o in Tone.declared_options] == [
        "words",
        "minimum",
        "limit",
        "loud",
        "style",
        "pass",
        "model",
        "table",
        "extra",
    ]
    assert Tone.known_options == frozenset(o.option for o in Tone.declared_options)
    assert Tone.summary == "The output is polite."
    assert isinstance(Tone.minimum, Option) and Tone.minimum.kind == "number"


def test_values_are_parsed_from_what_option_k_v_gives_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("please")
    grader = tone(
        tmp_path, words="please", minimum="2.5", limit=2.9, loud="yes", style="formal", table="words.txt", extra={}
    )
    assert grader.words == ["please"]
    assert (grader.minimum, grader.limit, grader.loud, grader.style) == (2.5, 2, True, "formal")
    assert grader.table == tmp_path / "words.txt"
    assert grader.extra == {} and grader.rule == "always" and grader.model == "m"
    plain = tone()
    assert (plain.words, plain.minimum, plain.limit, plain.loud, plain.style, plain.table) == (
        None,
        1.0,
        3,
        False,
        "plain",
        None,
    )
    assert plain.spec() == {"name": "tone", "options": {"model": "m"}}  # the case file keeps what was given


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"minimum": -1}, "grader 'tone' option minimum='-1' - use a number >= 0", id="below"),
        pytest.param({"minimum": 11}, "grader 'tone' option minimum='11' - use at most 10", id="above"),
        pytest.param({"minimum": True}, "option minimum='true' - use a number >= 0", id="bool-is-no-number"),
        pytest.param({"limit": 0}, "option limit='0' - use a number >= 1", id="integer"),
        pytest.param({"style": "rude"}, "option style='rude' - use one of: plain, formal", id="choice"),
        pytest.param({"words": []}, "option words='[]' - give a text or a JSON list of texts", id="texts"),
        pytest.param({"pass": ""}, "option pass='' - give a non-empty text", id="text"),
        pytest.param({"extra": [1]}, "option extra='[1]' - give JSON of type dict", id="json"),
        pytest.param({"table": "nope.txt"}, "option table='nope.txt' - no file at 'evals/nope.txt'", id="file"),
        pytest.param({"model": None}, "grader 'tone' needs --option model=NAME", id="required"),
        pytest.param({"mdoel": "m"}, "grader 'tone' has no option 'mdoel' (it takes: extra, limit, loud,", id="typo"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option_and_the_fix(options: dict[str, Any], message: str) -> None:
    spec = {"model": "m", **options}
    if options.get("model", "m") is None:
        del spec["model"]
    with pytest.raises(InvalidInput) as raised:
        Tone(spec)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_exactly_one_of_two_options_is_checked_before_either_is_read() -> None:
    class Judge(Grader):
        name = "judge"
        exactly_one = (("rubric", "rubric_file"),)
        rubric = Text(help="inline")
        rubric_file = File(help="in a file")

    for options in ({}, {"rubric": "x", "rubric_file": "missing.md"}):
        with pytest.raises(InvalidInput) as raised:
            Judge(options)
        assert str(raised.value) == (
            "grader 'judge' needs exactly one of --option rubric=TEXT or --option rubric_file=PATH "
            "(relative to the suite folder)"
        )


def test_a_grader_that_lists_its_options_by_hand_still_works() -> None:
    class Old(Grader):
        name = "old"
        known_options = frozenset({"level"})

    assert Old({"level": 3}).options == {"level": 3}
    with pytest.raises(InvalidInput, match="it takes: level"):
        Old({"levle": 3})


def test_an_option_is_read_when_the_grader_is_built_not_before() -> None:
    grader = Tone.__new__(Tone)
    with pytest.raises(AttributeError, match="option 'minimum' is read when the grader is built"):
        grader.minimum  # noqa: B018


def test_every_built_in_option_has_a_one_line_help() -> None:
    for name, cls in GRADERS.items():
        assert cls.summary and "\n" not in cls.summary, name
        for option in cls.declared_options:
            assert option.help and "\n" not in option.help, f"{name} option {option.option}"
