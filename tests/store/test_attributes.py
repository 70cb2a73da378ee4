"""Trace attributes as text (`casebank.store._attributes`): how a value is stored, compared and shown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from casebank.store._attributes import attribute_text, describe


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("ana", "ana", id="text-as-it-is"),
        pytest.param(8812, "8812", id="int"),
        pytest.param(1e-07, "1e-07", id="float-as-python-writes-it"),
        pytest.param(True, "true", id="bool-as-json"),
        pytest.param(None, "null", id="none-as-json"),
        pytest.param(["a", 1], '["a",1]', id="list-as-compact-json"),
        pytest.param(Decimal("9.99"), '"9.99"', id="no-json-value-as-its-text"),
    ],
)
def test_a_value_is_stored_and_compared_as_one_text(value: Any, text: str) -> None:
    assert attribute_text(value) == text


def test_a_where_is_described_as_a_person_typed_it() -> None:
    assert describe({"ticket_id": 8812, "user": "ana", "ratio": 1e-07, "vip": False}) == (
        "ticket_id=8812, user=ana, ratio=1e-07, vip=false"
    )
