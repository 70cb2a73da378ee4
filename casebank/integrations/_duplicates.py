"""One call, one LLM span in the store, whichever instrumentation wraps outermost.

Several instrumentations can wrap the same SDK call; on a provider casebank shares with the app,
each one's span would reach casebank's store. Which span stays depends on who is outside:

- Another instrumentation's inference span encloses casebank's wrapper (it was installed after
  casebank) and reaches the store: that span is the call's. casebank records none
  (`already_captured`), and lends it the messages if it has none of its own (`lend_content`;
  OTel contrib records none by default).
- The other opens its span inside the call: OpenInference patches `OpenAI.request` and the
  anthropic SDK traces in its HTTP layer, both below `create`; OpenLLMetry and the OTel contrib
  wrappers sit below casebank's when they were installed first. casebank cannot know that
  before the SDK runs, so its span stays the call's span in the store (it has the messages,
  which those often leave out) and the store leaves the other one out (`repeats_a_call`, asked
  by the store writer's filter); the app's own exporters still get both, as the app set them up.

Only on a provider casebank shares: on its own provider the other spans never reach the store.
"""

from __future__ import annotations

import collections
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from casebank._runtime import state
from casebank.capture._attributes import (
    INPUT_MESSAGES,
    MESSAGE_PREFIXES,
    OUTPUT_MESSAGES,
    SCOPE,
    SYSTEM_INSTRUCTIONS,
    inference_provider,
)
from casebank.integrations._failures import warn

__all__ = ["already_captured", "lend_content", "remember", "repeats_a_call"]

# -- an enclosing span that is the call's ---------------------------------------------------------------


def already_captured(current: Any, provider: str) -> bool:
    """Whether the current span is another instrumentation's inference span for this very call
    (its wrapper runs outside casebank's). It counts only when that span reaches casebank's store
    (casebank shares its provider): otherwise skipping ours would lose the call from the store."""
    if state.owns_provider or state.provider is None or not current.is_recording():
        return False
    other = inference_provider(getattr(current, "attributes", None))
    if other is None or other not in ("", provider):
        return False
    return getattr(current, "_span_processor", None) is getattr(state.provider, "_active_span_processor", False)


_LENT = (INPUT_MESSAGES, SYSTEM_INSTRUCTIONS, OUTPUT_MESSAGES)
# Attribute names (or their starts) of message content, in each instrumentation's own names.
_CONTENT_KEYS = (INPUT_MESSAGES, OUTPUT_MESSAGES, *MESSAGE_PREFIXES, "input.value")


def lend_content(target: Any, attributes: dict[str, Any]) -> None:
    """Give the enclosing span of another instrumentation the messages, if it has none of its
    own: it is the call's only span in the store. On a shared provider casebank's own spans
    carry them to the same exporters, so this sends nowhere what casebank would not have sent
    anyway."""
    try:
        if not target.is_recording() or any(k.startswith(_CONTENT_KEYS) for k in target.attributes or ()):
            return
        target.set_attributes({k: attributes[k] for k in _LENT if k in attributes})
    except Exception as exc:
        warn(exc)


# -- a second span inside a call casebank records ---------------------------------------------------------

_MAX_REMEMBERED = 4096
# Span ids of the latest calls casebank recorded on a shared provider, oldest first. Kept past the
# end of casebank's span: a stream helper's exit ends casebank's span before the SDK's own.
_remembered: collections.OrderedDict[int, None] = collections.OrderedDict()


def remember(span_id: int) -> None:
    remembered = _remembered
    remembered[span_id] = None
    if len(remembered) > _MAX_REMEMBERED:
        remembered.popitem(last=False)


def repeats_a_call(span: ReadableSpan) -> bool:
    """Whether `span` is another instrumentation's inference span opened right inside an LLM call
    that casebank records itself: the same call a second time, to keep out of the store."""
    parent = span.parent
    if parent is None or parent.span_id not in _remembered:
        return False
    scope = span.instrumentation_scope
    return (scope is None or scope.name != SCOPE) and inference_provider(span.attributes) is not None
