"""`casebank.set_attributes(ticket_id=..., user_id=...)`: tie a trace to the ids support knows.

The attributes go on the trace's entry span (the outermost `@casebank.trace` span) as
`casebank.attributes.<key>`, so that OTLP backends see them too, and the writer copies them
into the trace row, where `casebank.flag(where=...)` and `cases flag --where` find them.

The entry span is the one @casebank.trace keeps in a context variable, not the current span:
the call may come from deep inside the app, where the current span is a nested traced call or a
span of the app's own tracer that casebank never stores. Like every capture call,
`set_attributes` never raises into the app.
"""

from __future__ import annotations

import logging
from typing import Any

from casebank._runtime import state

logger = logging.getLogger("casebank")

ATTRIBUTES_PREFIX = "casebank.attributes."  # + the key given to set_attributes

_said_no_trace = False
_warned = False


def attribute_value(value: Any) -> Any:
    """What OpenTelemetry accepts: str, bool, int and float as they are; anything else as its str."""
    return value if isinstance(value, (str, bool, int, float)) else str(value)


def set_attributes(**attributes: Any) -> None:
    """Attach attributes (a ticket id, a user id) to the active trace, so that support tooling
    can later flag it with `casebank.flag(where={"ticket_id": ...})` or `cases flag --where`.

    Call it inside a `@casebank.trace` entry point. Values are kept as str, bool, int or float
    (anything else as its str); a None value is skipped. Outside a traced call it does nothing
    and logs one warning per process (the ids would silently never reach a trace otherwise);
    before `casebank.init()`, or while a suite replays, it does nothing quietly. It never raises."""
    global _said_no_trace
    try:
        from casebank.capture._decorator import current_entry_span

        span = current_entry_span()
        if span is None or not span.is_recording():
            if not _said_no_trace and state.tracer is not None:
                _said_no_trace = True
                logger.warning(
                    "casebank: set_attributes() was called outside a @casebank.trace call, so it did nothing - "
                    "call it inside the traced entry point (or a function it calls)"
                )
            return
        span.set_attributes(
            {ATTRIBUTES_PREFIX + key: attribute_value(value) for key, value in attributes.items() if value is not None}
        )
    except Exception as exc:  # never into the app
        _warn_once(exc)


def attributes_of(span_attributes: dict[str, Any]) -> dict[str, Any]:
    """The set_attributes() attributes among a span's attributes, without the prefix."""
    n = len(ATTRIBUTES_PREFIX)
    return {key[n:]: value for key, value in span_attributes.items() if key.startswith(ATTRIBUTES_PREFIX)}


def _warn_once(exc: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("casebank: could not set trace attributes (the app is unaffected): %r", exc)
