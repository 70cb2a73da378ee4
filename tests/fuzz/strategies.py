"""Hypothesis strategies shared by the fuzz tests and `benchmarks/faults_fuzz.py`."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

# Any text Python can hold, lone surrogates and NUL included: what a product may hand casebank.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# What a span attribute may be given: anything, including what the SDK or JSON refuses.
wild_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats()
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | any_text
    | st.binary(max_size=20)
)
attribute_values: st.SearchStrategy[Any] = (
    wild_scalars | st.lists(wild_scalars, max_size=4).map(tuple) | st.lists(wild_scalars, max_size=4)
)
