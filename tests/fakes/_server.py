"""A small LLM API stand-in on 127.0.0.1 that the real `openai` and `anthropic` clients talk to.

One HTTP/1.1 keep-alive server (so a client reuses its connection, as against the real APIs)
answers OpenAI's `/v1/chat/completions`, `/v1/responses`, `/v1/embeddings` and Anthropic's
`/v1/messages`, plain or as server-sent events. Tests set what the next answers say through
`reply`, queue error answers with `fail_next`, and read what the clients sent in `requests`.

A fake that computes its answers from the request instead (`tests.fakes_openai_compat`)
subclasses `FakeLLM` and overrides `answer` and `next_error`; the HTTP serving stays here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes import _wire
from tests.fakes._wire import Reply

API_KEY = "sk-test-casebank-0123456789abcdef"  # secret-shaped on purpose: it must never reach the store

_Plain = Callable[[dict[str, Any], Reply], dict[str, Any]]
_Stream = Callable[[dict[str, Any], Reply], list[_wire.Event]]
ROUTES: dict[str, tuple[_Plain, _Stream | None, Callable[[int, str], dict[str, Any]]]] = {
    "/v1/chat/completions": (_wire.chat_completion, _wire.chat_completion_chunks, _wire.openai_error),
    "/v1/responses": (_wire.response, _wire.response_events, _wire.openai_error),
    "/v1/embeddings": (_wire.embeddings, None, _wire.openai_error),
    "/v1/messages": (_wire.message, _wire.message_events, _wire.anthropic_error),
}


@dataclass(kw_only=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeLLM:
    """The server. `start()` serves from a daemon thread on a free port; `stop()` ends it."""

    def __init__(self, *, record: bool = True) -> None:
        self.reply = Reply()
        self.requests: list[Recorded] = []
        self.record = record
        self._errors: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_url(self) -> str:
        return self.url

    def on(self, path: str) -> list[Recorded]:
        """The requests the clients sent to `path`, oldest first."""
        return [r for r in self.requests if r.path == path]

    def fail_next(self, status: int = 429, *, times: int = 1, message: str = "Rate limit reached") -> None:
        """The next `times` requests get error `status` instead of an answer."""
        with self._lock:
            self._errors.extend([(status, message)] * times)

    def next_error(self) -> tuple[int, str] | None:
        """The (status, message) of the error the request being served gets instead of an answer,
        if any: by default the next one `fail_next` queued."""
        with self._lock:
            return self._errors.pop(0) if self._errors else None

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON answer to a request that is not streamed, on one of `ROUTES`: by default
        `reply` in that route's wire format."""
        return ROUTES[path][0](body, self.reply)

    def start(self) -> FakeLLM:
        serve = lambda: self._httpd.serve_forever(poll_interval=0.02)  # noqa: E731 - a quick stop() matters in tests
        self._thread = threading.Thread(target=serve, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeLLM


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of the real APIs
    disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if fake.record:
            headers = {name.lower(): value for name, value in self.headers.items()}  # names are case-blind
            fake.requests.append(Recorded(path=self.path, headers=headers, body=body))
        route = ROUTES.get(self.path)
        if route is None:
            self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
            return
        _, stream, error = route
        failure = fake.next_error()
        if failure is not None:
            status, message = failure
            self._send(status, json.dumps(error(status, message)).encode(), "application/json")
        elif body.get("stream") and stream is not None:
            self._send(200, _wire.sse(stream(body, fake.reply)), "text/event-stream")
        else:
            self._send(200, json.dumps(fake.answer(self.path, body)).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake1")
        self.send_header("x-request-id", "req_fake1")
        self.end_headers()
        self.wfile.write(payload)
