"""The capture SDK that runs inside the product. Light: the OTel SDK loads on init()."""

from casebank.capture._decorator import trace
from casebank.capture._setup import current_trace_id, flush, init, shutdown

__all__ = ["current_trace_id", "flush", "init", "shutdown", "trace"]
