"""The SQLite case store. Imports nothing of casebank's but `casebank.errors`."""

from casebank.store._connection import default_db_path
from casebank.store._store import (
    INCIDENT_STATUSES,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    Incident,
    PreparedBatch,
    Store,
    StoreCounts,
    TraceSummary,
    prepare_batch,
    utc_now,
)

__all__ = [
    "INCIDENT_STATUSES",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "Incident",
    "PreparedBatch",
    "Store",
    "StoreCounts",
    "TraceSummary",
    "default_db_path",
    "prepare_batch",
    "utc_now",
]
