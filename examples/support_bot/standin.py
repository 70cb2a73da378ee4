"""A local stand-in for an OpenAI-compatible model server, so the example needs no network and no key.

It speaks just enough of `POST /v1/chat/completions` for the real `openai` client: it answers
from the first passage of context in the system message, or hands the ticket over when there is
none. Same request, same answer, every time - which is what lets the demo be a test. It listens
on 127.0.0.1 on a free port, in a daemon thread of the process that first asks for it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANDOVER = "I'm not sure about that one - I have passed your ticket to a colleague, who will reply by email."
CONTEXT_MARKER = "Context:\n"

_lock = threading.Lock()
_base_url: str | None = None


def reply_to(messages: list[dict[str, Any]]) -> str:
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    passages = [line[2:] for line in system.partition(CONTEXT_MARKER)[2].splitlines() if line.startswith("- ")]
    if not passages:
        return HANDOVER
    return f"Thanks for getting in touch! {passages[0]} Is there anything else I can help with?"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        text = reply_to(body.get("messages", []))
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        self._send(
            200,
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "standin"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(text.split()),
                    "total_tokens": prompt_tokens + len(text.split()),
                },
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints its own story
        pass


def base_url() -> str:
    """The stand-in's URL (`http://127.0.0.1:PORT/v1`), starting it on first use."""
    global _base_url
    with _lock:
        if _base_url is None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name="support-bot-standin", daemon=True).start()
            _base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        return _base_url
