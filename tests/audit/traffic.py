"""Building what the traffic audits read: cases, and traces written as the capture writer writes them.

Traces go in through `Store.write_spans`, the writer's own entry point: a root span of the entry
point and, when the trace sent something to a model, one chat span with the GenAI attributes
(`gen_ai.system_instructions`, `gen_ai.input.messages`) in the JSON shape capture gives them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import orjson

from casebank.audit import AuditContext
from casebank.replay import Case
from casebank.store import Store

__all__ = ["NOW", "Traffic", "context", "make_case", "message", "text_parts"]

NOW = "2024-05-10T12:00:00+00:00"


def make_case(
    case_id: str, question: str, expected: Any = "ok", *, entrypoint: str = "bot:answer", **source: Any
) -> Case:
    return Case(
        id=case_id,
        created_at="2024-05-01T00:00:00+00:00",
        entrypoint=entrypoint,
        input={"question": question, "customer_id": "c-991"},
        expected=expected,
        grader={"name": "exact"},
        source=dict(source),
    )


def context(cases: list[Case], store: Store | None, tmp_path: Path, **options: Any) -> AuditContext:
    return AuditContext(suite_dir=tmp_path / "evals", cases=cases, store=store, now=NOW, options=options)


def text_parts(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "content": text}]


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": text_parts(text)}


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat(timespec="microseconds")


class Traffic:
    """Writes traces into `store`, `days_ago` before NOW (default: one hour before)."""

    def __init__(self, store: Store, now: str = NOW) -> None:
        self.store = store
        self.now_ns = int(dt.datetime.fromisoformat(now).timestamp()) * 1_000_000_000
        self.made = 0

    def __call__(
        self,
        question: str,
        *,
        entrypoint: str = "bot:answer",
        system: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        days_ago: float = 0.05,
    ) -> str:
        self.made += 1
        trace_id, root = _hex(f"trace{self.made}", 32), _hex(f"root{self.made}", 16)
        start = self.now_ns - int(days_ago * 86_400e9) + self.made * 1_000
        args = {"question": question}
        root_attributes = {"casebank.entrypoint": entrypoint, "casebank.input": orjson.dumps(args).decode()}
        spans = [self._span(trace_id, root, None, "answer", start, root_attributes)]
        if system is not None or messages is not None:
            chat: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
            if system is not None:
                chat["gen_ai.system_instructions"] = orjson.dumps(text_parts(system)).decode()
            chat["gen_ai.input.messages"] = orjson.dumps([*(messages or []), message("user", question)]).decode()
            spans.append(self._span(trace_id, _hex(f"chat{self.made}", 16), root, "chat", start + 10, chat))
        row = (
            trace_id, "answer", entrypoint, orjson.dumps(args).decode(), '"done"', "ok", None, _iso(start), start,
            20.0, "bot", len(spans),
        )  # fmt: skip
        self.store.write_spans(spans, [row])
        return trace_id

    @staticmethod
    def _span(
        trace_id: str, span_id: str, parent: str | None, name: str, start: int, attributes: Any
    ) -> tuple[Any, ...]:
        return (
            trace_id, span_id, parent, name, "internal", _iso(start), start, 5.0, "ok", None,
            orjson.dumps(attributes).decode(), None, "bot",
        )  # fmt: skip
