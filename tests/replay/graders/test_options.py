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
    make_grader,
)
from casebank.replay.graders._options import Option


def declare_tone() -> Any:
    """The Tone grader, declared when called: what declaring an option does then runs inside the test
    (a class declared at import time runs it before any test, where mutation testing cannot see it)."""

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

    return Tone


def tone(tmp_path: Path | None = None, **options: Any) -> Any:
    return declare_tone()({"model": "m", **options}, base_dir=tmp_path)


def test_the_declarations_are_the_known_options_in_order_and_the_summary_is_the_docstrings_first_line() -> None:
    Tone = declare_tone()
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
        declare_tone()(spec)
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
    Tone = declare_tone()
    grader = Tone.__new__(Tone)
    with pytest.raises(AttributeError, match="option 'minimum' is read when the grader is built"):
        grader.minimum  # noqa: B018


def test_every_built_in_option_has_a_one_line_help() -> None:
    for name, cls in GRADERS.items():
        assert cls.summary and "\n" not in cls.summary, name
        for option in cls.declared_options:
            assert option.help and "\n" not in option.help, f"{name} option {option.option}"


def test_every_kind_of_option_keeps_what_it_was_declared_with(tmp_path: Path) -> None:
    class Every(Grader):
        name = "every"
        text = Text(help="h-text", option="o_text", placeholder="P_TEXT", fix="f-text")
        texts = Texts(help="h-texts", option="o_texts", placeholder="P_TEXTS", missing="'{name}' m-texts")
        number = Number(2.5, help="h-number", minimum=1, maximum=5, option="o_number", placeholder="P_NUMBER")
        plain_number = Number(help="h-plain")
        integer = Integer(3, help="h-integer", minimum=2, option="o_integer", placeholder="P_INTEGER")
        flag = Flag(True, help="h-flag", option="o_flag")
        choice = Choice("b", ("a", "b"), help="h-choice", option="o_choice")
        file = File(REQUIRED, help="h-file", option="o_file", placeholder="P_FILE")
        data = Json(types=(dict, list), help="h-data", option="o_data", placeholder="P_DATA")
        strict = Json(types=(dict,), help="h-strict", fix="f-strict")

        def grade(self, output: Any, expected: Any) -> Verdict:
            return Verdict(passed=True)

    declared = [
        (o.attribute, o.option, o.help, o.usage(), o.default_text(), o.required) for o in Every.declared_options
    ]
    assert declared == [
        ("text", "o_text", "h-text", "o_text=P_TEXT", None, False),
        ("texts", "o_texts", "h-texts", "o_texts=P_TEXTS", None, False),
        ("number", "o_number", "h-number", "o_number=P_NUMBER", "2.5", False),
        ("plain_number", "plain_number", "h-plain", "plain_number=N", None, False),
        ("integer", "o_integer", "h-integer", "o_integer=P_INTEGER", "3", False),
        ("flag", "o_flag", "h-flag", "o_flag=true", "true", False),
        ("choice", "o_choice", "h-choice", "o_choice=a|b", "b", False),
        ("file", "o_file", "h-file", "o_file=P_FILE", None, True),
        ("data", "o_data", "h-data", "o_data=P_DATA", None, False),
        ("strict", "strict", "h-strict", "strict=JSON", None, False),
    ]
    (tmp_path / "f.txt").write_text("x")
    grader = Every({"o_file": "f.txt", "o_text": 7, "o_integer": "4.9", "o_data": [1]}, base_dir=tmp_path)
    assert (grader.text, grader.number, grader.integer, grader.flag, grader.choice, grader.data) == (
        "7",
        2.5,
        4,
        True,
        "b",
        [1],
    )
    assert (grader.texts, grader.plain_number, grader.strict, grader.file) == (None, None, None, tmp_path / "f.txt")

    def refusal(**options: Any) -> str:
        with pytest.raises(InvalidInput) as raised:
            Every({"o_file": "f.txt", **options}, base_dir=tmp_path)
        return str(raised.value)

    assert refusal(o_text="") == "grader 'every' option o_text='' - f-text"
    assert refusal(o_texts=[""]) == "'every' m-texts"
    assert refusal(o_number=0.5) == "grader 'every' option o_number='0.5' - use a number >= 1"
    assert refusal(o_number=6) == "grader 'every' option o_number='6' - use a number <= 5"
    assert refusal(plain_number=-0.5) == "grader 'every' option plain_number='-0.5' - use a number >= 0"
    assert refusal(o_integer=1) == "grader 'every' option o_integer='1' - use a number >= 2"
    assert refusal(o_choice="c") == "grader 'every' option o_choice='c' - use one of: a, b"
    assert refusal(o_data=3) == "grader 'every' option o_data='3' - give JSON of type dict or list"
    assert refusal(o_data=[]) == "grader 'every' option o_data='[]' - give JSON of type dict or list"
    assert refusal(strict=[1]) == "grader 'every' option strict='[1]' - f-strict"
    assert refusal(o_file="nope.txt") == (
        f"grader 'every' option o_file='nope.txt' - no file at '{tmp_path / 'nope.txt'}' (paths are relative to the "
        f"suite folder '{tmp_path}')"
    )
    with pytest.raises(InvalidInput) as raised:
        Every({}, base_dir=tmp_path)
    assert str(raised.value) == "grader 'every' option o_file='' - give a file path relative to the suite folder"


def test_a_required_option_given_badly_is_refused_for_its_value() -> None:
    with pytest.raises(InvalidInput) as raised:
        tone(model="")
    assert str(raised.value) == "grader 'tone' option model='' - give a non-empty text"
    with pytest.raises(InvalidInput) as raised:
        declare_tone()({})
    assert str(raised.value) == "grader 'tone' needs --option model=NAME"
    assert repr(REQUIRED) == "REQUIRED"


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        *(pytest.param(v, True, id=f"true-{v}") for v in ("1", "true", " TRUE ", "yes", "Yes", "on", 1, True)),
        *(pytest.param(v, False, id=f"false-{v}") for v in ("0", "false", "no", "off", "", 0, False, None)),
    ],
)
def test_a_flag_is_true_for_what_people_type_for_yes(value: Any, truth: bool) -> None:
    assert tone(loud=value).loud is truth


def test_a_value_shown_in_a_refusal_is_cut_at_60_characters() -> None:
    with pytest.raises(InvalidInput) as raised:
        tone(style="r" * 61)
    assert str(raised.value) == f"grader 'tone' option style='{'r' * 57}...' - use one of: plain, formal"
    with pytest.raises(InvalidInput) as raised:
        tone(extra=[1, 2])
    assert str(raised.value) == "grader 'tone' option extra='[1,2]' - give JSON of type dict"  # a value as JSON


def test_a_summary_given_wins_over_the_docstring_and_a_file_pair_says_where_files_are() -> None:
    class Summarised(Grader):
        """The docstring's line."""

        name = "summarised"
        summary = "the summary given"
        exactly_one = (("a", "b"),)
        a = Text(help="one")
        b = Text(help="the other")

    assert Summarised.summary == "the summary given"
    with pytest.raises(InvalidInput) as raised:
        Summarised({})
    assert str(raised.value) == "grader 'summarised' needs exactly one of --option a=TEXT or --option b=TEXT"
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema"})
    assert str(raised.value) == (
        "grader 'json_schema' needs exactly one of --option schema=JSON or --option schema_file=PATH "
        "(relative to the suite folder)"
    )


def test_a_file_option_that_is_not_a_path_is_refused_showing_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "json_schema", "options": {"schema_file": 5}}, base_dir=tmp_path)
    assert str(raised.value) == (
        "grader 'json_schema' option schema_file='5' - give a file path relative to the suite folder"
    )
    (tmp_path / "s.json").write_text('{"type": "integer"}')
    absolute = make_grader({"name": "json_schema", "options": {"schema_file": str(tmp_path / "s.json")}})
    assert absolute.grade("3", None).passed  # an absolute path is taken as it is


def test_a_number_at_either_limit_is_accepted() -> None:
    assert (tone(minimum=0).minimum, tone(minimum=10).minimum, tone(limit=1).limit) == (0.0, 10.0, 1)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("  ", "'  '", id="blank"),
        pytest.param(["a"], """'["a"]'""", id="a-list"),
        pytest.param(True, "'true'", id="a-bool-is-no-text"),
    ],
)
def test_a_text_option_refuses_what_is_no_text_showing_it(value: Any, shown: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        tone(**{"pass": value})
    assert str(raised.value) == f"grader 'tone' option pass={shown} - give a non-empty text"


def test_defaults_missing_texts_and_fixes_reach_every_kind_and_an_integer_may_be_zero() -> None:
    class Kept(Grader):
        name = "kept"
        words = Texts(["please"], help="h-words", fix="f-words")
        data = Json({"k": 1}, types=(dict,), help="h-data", missing="'{name}' m-data")
        label = Text(help="h-label", missing="'{name}' m-label")
        count = Integer(5, help="h-count")

        def grade(self, output: Any, expected: Any) -> Verdict:
            return Verdict(passed=True)

    grader = Kept({})
    assert (grader.words, grader.data, grader.label, grader.count) == (["please"], {"k": 1}, None, 5)
    assert Kept({"count": 0}).count == 0

    def refusal(**options: Any) -> str:
        with pytest.raises(InvalidInput) as raised:
            Kept(options)
        return str(raised.value)

    assert refusal(words=[""]) == "grader 'kept' option words='[\"\"]' - f-words"
    assert refusal(data=[1]) == "'kept' m-data"
    assert refusal(label="") == "'kept' m-label"
    assert refusal(count=-1) == "grader 'kept' option count='-1' - use a number >= 0"
