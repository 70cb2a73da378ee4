"""casebank: turn an LLM product's production failures into a regression suite.

In the product: `casebank.init()` once, `@casebank.trace` on the entry point, and
`@casebank.tool` (or `with casebank.span(...)`) on the steps a case should be able to replay
as they were, `casebank.current_trace_id()` to hand the trace id back with each answer, or
`casebank.set_attributes(ticket_id=...)` to tie the trace to an id support already has. Support
tooling calls `casebank.flag(trace_id, reason=...)` or `casebank.flag(where={"ticket_id": ...},
reason=...)`. An app with its own OpenTelemetry provider calls `casebank.attach(provider)`
instead of `init()`. Everything else is the `cases` command.

Importing this module loads only the OpenTelemetry API and orjson: never the CLI, the runner,
sqlite-utils or the OTel SDK (which loads on `init()`).
"""

from casebank._flag import flag
from casebank._init import attach, init
from casebank._version import __version__
from casebank.capture import current_trace_id, flush, shutdown, span, tool, trace
from casebank.capture._correlate import set_attributes
from casebank.integrations import instrument_anthropic, instrument_openai, uninstrument, wrap

__all__ = [
    "__version__",
    "attach",
    "current_trace_id",
    "flag",
    "flush",
    "init",
    "instrument_anthropic",
    "instrument_openai",
    "set_attributes",
    "shutdown",
    "span",
    "tool",
    "trace",
    "uninstrument",
    "wrap",
]
