"""Kept for one import: `casebank.capture._setup` reads `repeats_a_call` from here.

What lived here is split by job: `_call` (one LLM call = one span, recorded when it ends),
`_duplicates` (one span a call whichever instrumentation wraps outermost: `repeats_a_call`),
`_provider` (`Endpoint`), `_values` (the SDKs' sentinels, reading and dumping values),
`_attributes` (attribute names), `_failures` (counting casebank's own errors) and `_server`
(the server address cache). Once capture imports `repeats_a_call` from `_duplicates`, this
module can go.
"""

from __future__ import annotations

from casebank.integrations._duplicates import repeats_a_call

__all__ = ["repeats_a_call"]
