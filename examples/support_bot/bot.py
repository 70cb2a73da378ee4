"""The support bot: retrieve the fact a ticket is about, let the model phrase the reply.

`answer` is the entry point: `@casebank.trace` records its input (the ticket) and output (the
reply) as the root span of a trace, and the nested traced calls become child spans. A case
replays `support_bot.bot:answer` with the recorded ticket. `answer_with_trace_id` is what a
support tool would call: it also returns the trace id, which is how a wrong reply is flagged.

The policy service's rule of the day (`lookup_policy`, a `@casebank.tool`: a frozen replay
answers it from the case) wins over the built-in fact. Retrieval of the built-in facts is the
code under review, so it is a plain traced step, never answered from a case.
"""

from __future__ import annotations

import re
import threading

import casebank

from . import model
from .knowledge import FACTS, Fact
from .policies import lookup_policy

# The trace id can only be read while the traced call runs; it is kept here for the caller.
_current = threading.local()


@casebank.trace(name="retrieve")
def retrieve(ticket: str) -> Fact | None:
    """The fact whose keywords the ticket mentions most (the first one on a tie), if any."""
    words = set(re.findall(r"[a-z0-9']+", ticket.lower()))
    best, best_hits = None, 0
    for fact in FACTS:
        hits = len(words.intersection(fact.keywords))
        if hits > best_hits:
            best, best_hits = fact, hits
    return best


@casebank.trace
def answer(ticket: str) -> str:
    """Reply to one support ticket."""
    _current.trace_id = casebank.current_trace_id()
    fact = retrieve(ticket)
    if fact is None:
        return model.complete(ticket, [])
    policy = lookup_policy(fact.topic)  # today's rule, when the policy service has one
    return model.complete(ticket, [policy if policy else fact.text])


def answer_with_trace_id(ticket: str) -> tuple[str, str | None]:
    """The reply, and the id of the trace that recorded it (None when casebank is not initialised)."""
    _current.trace_id = None
    reply = answer(ticket)
    return reply, _current.trace_id
