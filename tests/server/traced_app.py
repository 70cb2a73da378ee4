"""A small traced app, run in its own process by the server tests: `python -m tests.server.traced_app DB URL`.

It captures with `casebank.init(db=DB, otlp_endpoint=URL)`, so every span goes both ways at once:
into the SQLite store DB through the SDK's writer, and over OTLP/HTTP protobuf (the standard
exporter) to the server at URL. Its traces hold what could come out differently: secrets in
arguments, attributes and errors, another instrumentation's LLM span, events, an error, and
`set_attributes`. It prints the trace ids as JSON.
"""

from __future__ import annotations

import sys

import orjson

import casebank
from casebank._runtime import state

SEEN: list[str] = []


@casebank.tool
def lookup_order(order_id: str, api_key: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped", "note": "dsn postgresql://bot:hunter2pass@db/orders"}


@casebank.trace
def answer(question: str, customer: dict[str, str]) -> str:
    SEEN.append(casebank.current_trace_id() or "")
    casebank.set_attributes(ticket_id=customer["ticket"], plan="pro")
    lookup_order("A-17", api_key="sk-proj-abcdefghijklmnopqrstuvwxyz123456")
    # Another instrumentation's LLM span, in OpenInference's names, with a key in its parameters.
    foreign = state.provider.get_tracer("openinference.instrumentation.openai")
    with foreign.start_as_current_span("ChatCompletion") as span:
        span.set_attributes(
            {
                "openinference.span.kind": "LLM",
                "llm.provider": "openai",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 12,
                "llm.token_count.completion": 7,
                "llm.invocation_parameters": '{"temperature": 0.2, "api_key": "sk-abcdefghijklmnopqrstuvwx"}',
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": question,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Within 30 days.",
                "tags": ("a", "b"),
                "score": 0.5,
            }
        )
        span.add_event("retry", {"attempt": 2, "authorization": "Bearer abcdefghijklmnop"})
    if "crash" in question:
        raise RuntimeError("could not reach postgresql://bot:hunter2pass@db/orders")
    return "We refund within 30 days."


def main() -> None:
    db, endpoint = sys.argv[1], sys.argv[2]
    casebank.init(db=db, otlp_endpoint=endpoint, service_name="support-bot", instrument=False)
    for n, question in enumerate(["How long do I have to return shoes?", "please crash now"]):
        try:
            answer(question, {"ticket": f"88{n}", "token": "tok-abcdefghijklmnop"})
        except RuntimeError:
            pass
    assert casebank.flush(30), "the writer or the exporter did not flush"
    casebank.shutdown()
    sys.stdout.write(orjson.dumps(SEEN).decode())


if __name__ == "__main__":
    main()
