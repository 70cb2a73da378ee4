"""Typed inputs and methods, end to end: a product traced through `casebank.init()` in its own process,
then `cases flag / annotate / promote / run` as real subprocesses, replaying dataclass, pydantic,
enum, datetime and nested-list arguments and an async method as the types they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson

from casebank.replay._case import content_hash, load_case
from tests.cli.conftest import PROJECT_ROOT, Cases, assert_one_line_error

MODELS = """
import dataclasses
import datetime
import enum

import pydantic


class Tier(enum.Enum):
    GOLD = "gold"
    BASIC = "basic"


@dataclasses.dataclass
class {line}:
    sku: str
    qty: int
    price: float


@dataclasses.dataclass
class Invoice:
    id: str
    issued: datetime.datetime
    lines: list[{line}]


class Customer(pydantic.BaseModel):
    name: str
    tier: Tier
"""

APP = """
import datetime

import casebank

from invoice_app.models import Customer, Invoice, Tier

DISCOUNT = {discount}


@casebank.trace
def quote(invoice: Invoice, customer: Customer, due: datetime.date) -> str:
    total = sum(line.qty * line.price for line in invoice.lines)
    if customer.tier is Tier.GOLD:
        total *= 1 - DISCOUNT
    return f"{{invoice.id}} for {{customer.name}} issued {{invoice.issued:%Y-%m-%d}}: {{total:.2f}} due {{due:%d %b}}"


@casebank.trace
def count_items(batches) -> str:  # no hints: the recorded types rebuild the argument
    return f"{{sum(line.qty for batch in batches for line in batch)}} items in {{len(batches)}} batches"


class Bot:
    def __init__(self):
        self.greeting = "{greeting}"

    @casebank.trace
    async def answer(self, customer: Customer, question: str) -> str:
        return f"{{self.greeting}}, {{customer.name}} ({{customer.tier.value}}): {{question}}"


class Opaque:
    def __repr__(self):
        return "<Opaque handle>"


@casebank.trace
def with_handle(question: str, handle) -> str:
    return question
"""


def _write_app(root: Path, *, discount: float, greeting: str = "Hello", line: str = "Line") -> None:
    package = root / "invoice_app"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS.format(line=line))
    (package / "app.py").write_text(APP.format(discount=discount, greeting=greeting))


# The product: each entry point called once, each call its own trace.
CALLS = """
import asyncio, datetime

import casebank
from invoice_app.app import Bot, Opaque, count_items, quote, with_handle
from invoice_app.models import Customer, Invoice, Line, Tier

casebank.init()
lines = [Line(sku="A-1", qty=2, price=10.0), Line(sku="B-2", qty=1, price=5.5)]
invoice = Invoice(id="inv-7", issued=datetime.datetime(2026, 11, 2, 9, 30), lines=lines)
ada = Customer(name="Ada", tier=Tier.GOLD)
calls = {
    "quote": lambda: quote(invoice, ada, datetime.date(2026, 12, 1)),
    "count_items": lambda: count_items([lines, [Line(sku="C-3", qty=4, price=1.0)]]),
    "answer": lambda: asyncio.run(Bot().answer(ada, "where is my refund?")),
    "with_handle": lambda: with_handle("hi", Opaque()),
}
for call in calls.values():
    call()
assert casebank.flush()
"""


def _run_product(root: Path, db: Path) -> dict[str, str]:
    """Run the product in its own process; returns each entry point's trace id, by function name."""
    product = subprocess.run(
        [sys.executable, "-c", CALLS],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CASEBANK_DB": str(db), "PYTHONPATH": os.pathsep.join([str(root), str(PROJECT_ROOT)])},
    )
    assert product.returncode == 0, product.stderr
    from casebank.store import open_store

    with open_store(db) as store:
        traces = store.recent_traces(limit=10)
    return {trace.entrypoint.rpartition(".")[2].rpartition(":")[2]: trace.trace_id for trace in traces}


def _promote(cases: Cases, root: Path, trace_id: str, expected: str) -> Path:
    flag = cases("flag", trace_id, "--reason", "wrong")
    assert flag.code == 0, flag.err
    incident = flag.out.strip()
    assert cases("annotate", incident, "--expected", expected).code == 0
    promoted = cases("promote", incident)
    assert promoted.code == 0, promoted.err
    return root / promoted.out.strip()


def test_typed_arguments_and_an_async_method_replay_as_the_types_they_were(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    _write_app(tmp_path, discount=0.5)  # the bug: gold customers get half off
    ids = _run_product(tmp_path, db)

    quote_case = load_case(_promote(cases, tmp_path, ids["quote"], "inv-7 for Ada issued 2026-11-02: 22.95 due 01 Dec"))
    assert quote_case.entrypoint == "invoice_app.app:quote"
    assert quote_case.input == {
        "invoice": {
            "id": "inv-7",
            "issued": "2026-11-02T09:30:00",
            "lines": [{"sku": "A-1", "qty": 2, "price": 10.0}, {"sku": "B-2", "qty": 1, "price": 5.5}],
        },
        "customer": {"name": "Ada", "tier": "gold"},
        "due": "2026-12-01",
    }
    assert quote_case.input_types == {
        "invoice": "invoice_app.models:Invoice",
        "customer": "invoice_app.models:Customer",
        "due": "datetime:date",
    }
    count_case = load_case(_promote(cases, tmp_path, ids["count_items"], "7 items in 2 batches, checked"))
    assert count_case.input_types == {"batches": {"list": {"list": "invoice_app.models:Line"}}}
    answer_case = load_case(_promote(cases, tmp_path, ids["answer"], "Welcome, Ada (gold): where is my refund?"))
    assert answer_case.entrypoint == "invoice_app.app:Bot.answer"
    assert answer_case.input == {"customer": {"name": "Ada", "tier": "gold"}, "question": "where is my refund?"}

    broken = cases("run", "--json", "broken.json")
    assert broken.code == 1, broken.out + broken.err
    report = json.loads((tmp_path / "broken.json").read_text())
    outputs = {r["case_id"]: (r["status"], r["output"]) for r in report["results"]}
    assert outputs == {
        quote_case.id: ("failed", "inv-7 for Ada issued 2026-11-02: 12.75 due 01 Dec"),
        count_case.id: ("failed", "7 items in 2 batches"),
        answer_case.id: ("failed", "Hello, Ada (gold): where is my refund?"),
    }

    _write_app(tmp_path, discount=0.1, greeting="Welcome")  # the fix
    (tmp_path / "invoice_app" / "app.py").write_text(
        (tmp_path / "invoice_app" / "app.py").read_text().replace('batches"', 'batches, checked"')
    )
    fixed = cases("run")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "3/3 passed" in fixed.out


def test_a_type_that_no_longer_imports_is_an_error_of_its_case_in_the_table_json_and_junit(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    _write_app(tmp_path, discount=0.5)
    ids = _run_product(tmp_path, db)
    count_case = load_case(_promote(cases, tmp_path, ids["count_items"], "7 items"))
    _write_app(tmp_path, discount=0.5, line="LineItem")  # Line was renamed since the case was written

    run = cases("run", "--json", "run.json", "--junit", "junit.xml")

    assert run.code == 1, run.out + run.err
    message = (
        "could not rebuild argument 'batches': its recorded type 'invoice_app.models:Line' no longer imports "
        "(AttributeError: module 'invoice_app.models' has no attribute 'Line')"
    )
    assert "0/1 passed (0.0%) - 1 could not be called (arguments not rebuilt)" in run.out
    assert "(not called)" in run.out and "could not" in run.out  # actual, and why: the table wraps the reason
    report = json.loads((tmp_path / "run.json").read_text())
    (result,) = report["results"]
    assert (result["case_id"], result["status"], result["error"]) == (count_case.id, "errored", message)
    assert (report["failed"], report["errored"]) == (0, 1)
    testcase = ET.parse(tmp_path / "junit.xml").getroot().find(".//testcase")
    assert testcase is not None
    error = testcase.find("error")
    assert error is not None and testcase.find("failure") is None
    assert (error.get("type"), error.get("message")) == ("RebuildError", message)


def test_promote_refuses_an_argument_recorded_as_its_repr(cases: Cases, tmp_path: Path, db: Path) -> None:
    _write_app(tmp_path, discount=0.5)
    ids = _run_product(tmp_path, db)
    incident = cases("flag", ids["with_handle"], "--reason", "wrong").out.strip()
    assert cases("annotate", incident, "--expected", "hello").code == 0
    refused = cases("promote", incident, "--force")
    assert_one_line_error(
        refused,
        1,
        f"refused to promote incident {incident}: could not rebuild argument 'handle': it was recorded as its repr "
        "'<Opaque handle>', not as data - make its type a dataclass or a pydantic model",
    )
    assert not (tmp_path / "evals").exists()


def test_a_class_that_cannot_be_made_is_a_usage_error_naming_the_factories_line(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    _write_app(tmp_path, discount=0.5)
    ids = _run_product(tmp_path, db)
    _promote(cases, tmp_path, ids["answer"], "Welcome, Ada (gold): where is my refund?")
    app = tmp_path / "invoice_app" / "app.py"
    app.write_text(app.read_text().replace("def __init__(self):", "def __init__(self, client):"))
    run = cases("run")
    assert_one_line_error(
        run,
        2,
        "cannot make a 'invoice_app.app:Bot' to replay its methods: Bot() raised TypeError: Bot.__init__() missing 1 "
        "required positional argument: 'client' - name a function that returns one in [tool.casebank] of "
        'pyproject.toml: factories = {"invoice_app.app:Bot" = "invoice_app.app:make_bot"}',
    )


def test_a_factory_named_in_the_project_config_makes_the_instance_cases_run_replays_on(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    _write_app(tmp_path, discount=0.5)
    ids = _run_product(tmp_path, db)
    _promote(cases, tmp_path, ids["answer"], "Welcome, Ada (gold): where is my refund?")
    app = tmp_path / "invoice_app" / "app.py"
    source = app.read_text().replace("def __init__(self):", "def __init__(self, client):")
    # The factory's own greeting: the expected answer only comes from an instance it made.
    app.write_text(
        source + '\n\ndef make_bot():\n    bot = Bot(client=None)\n    bot.greeting = "Welcome"\n    return bot\n'
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.casebank]\nfactories = {"invoice_app.app:Bot" = "invoice_app.app:make_bot"}\n'
    )

    run = cases("run")
    shown = cases("config")

    assert run.code == 0 and "1/1 passed" in run.out, run.out + run.err
    assert "invoice_app.app:Bot" in shown.out and str(tmp_path / "pyproject.toml") in shown.out, shown.out


# As casebank wrote case files before types were recorded: no input_types, schema_version 1.
OLD_CASE = {
    "created_at": "2026-11-26T21:52:48.326+00:00",
    "entrypoint": "old_bot:answer",
    "expected": "within 14 days",
    "grader": {"name": "contains", "options": {}},
    "id": "9f0cf3b39185",
    "input": {"ticket": "Can I return it?", "options": {"top_k": 3}},
    "schema_version": 1,
    "source": {"incident_id": "9f0cf3b39185", "reasons": ["wrong window"], "trace_id": "6a" * 16},
    "tags": ["refunds"],
}
OLD_BOT = """
def answer(ticket: str, options: dict) -> str:
    return f"{type(options).__name__} {options['top_k']}: refunds within 14 days"
"""


def _write_case_file(path: Path, body: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**body, "hash": content_hash(body)}
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")


def test_a_schema_1_case_file_runs_unchanged(cases: Cases, tmp_path: Path) -> None:
    (tmp_path / "old_bot.py").write_text(textwrap.dedent(OLD_BOT))
    _write_case_file(tmp_path / "evals" / "answer-9f0cf3b39185.json", OLD_CASE)
    run = cases("run", "--json", "run.json")
    assert run.code == 0, run.out + run.err
    (result,) = json.loads((tmp_path / "run.json").read_text())["results"]
    assert (result["status"], result["output"]) == ("passed", "dict 3: refunds within 14 days")


def test_a_case_file_with_tags_as_a_string_is_refused_naming_the_file_and_the_field(
    cases: Cases, tmp_path: Path
) -> None:
    (tmp_path / "old_bot.py").write_text(textwrap.dedent(OLD_BOT))
    path = Path("evals") / "answer-9f0cf3b39185.json"
    _write_case_file(tmp_path / path, {**OLD_CASE, "tags": "refunds"})  # a correct hash
    run = cases("run")
    assert_one_line_error(
        run, 2, f"case file '{path}': field 'tags' is \"refunds\", not a list of texts - restore it from git"
    )
