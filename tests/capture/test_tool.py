"""@casebank.tool and casebank.span end to end: the real OTel SDK, the real writer, a real store file."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

import casebank
from casebank.store import open_store


@dataclasses.dataclass
class Passage:
    topic: str
    text: str


class PolicyNotFound(LookupError):
    pass


@casebank.tool
def search(query: str, k: int = 2) -> list[Passage]:
    return [Passage(topic=query, text=f"about {query}")][:k]


@casebank.tool(name="fetch_policy")
async def fetch(topic: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    if topic == "missing":
        raise PolicyNotFound(f"no policy for {topic!r}")
    return {"topic": topic, "days": 14}


class Retriever:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @casebank.tool
    def lookup(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    @classmethod
    @casebank.tool
    def build(cls, name: str) -> str:
        return f"{cls.__name__}:{name}"

    @casebank.tool
    async def alookup(self, key: str) -> str:
        return f"{self.prefix}:{key}!"


def _spans(trace_id: str) -> list[dict[str, Any]]:
    assert casebank.flush()
    with open_store() as store:
        return store.trace_spans(trace_id)


def _steps(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if "casebank.step.kind" in s["attributes"]]


def test_tools_and_spans_are_plain_calls_before_init() -> None:
    assert search("refunds") == [Passage(topic="refunds", text="about refunds")]
    assert asyncio.run(fetch("refunds")) == {"topic": "refunds", "days": 14}
    with casebank.span("rerank", k=3) as step:
        step.set_result([1, 2])
    assert Retriever("r").lookup("a") == "r:a"


def test_a_tool_call_is_a_child_span_with_its_name_arguments_and_result() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    def answer(question: str) -> str:
        ids.append(casebank.current_trace_id())
        passages = search(question, k=1)
        return passages[0].text

    assert answer("refunds") == "about refunds"
    spans = _spans(ids[0] or "")
    (tool,) = _steps(spans)
    root = next(s for s in spans if s["name"] == "answer")
    assert tool["parent_span_id"] == root["span_id"]
    attributes = tool["attributes"]
    assert attributes["casebank.step.kind"] == "tool"
    assert attributes["casebank.step.name"] == "search"
    assert attributes["casebank.step.function"] == f"{__name__}:search"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert orjson.loads(attributes["casebank.step.arguments"]) == {"query": "refunds", "k": 1}
    assert orjson.loads(attributes["casebank.step.result"]) == [{"topic": "refunds", "text": "about refunds"}]


def test_an_async_tool_records_its_exception_and_re_raises_it_unchanged() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    async def answer() -> str:
        ids.append(casebank.current_trace_id())
        first = await fetch("refunds")
        try:
            await fetch("missing")
        except PolicyNotFound as exc:
            return f"{first['days']} / {exc}"
        return "unreachable"

    assert asyncio.run(answer()) == "14 / no policy for 'missing'"
    ok, failed = sorted(_steps(_spans(ids[0] or "")), key=lambda s: s["start_ns"])
    assert ok["attributes"]["casebank.step.name"] == "fetch_policy"  # name= wins over the function's name
    assert orjson.loads(ok["attributes"]["casebank.step.result"]) == {"topic": "refunds", "days": 14}
    assert failed["status"] == "error"
    assert failed["attributes"]["casebank.error"] == "PolicyNotFound: no policy for 'missing'"
    assert failed["attributes"]["casebank.step.error_type"] == f"{__name__}:PolicyNotFound"
    assert "casebank.step.result" not in failed["attributes"]


def test_a_method_tool_does_not_record_self_or_cls() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    def answer() -> str:
        ids.append(casebank.current_trace_id())
        retriever = Retriever("kb")
        return retriever.lookup("a") + " " + Retriever.build("x") + " " + asyncio.run(retriever.alookup("b"))

    assert answer() == "kb:a Retriever:x kb:b!"
    steps = sorted(_steps(_spans(ids[0] or "")), key=lambda s: s["start_ns"])
    arguments = [orjson.loads(s["attributes"]["casebank.step.arguments"]) for s in steps]
    assert arguments == [{"key": "a"}, {"name": "x"}, {"key": "b"}]
    assert [s["attributes"]["casebank.step.function"] for s in steps] == [
        f"{__name__}:Retriever.lookup",
        f"{__name__}:Retriever.build",
        f"{__name__}:Retriever.alookup",
    ]


def test_a_span_block_records_its_attributes_result_and_exception_with_and_async_with() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    async def answer() -> str:
        ids.append(casebank.current_trace_id())
        with casebank.span("rerank", k=3, model="small") as step:
            step.set_result(["b", "a"])
        async with casebank.span("cache"):
            pass
        with pytest.raises(ValueError), casebank.span("parse"):
            raise ValueError("bad json")
        return "done"

    assert asyncio.run(answer()) == "done"
    steps = {s["name"]: s for s in _steps(_spans(ids[0] or ""))}
    assert set(steps) == {"rerank", "cache", "parse"}
    rerank = steps["rerank"]["attributes"]
    assert rerank["casebank.step.kind"] == "span"
    assert orjson.loads(rerank["casebank.step.arguments"]) == {"k": 3, "model": "small"}
    assert orjson.loads(rerank["casebank.step.result"]) == ["b", "a"]
    assert "casebank.step.result" not in steps["cache"]["attributes"]  # a block that set none
    assert steps["parse"]["status"] == "error"
    assert steps["parse"]["attributes"]["casebank.error"] == "ValueError: bad json"


def test_a_secret_in_a_tool_argument_never_reaches_the_store_file(tmp_path: Path) -> None:
    casebank.init()
    secret_key = "sk-proj-" + "Zq8" * 12
    password = "hunter2-very-secret"

    @casebank.tool
    def call_api(url: str, api_key: str, body: dict[str, Any]) -> str:
        return "ok"

    @casebank.trace
    def answer() -> str:
        return call_api(f"https://bot:{password}@api.example.com/v1", secret_key, {"password": password, "q": "hi"})

    assert answer() == "ok"
    assert casebank.flush()
    casebank.shutdown()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("casebank.db*"))
    assert b"api.example.com" in stored  # the span is there
    assert secret_key.encode() not in stored
    assert password.encode() not in stored


def test_an_argument_json_cannot_hold_is_recorded_as_a_repr_and_the_tool_still_runs() -> None:
    casebank.init()
    ids: list[str | None] = []

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @casebank.tool
    def use(thing: Any) -> str:
        return "used"

    @casebank.trace
    def answer() -> str:
        ids.append(casebank.current_trace_id())
        return use(Unprintable())

    assert answer() == "used"
    (step,) = _steps(_spans(ids[0] or ""))
    assert "$repr" in step["attributes"]["casebank.step.arguments"]
