"""The shop's support bot whose traffic the browser tests review: copied into the test's folder and run
there as `python shop_bot.py`, with CASEBANK_DB naming the store and OPENAI_BASE_URL the fake model.

It captures as a product does: `casebank.init()`, `@casebank.trace` on the entry points,
`casebank.set_attributes(ticket_id=...)`, a `@casebank.tool` step and an LLM call through the real
openai client. Two answers carry markup a hostile user could have made the bot repeat. `policy` is
what the tests' suite replays (`cases run`); SHOP_BOT_VERSION=2 is the fixed bot.
"""

from __future__ import annotations

import os
import sys

import openai

import casebank

# Markup that must stay text on every page: an alert or an <img> in the DOM fails the test.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


@casebank.tool
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "delivered", "delivered_on": "2024-04-28"}


@casebank.trace
def answer(question: str, ticket: str) -> str:
    casebank.set_attributes(ticket_id=ticket)
    order = lookup_order("A-17")
    with openai.OpenAI(max_retries=0) as client:
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You are the shop's support bot. Be brief."},
                {"role": "user", "content": f"{question} (order {order['order_id']}: {order['status']})"},
            ],
        )
    return reply.choices[0].message.content or ""


@casebank.trace
def note(text: str, ticket: str) -> str:
    """Says back what a customer wrote: the trace whose output is the hostile markup."""
    casebank.set_attributes(ticket_id=ticket)
    return text


def policy(question: str) -> str:
    """The replayed entry point: version 1 gets the refund window wrong."""
    fixed = os.environ.get("SHOP_BOT_VERSION") == "2"
    if "refund" in question or "return" in question:
        return "We refund within 30 days." if fixed else "We refund within 14 days."
    if "ship" in question:
        return "Orders ship within 2 working days."
    return f"Happy to help with: {question}"  # says back what it was asked: markup in, markup out


def main() -> None:
    casebank.init(service_name="shop-bot", instrument=["openai"])
    for ticket in ("8810", "8811", "8812", "8813"):
        answer("How long do I have to return shoes?", ticket)
    note(SCRIPT, "6661")
    note(IMG, "6662")
    if not casebank.flush(30):
        sys.exit("the writer did not flush")
    casebank.shutdown()


if __name__ == "__main__":
    main()
