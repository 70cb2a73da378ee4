"""Rebuilding a case's arguments as their types: the entry point's hints first, then the recorded types."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from casebank.replay import run_suite
from casebank.replay._rebuild import RebuildError, check_rebuildable

if TYPE_CHECKING:
    from tests.replay.conftest import Project

MODELS = """
    import dataclasses
    import datetime
    import enum

    import pydantic


    @dataclasses.dataclass
    class Line:
        sku: str
        qty: int


    @dataclasses.dataclass
    class Invoice:
        id: str
        lines: list[Line]


    class Customer(pydantic.BaseModel):
        name: str
        tier: "Tier"


    class Tier(enum.Enum):
        GOLD = "gold"
        BASIC = "basic"


    Customer.model_rebuild()


    def describe(invoice, customer, when, tiers, batches):
        return (
            f"{type(invoice).__name__} {invoice.id} {invoice.lines[0].sku}x{invoice.lines[0].qty} | "
            f"{type(customer).__name__} {customer.name} {customer.tier.name} | "
            f"{when.year}-{when.month} {when.tzname()} | "
            f"{[t.name for t in tiers]} | {[[line.sku for line in batch] for batch in batches]}"
        )
"""

INPUT = {
    "invoice": {"id": "inv-7", "lines": [{"sku": "A-1", "qty": 2}]},
    "customer": {"name": "Ada", "tier": "gold"},
    "when": "2024-05-01T12:00:00+00:00",
    "tiers": ["basic", "gold"],
    "batches": [[{"sku": "B", "qty": 1}], []],
}
EXPECTED = "Invoice inv-7 A-1x2 | Customer Ada GOLD | 2024-5 UTC | ['BASIC', 'GOLD'] | [['B'], []]"


def test_arguments_are_rebuilt_from_the_entry_points_type_hints(project: Project) -> None:
    project.write_module(
        MODELS
        + """
    def handle(invoice: Invoice, customer: Customer, when: datetime.datetime, tiers: list[Tier],
               batches: list[list[Line]]) -> str:
        return describe(invoice, customer, when, tiers, batches)
    """
    )
    project.add_case("c1", "handle", INPUT, EXPECTED)  # a case file without types, as schema 1 wrote them
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", EXPECTED)]


def test_without_hints_the_recorded_types_rebuild_them(project: Project) -> None:
    project.write_module(
        MODELS
        + """
    def handle(invoice, customer, when, tiers, batches):
        return describe(invoice, customer, when, tiers, batches)
    """
    )
    m = project.module
    types = {
        "invoice": f"{m}:Invoice",
        "customer": f"{m}:Customer",
        "when": "datetime:datetime",
        "tiers": {"list": f"{m}:Tier"},
        "batches": {"list": {"list": f"{m}:Line"}},
    }
    project.add_case("c1", "handle", INPUT, EXPECTED, input_types=types)
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", EXPECTED)]


def test_the_hints_win_over_a_recorded_type_that_is_gone(project: Project) -> None:
    project.write_module(
        MODELS
        + """
    def handle(invoice: Invoice) -> str:
        return f"{type(invoice).__name__} {invoice.id}"
    """
    )
    project.add_case("c1", "handle", {"invoice": INPUT["invoice"]}, "Invoice inv-7", input_types={"invoice": "x:Old"})
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "Invoice inv-7")]


@pytest.mark.parametrize(
    ("source", "value", "input_types", "error"),
    [
        pytest.param(
            "def handle(invoice): return 'called'",
            {"id": "inv-7", "lines": []},
            {"invoice": "{module}:Gone"},
            "could not rebuild argument 'invoice': its recorded type '{module}:Gone' no longer imports "
            "(AttributeError: module '{module}' has no attribute 'Gone')",
            id="type-no-longer-imports",
        ),
        pytest.param(
            "def handle(invoice): return 'called'",
            {"id": "inv-7"},
            {"invoice": "no_such_module_anywhere:Invoice"},
            "could not rebuild argument 'invoice': its recorded type 'no_such_module_anywhere:Invoice' no longer "
            "imports (ModuleNotFoundError: No module named 'no_such_module_anywhere')",
            id="module-gone",
        ),
        pytest.param(
            "def handle(invoice: Invoice): return 'called'",
            {"id": "inv-7", "lines": [{"sku": "A"}]},
            {},
            "could not rebuild argument 'invoice': it does not validate against the entry point's type hint "
            "'{module}:Invoice': lines.0.qty: Field required",
            id="validation-error",
        ),
        pytest.param(
            "def handle(invoice: Invoice): return 'called'",
            {"$repr": "<Invoice object at 0x7f00>"},
            {},
            "could not rebuild argument 'invoice': it was recorded as its repr '<Invoice object at 0x7f00>', "
            "not as data",
            id="recorded-as-repr",
        ),
        pytest.param(
            "def handle(invoice): return 'called'",
            {"items": [1, {"$repr": "<socket>"}]},
            {},
            "could not rebuild argument 'invoice': it was recorded as its repr '<socket>', not as data",
            id="repr-deep-inside",
        ),
    ],
)
def test_an_argument_that_cannot_be_rebuilt_is_an_error_of_its_case_and_the_target_is_not_called(
    project: Project, source: str, value: Any, input_types: dict[str, Any], error: str
) -> None:
    project.write_module(MODELS + textwrap.indent(f"\n{source}\n\ndef fine():\n    return 'fine'\n", "    "))
    types = {name: d.format(module=project.module) for name, d in input_types.items()}
    project.add_case("c1", "handle", {"invoice": value}, "called", input_types=types)
    project.add_case("c2", "fine", {}, "fine")  # the run goes on
    report = run_suite(project.load())
    first = next(r for r in report.results if r.case_id == "c1")
    message = error.format(module=project.module)
    assert (first.status, first.error, first.reason, first.output) == ("errored", message, message, None)
    assert (report.passed, report.failed, report.errored) == (1, 0, 1)


def test_a_hint_pydantic_cannot_validate_is_passed_over(project: Project) -> None:
    project.write_module(
        """
        class Client:
            pass

        def handle(question: str, client: Client = None) -> str:
            return f"{question} {client}"
        """
    )
    project.add_case("c1", "handle", {"question": "hi", "client": None}, "hi None")
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "hi None")]


def test_a_hint_that_does_not_evaluate_leaves_the_other_hints(project: Project) -> None:
    project.write_module(
        """
        from __future__ import annotations

        import dataclasses
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from some_client_library import Client


        @dataclasses.dataclass
        class Req:
            id: int


        def handle(req: Req, client: Client | None = None) -> str:
            return f"{type(req).__name__} {req.id}"
        """
    )
    project.add_case("c1", "handle", {"req": {"id": 7}, "client": None}, "Req 7")
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "Req 7")]


def test_a_recorded_none_is_passed_as_none_whatever_the_hint(project: Project) -> None:
    project.write_module(
        MODELS
        + """
    def handle(invoice: Invoice = None) -> str:
        return repr(invoice)
    """
    )
    project.add_case("c1", "handle", {"invoice": None}, "None", input_types={})
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "None")]


def test_plain_arguments_of_an_old_case_are_passed_as_they_were(project: Project) -> None:
    project.write_module(
        """
        def answer(question, options):
            return f"{type(question).__name__} {type(options).__name__} {options['top_k']}"
        """
    )
    project.add_case("c1", "answer", {"question": "hi", "options": {"top_k": 3}}, "str dict 3")
    report = run_suite(project.load())
    assert [(r.status, r.output) for r in report.results] == [("passed", "str dict 3")]


def test_check_rebuildable_uses_the_recorded_types_when_the_entry_point_does_not_import() -> None:
    check_rebuildable("not_importable_here:answer", {"when": "2024-05-01"}, {"when": "datetime:date"})
    with pytest.raises(RebuildError) as caught:
        check_rebuildable("not_importable_here:answer", {"when": "May"}, {"when": "datetime:date"})
    assert caught.value.with_fix.startswith(
        "could not rebuild argument 'when': it does not validate against its recorded type 'datetime:date': "
    )
    assert caught.value.with_fix.endswith(
        " - make the entry point accept the recorded value (see the case file's input), or promote a new case"
    )


def test_an_input_capture_cut_at_its_limit_is_refused_with_the_marker_named() -> None:
    import orjson

    from casebank._json import recorded_json
    from casebank._limits import MAX_VALUE_CHARS

    recorded = orjson.loads(recorded_json({"question": "why? " * (MAX_VALUE_CHARS // 4), "top_k": 3}))
    assert recorded["question"].endswith(" chars]")  # what capture keeps of a 1.25 MiB prompt
    check_rebuildable("not_importable_here:answer", {"question": "why?"}, {})
    with pytest.raises(RebuildError) as caught:
        check_rebuildable("not_importable_here:answer", {"request": recorded, "when": "now"}, {})
    message = caught.value.with_fix
    assert message.startswith("could not rebuild argument 'request': capture cut it at its size limit ([TRUNCATED:")
    assert "a replay would not get what the product got" in message
    with pytest.raises(RebuildError, match="depth > 64"):
        check_rebuildable("m:f", {"tree": [[["…[TRUNCATED:depth > 64]"]]]}, {})
    check_rebuildable("m:f", {"note": "a text that mentions [TRUNCATED:3 chars] in passing"}, {})
