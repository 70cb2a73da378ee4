"""The type descriptors capture records beside an entry point's arguments (`casebank.input_types`)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any, NamedTuple, TypedDict

import orjson
import pydantic
import pytest

import casebank
from casebank.capture._types import input_types
from casebank.store import open_store


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


class Customer(pydantic.BaseModel):
    name: str


class Tier(enum.Enum):
    GOLD = "gold"


class Point(NamedTuple):
    x: int
    y: int


class Address(TypedDict):
    city: str


class Opaque:
    pass


class MyDate(dt.date):
    pass


HERE = __name__


@pytest.mark.parametrize(
    ("value", "descriptor"),
    [
        pytest.param("text", None, id="str"),
        pytest.param(3, None, id="int"),
        pytest.param(None, None, id="none"),
        pytest.param(["a", 1, None, 2.5], None, id="list-of-plain"),
        pytest.param({"a": {"b": [1, "x"]}}, None, id="nested-json"),
        pytest.param(Line(sku="A", qty=1), f"{HERE}:Line", id="dataclass"),
        pytest.param(Customer(name="Ada"), f"{HERE}:Customer", id="pydantic-model"),
        pytest.param(Tier.GOLD, f"{HERE}:Tier", id="enum"),
        pytest.param(Point(1, 2), f"{HERE}:Point", id="namedtuple"),
        pytest.param(dt.datetime(2024, 5, 1, 12), "datetime:datetime", id="datetime"),
        pytest.param(dt.date(2024, 5, 1), "datetime:date", id="date"),
        pytest.param(MyDate(2024, 5, 1), "datetime:date", id="a-date-subclass-as-date"),
        pytest.param(uuid.UUID(int=7), "uuid:UUID", id="uuid"),
        pytest.param(decimal.Decimal("89.99"), "decimal:Decimal", id="decimal"),
        pytest.param([Line("A", 1), Line("B", 2)], {"list": f"{HERE}:Line"}, id="list-of-dataclasses"),
        pytest.param([[Line("A", 1)], []], {"list": {"list": f"{HERE}:Line"}}, id="nested-lists"),
        pytest.param({"a": Tier.GOLD}, {"dict": [None, f"{HERE}:Tier"]}, id="dict-of-enums"),
        pytest.param({Tier.GOLD: 1}, {"dict": [f"{HERE}:Tier", None]}, id="dict-keyed-by-enum"),
        pytest.param((1, "a"), {"tuple": [None, None]}, id="tuple-of-plain"),
        pytest.param((Line("A", 1), 2), {"tuple": [f"{HERE}:Line", None]}, id="tuple-by-position"),
        pytest.param(tuple(range(20)), {"tuple": None}, id="long-tuple"),
        pytest.param({"x", "y"}, {"set": None}, id="set"),
        pytest.param(frozenset({Tier.GOLD}), {"frozenset": f"{HERE}:Tier"}, id="frozenset-of-enums"),
        pytest.param(
            [Line("A", 1), None],
            {"list": {"union": ["builtins:None", f"{HERE}:Line"]}},
            id="list-with-a-missing-element",
        ),
        pytest.param(Opaque(), None, id="a-class-no-replay-can-rebuild"),
        pytest.param([Opaque()], None, id="a-list-of-such"),
    ],
)
def test_each_kind_of_value_gets_its_descriptor(value: Any, descriptor: Any) -> None:
    assert input_types({"arg": value}) == (None if descriptor is None else {"arg": descriptor})


def test_a_typed_dict_is_a_dict_at_run_time_and_records_nothing() -> None:
    assert input_types({"address": Address(city="Oslo")}) is None


def test_nested_containers_are_sampled_so_a_large_payload_costs_little() -> None:
    history = [{"role": "user", "content": "hi"}] * 10_000 + [{"when": dt.date(2024, 5, 1)}]
    assert input_types({"history": history}) is None  # the last element is past the sample
    assert input_types({"history": [{"when": dt.date(2024, 5, 1)}, *history]}) == {
        "history": {"list": {"union": ["builtins:dict", {"dict": [None, "datetime:date"]}]}}
    }


@casebank.trace
def book(line: Line, customer: Customer, tier: Tier, when: dt.datetime, lines: list[Line], note: str) -> str:
    return f"{customer.name}: {line.sku}"


def _entry_span(trace_id: str) -> dict[str, Any]:
    assert casebank.flush()
    with open_store() as store:
        spans = store.trace_spans(trace_id)
        trace = store.get_trace(trace_id)
    assert trace is not None
    (root,) = [s for s in spans if s["attributes"].get("casebank.root")]
    return {"input": trace.input, **root["attributes"]}


def test_a_traced_call_records_the_types_beside_the_json() -> None:
    casebank.init()
    book(Line("A", 1), Customer(name="Ada"), Tier.GOLD, dt.datetime(2024, 5, 1, 12), [Line("B", 2)], "hi")
    casebank.flush()
    with open_store() as store:
        (trace,) = store.recent_traces()
    span = _entry_span(trace.trace_id)
    assert span["input"] == {
        "line": {"sku": "A", "qty": 1},
        "customer": {"name": "Ada"},
        "tier": "gold",
        "when": "2024-05-01T12:00:00",
        "lines": [{"sku": "B", "qty": 2}],
        "note": "hi",
    }
    assert orjson.loads(span["casebank.input_types"]) == {
        "line": f"{HERE}:Line",
        "customer": f"{HERE}:Customer",
        "tier": f"{HERE}:Tier",
        "when": "datetime:datetime",
        "lines": {"list": f"{HERE}:Line"},
    }


def test_a_call_with_only_plain_json_arguments_records_no_types_attribute() -> None:
    casebank.init()

    @casebank.trace
    def answer(ticket: str, customer: dict[str, str]) -> str:
        return casebank.current_trace_id() or ""

    span = _entry_span(answer("refund?", {"id": "c-42"}))
    assert "casebank.input_types" not in span


def test_a_namedtuple_is_recorded_as_its_fields() -> None:
    casebank.init()

    @casebank.trace
    def where(point: Point) -> str:
        return casebank.current_trace_id() or ""

    span = _entry_span(where(Point(1, 2)))
    assert span["input"] == {"point": {"x": 1, "y": 2}}
    assert orjson.loads(span["casebank.input_types"]) == {"point": f"{HERE}:Point"}


class Bot:
    @casebank.trace
    def answer(self, question: str, tier: Tier) -> str:
        return casebank.current_trace_id() or ""

    @casebank.trace
    async def answer_async(self, question: str) -> str:
        return casebank.current_trace_id() or ""

    @classmethod
    @casebank.trace
    def make(cls, name: str) -> str:
        return casebank.current_trace_id() or ""

    @staticmethod
    @casebank.trace
    def helper(self_like: str) -> str:
        return casebank.current_trace_id() or ""


@pytest.mark.parametrize(
    ("call", "method", "arguments"),
    [
        pytest.param(lambda: Bot().answer("hi", Tier.GOLD), "answer", {"question": "hi", "tier": "gold"}, id="method"),
        pytest.param(lambda: asyncio.run(Bot().answer_async("hi")), "answer_async", {"question": "hi"}, id="async"),
        pytest.param(lambda: Bot.make("x"), "make", {"name": "x"}, id="classmethod"),
        pytest.param(lambda: Bot.helper("x"), "helper", {"self_like": "x"}, id="staticmethod"),
    ],
)
def test_a_method_records_its_owner_and_not_self(call: Any, method: str, arguments: dict[str, Any]) -> None:
    casebank.init()
    trace_id = call()
    with open_store() as store:
        casebank.flush()
        trace = store.get_trace(trace_id)
    assert trace is not None
    assert trace.entrypoint == f"{HERE}:Bot.{method}"
    assert trace.input == arguments


def test_a_type_lookup_that_raises_still_records_the_call_and_never_reaches_the_app() -> None:
    class Meta(type):
        def __getattr__(cls, name: str) -> Any:
            raise RuntimeError("hostile metaclass")

    class Hostile(metaclass=Meta):
        pass

    casebank.init()

    @casebank.trace
    def handle(thing: Any) -> str:
        return casebank.current_trace_id() or ""

    span = _entry_span(handle(Hostile()))
    assert "casebank.input_types" not in span
    assert set(span["input"]) == {"thing"}


def test_the_types_are_those_of_each_call_when_a_function_is_called_with_different_classes() -> None:
    casebank.init()

    @casebank.trace
    def handle(thing: Any, things: Any) -> str:
        return casebank.current_trace_id() or ""

    calls = [
        (Line("A", 1), [Line("B", 2)], {"thing": f"{HERE}:Line", "things": {"list": f"{HERE}:Line"}}),
        (Customer(name="Ada"), [Tier.GOLD], {"thing": f"{HERE}:Customer", "things": {"list": f"{HERE}:Tier"}}),
        (Line("A", 1), [Tier.GOLD], {"thing": f"{HERE}:Line", "things": {"list": f"{HERE}:Tier"}}),
        (Line("A", 1), ["plain"], {"thing": f"{HERE}:Line"}),
        ("plain", ["plain"], None),
        (Line("A", 1), [Line("B", 2)], {"thing": f"{HERE}:Line", "things": {"list": f"{HERE}:Line"}}),
    ]
    for thing, things, expected in [*calls, *calls]:  # the second time round, from the function's cache
        span = _entry_span(handle(thing, things))
        assert orjson.loads(span.get("casebank.input_types", "null")) == expected
