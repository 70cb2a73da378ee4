"""Fixtures for the review pages' tests: the real `cases serve` in a subprocess (as the server's
tests start it), traces sent to it over OTLP, store tokens of each scope, and a client that
keeps cookies and fills forms as a browser without JavaScript does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from casebank.store import open_store, token_hash
from tests.server.conftest import ADMIN, Server, otlp_request, otlp_span, servers, start_server

__all__ = ["servers"]  # the server tests' fixture: servers started, stopped at the end

READ, FLAG, INGEST = "read-token-0123456789abcdef", "flag-token-0123456789abcdef", "ingest-token-0123456789abcdef"
START_NS = 1_733_560_000_000_000_000  # 2024-12-07T08:26:40Z
SECOND = 1_000_000_000
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf field"
    return unescape(found.group(1))


@dataclass
class Visitor:
    """One person's browser: cookies kept, redirects not followed (the tests look at them)."""

    server: Server
    client: httpx.Client

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params or None)

    def post(self, path: str, data: dict[str, str], **headers: str) -> httpx.Response:
        return self.client.post(path, data=data, headers=headers)

    def submit(self, page_path: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Open `page_path`, then send its form to `action` with its csrf and `data`."""
        page = self.get(page_path)
        assert page.status_code in (200, 401), page.text
        return self.post(action, {"csrf": csrf_of(page.text), **data})

    def sign_in(self, token: str) -> httpx.Response:
        return self.submit("/ui/signin", "/ui/signin", {"token": token})


@pytest.fixture
def visitors(server_ui: Server) -> Iterator[Any]:
    made: list[httpx.Client] = []

    def make() -> Visitor:
        client = httpx.Client(base_url=server_ui.url, timeout=30, follow_redirects=False)
        made.append(client)
        return Visitor(server_ui, client)

    yield make
    for client in made:
        client.close()


def add_tokens(db: str) -> None:
    with open_store(db, create=True) as store:
        store.add_token("support", token_hash(READ), ["read"])
        store.add_token("triage", token_hash(FLAG), ["read", "flag"])
        store.add_token("collector", token_hash(INGEST), ["ingest"])


@pytest.fixture
def server_ui(tmp_path: Path, db_path: Path, servers: list[Server]) -> Server:
    add_tokens(str(db_path))
    started = start_server(tmp_path, db_path)
    servers.append(started)
    return started


@pytest.fixture
def admin(visitors: Any) -> Visitor:
    visitor: Visitor = visitors()
    assert visitor.sign_in(ADMIN).status_code == 303
    return visitor


# -- traces, sent as casebank's SDK exports them ---------------------------------------------------------


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def conversation_trace(
    trace: int,
    *,
    start_ns: int = START_NS,
    ticket: str | None = None,
    output: Any = "Your order ships tomorrow.",
    entrypoint: str = "support_bot:answer",
    failed: bool = False,
) -> Any:
    """An entry span, an LLM call that asks for a tool and answers, and the tool's span."""
    root = trace * 100 + 1
    attrs: dict[str, Any] = {
        "casebank__entrypoint": entrypoint,
        "casebank__root": True,
        "casebank__input": _json({"question": "Where is my order 8812?"}),
        "casebank__output": _json(output),
    }
    if ticket is not None:
        attrs["casebank__attributes__ticket_id"] = ticket
    if failed:
        attrs["casebank__error"] = "TimeoutError: the model did not answer"
    entry = otlp_span(trace, root, "answer", start_ns=start_ns, **attrs)
    if failed:
        entry.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="TimeoutError: the model did not answer"))
    llm = otlp_span(
        trace,
        root + 1,
        "chat gpt-4o-mini",
        parent=root,
        start_ns=start_ns + 2_000_000,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o-mini",
        gen_ai__usage__input_tokens=120,
        gen_ai__usage__output_tokens=30,
        gen_ai__system_instructions=_json([{"type": "text", "content": "You are a helpful support agent."}]),
        gen_ai__input__messages=_json(
            [{"role": "user", "parts": [{"type": "text", "content": "Where is my order 8812?"}]}]
        ),
        gen_ai__output__messages=_json(
            [
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "tool_call", "id": "call_1", "name": "lookup_order", "arguments": {"order": 8812}},
                        {"type": "text", "content": _text(output)},
                    ],
                    "finish_reason": "stop",
                }
            ]
        ),
    )
    tool = otlp_span(
        trace,
        root + 2,
        "lookup_order",
        parent=root + 1,
        start_ns=start_ns + 3_000_000,
        casebank__step__kind="tool",
        casebank__step__name="lookup_order",
        casebank__step__function="support_bot.tools:lookup_order",
        casebank__step__arguments=_json({"order": 8812}),
        casebank__step__result=_json({"status": "shipped", "eta": "tomorrow"}),
    )
    return otlp_request(entry, llm, tool)


def _text(output: Any) -> str:
    return output if isinstance(output, str) else _json(output)


def trace_hex(trace: int) -> str:
    return f"{trace:032x}"
