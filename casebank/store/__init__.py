"""The case store: one interface (`Store`), one way in (`open_store(url)`), and its backends.

Everything casebank keeps - spans, traces, incidents, runs, labels - goes through `Store`; no
code outside this package sees a connection. Imports nothing of casebank's but `casebank.errors`.
"""

from casebank.store._interface import GraderCaches, PreparedSpans, Store
from casebank.store._open import DEFAULT_DB, StoreURL, check_store, default_store_url, open_store, parse_store_url
from casebank.store._records import (
    COPY_KINDS,
    INCIDENT_STATUSES,
    LABELS,
    SPAN_COLUMNS,
    TOKEN_SCOPES,
    TRACE_COLUMNS,
    Incident,
    StoreCounts,
    TraceSummary,
    check_can_annotate,
    check_can_dismiss,
    check_can_promote,
    incident_id_for,
    output_hash,
    token_hash,
    utc_now,
)

__all__ = [
    "COPY_KINDS",
    "DEFAULT_DB",
    "INCIDENT_STATUSES",
    "LABELS",
    "SPAN_COLUMNS",
    "TOKEN_SCOPES",
    "TRACE_COLUMNS",
    "GraderCaches",
    "Incident",
    "PreparedSpans",
    "Store",
    "StoreCounts",
    "StoreURL",
    "TraceSummary",
    "check_can_annotate",
    "check_can_dismiss",
    "check_can_promote",
    "check_store",
    "default_store_url",
    "incident_id_for",
    "open_store",
    "output_hash",
    "parse_store_url",
    "token_hash",
    "utc_now",
]
