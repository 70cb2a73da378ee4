"""Replaying a method: one instance per class per run, from the project's factory or `Class()`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from casebank.errors import FactoryError
from casebank.replay import run_suite

if TYPE_CHECKING:
    from tests.replay.conftest import Project

BOT = """
    import asyncio
    import dataclasses

    made = []


    @dataclasses.dataclass
    class Question:
        text: str


    class Bot:
        def __init__(self, prefix="bot"):
            self.prefix = prefix
            made.append(self)

        def answer(self, question: Question) -> str:
            return f"{self.prefix}: {question.text}"

        async def answer_async(self, question: Question) -> str:
            await asyncio.sleep(0)
            return f"{self.prefix} (async): {question.text}"

        @staticmethod
        def shout(text: str) -> str:
            return text.upper()

        @classmethod
        def kind(cls, text: str) -> str:
            return f"{cls.__name__}: {text}"


    class NeedsClient:
        def __init__(self, client):
            self.client = client

        def answer(self, question: str) -> str:
            return f"{self.client}: {question}"


    def make_bot():
        return Bot(prefix="made")


    async def make_bot_async():
        await asyncio.sleep(0)
        return Bot(prefix="made async")


    def make_client_bot():
        return NeedsClient("client")


    def make_wrong():
        return "not a bot"


    def make_broken():
        raise ConnectionError("index unreachable")
"""


def test_a_method_is_replayed_on_one_instance_of_its_class_made_without_arguments(project: Project) -> None:
    project.write_module(BOT)
    for n in range(3):
        project.add_case(f"c{n}", "Bot.answer", {"question": {"text": f"q{n}"}}, f"bot: q{n}")
    project.add_case("c9", "Bot.answer_async", {"question": {"text": "q9"}}, "bot (async): q9")
    report = run_suite(project.load(), epochs=2, concurrency=4)
    assert [r.status for r in report.results] == ["passed"] * 8
    assert len(sys.modules[project.module].made) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("factory", ["make_bot", "make_bot_async"])
def test_a_factory_named_in_the_config_makes_the_instance_sync_or_async(project: Project, factory: str) -> None:
    project.write_module(BOT)
    prefix = "made" if factory == "make_bot" else "made async"
    project.add_case("c1", "Bot.answer_async", {"question": {"text": "q"}}, f"{prefix} (async): q")
    project.add_case("c2", "Bot.answer", {"question": {"text": "q"}}, f"{prefix}: q")
    m = project.module
    report = run_suite(project.load(), factories={f"{m}:Bot": f"{m}:{factory}"})
    assert [r.status for r in report.results] == ["passed", "passed"]
    assert len(sys.modules[m].made) == 1  # type: ignore[attr-defined]


def test_static_and_class_methods_are_called_as_they_are(project: Project) -> None:
    project.write_module(BOT)
    project.add_case("c1", "Bot.shout", {"text": "hi"}, "HI")
    project.add_case("c2", "Bot.kind", {"text": "hi"}, "Bot: hi")
    report = run_suite(project.load())
    assert [r.status for r in report.results] == ["passed", "passed"]
    assert sys.modules[project.module].made == []  # type: ignore[attr-defined]


def test_a_class_that_cannot_be_made_without_arguments_names_the_config_line_to_write(project: Project) -> None:
    project.write_module(BOT)
    project.add_case("c1", "NeedsClient.answer", {"question": "q"}, "client: q")
    m = project.module
    with pytest.raises(FactoryError) as caught:
        run_suite(project.load())
    assert str(caught.value) == (
        f"cannot make a '{m}:NeedsClient' to replay its methods: NeedsClient() raised TypeError: "
        "NeedsClient.__init__() missing 1 required positional argument: 'client' - name a function that returns "
        f'one in [tool.casebank] of pyproject.toml: factories = {{"{m}:NeedsClient" = "{m}:make_needs_client"}}'
    )
    assert caught.value.exit_code == 2
    report = run_suite(project.load(), factories={f"{m}:NeedsClient": f"{m}:make_client_bot"})
    assert [r.status for r in report.results] == ["passed"]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        pytest.param(
            "make_broken",
            "factory '{m}:make_broken' for '{m}:Bot' (factories in [tool.casebank]) raised ConnectionError: index "
            "unreachable - make it return a Bot with no arguments",
            id="raises",
        ),
        pytest.param(
            "make_wrong",
            "factory '{m}:make_wrong' for '{m}:Bot' (factories in [tool.casebank]) returned a str, not a Bot - "
            "make it return the instance",
            id="wrong-type",
        ),
        pytest.param(
            "make_nothing",
            "factory '{m}:make_nothing' for '{m}:Bot' (factories in [tool.casebank]) does not import: cannot import "
            "target '{m}:make_nothing': '{m}' has no attribute 'make_nothing' - check the name (e.g. "
            "'support_bot.bot:answer') - fix the name in [tool.casebank] factories",
            id="missing",
        ),
    ],
)
def test_a_factory_that_fails_is_a_usage_error_before_any_case_runs(
    project: Project, factory: str, message: str
) -> None:
    project.write_module(BOT)
    project.add_case("c1", "Bot.answer", {"question": {"text": "q"}}, "made: q")
    m = project.module
    seen = []
    with pytest.raises(FactoryError) as caught:
        run_suite(project.load(), factories={f"{m}:Bot": f"{m}:{factory}"}, on_result=seen.append)
    assert str(caught.value) == message.format(m=m)
    assert seen == []


def test_a_self_an_older_casebank_recorded_as_its_repr_is_left_out(project: Project) -> None:
    project.write_module(BOT)
    old_input = {"self": {"$repr": "<Bot object at 0x7f3a2c1b9d90>"}, "question": {"text": "q"}}
    project.add_case("c1", "Bot.answer", old_input, "bot: q")
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "bot: q")]
