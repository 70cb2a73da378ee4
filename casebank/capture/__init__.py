"""The capture SDK that runs inside the product. Light: the OTel SDK loads on `casebank.init()`,
which starts capture (`_setup.start`) and is defined above this package, in `casebank._init`."""

from casebank.capture._decorator import trace
from casebank.capture._setup import current_trace_id, flush, shutdown
from casebank.capture._tool import span, tool

__all__ = ["current_trace_id", "flush", "shutdown", "span", "tool", "trace"]
