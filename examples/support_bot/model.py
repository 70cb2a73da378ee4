"""A deterministic stand-in for a language model, so the example needs no network and no key.

It does what a grounded support model is asked to do, in the plainest way that is honest about
being a stand-in: answer from the first passage it is given, or hand the ticket over when it is
given none. Same input, same output, every time - which is what lets the demo be a test.
"""

from __future__ import annotations

from collections.abc import Sequence

HANDOVER = "I'm not sure about that one - I have passed your ticket to a colleague, who will reply by email."


def complete(ticket: str, context: Sequence[str]) -> str:
    """The reply to `ticket`, grounded on the retrieved `context` passages."""
    if not context:
        return HANDOVER
    return f"Thanks for getting in touch! {context[0]} Is there anything else I can help with?"
