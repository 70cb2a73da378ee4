"""What the bot knows: one fact a line, with the words that make a ticket about it.

Kept as plain data in code so that a change to what the bot says is a one-line diff in review.
"""

from __future__ import annotations

from typing import NamedTuple


class Fact(NamedTuple):
    topic: str  # what the bot asks the policy service about
    keywords: tuple[str, ...]
    text: str


FACTS: tuple[Fact, ...] = (
    Fact("delivery", ("delivery", "deliver", "shipping", "long"), "Standard delivery takes 3 to 5 working days."),
    Fact("tracking", ("where", "track", "tracking", "order"), "Your dispatch email has a link to track your order."),
    Fact("returns", ("refund", "return", "money"), "Refunds are accepted within 30 days of delivery."),
    Fact("account", ("password", "login", "log", "reset"), "Use 'Forgot password' on the sign-in page to reset it."),
)
