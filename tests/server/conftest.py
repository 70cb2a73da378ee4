"""Fixtures for the server tests: the real `cases serve` in a subprocess, and OTLP bodies.

The server is the installed command itself (`python -m casebank serve`), on a free port of
127.0.0.1, with the admin token in `CASEBANK_TOKEN`. Starting waits for /healthz and stopping
sends SIGTERM and waits for the exit, each with a deadline; nothing here sleeps to synchronise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tests.cli.conftest import PROJECT_ROOT

ADMIN = "admin-token-for-tests-0123456789abcdef"
DEADLINE_S = 60.0
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def child_env(**more: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    env.pop("CASEBANK_TOKEN", None)
    env.update(more)
    return env


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # a poll's pace, not a synchronisation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One `cases serve` process."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    token: str | None = ADMIN
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def headers(self, token: str | None = None, **more: str) -> dict[str, str]:
        token = token if token is not None else self.token
        return {**({"Authorization": f"Bearer {token}"} if token else {}), **more}

    def get(self, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.get(self.url + path, headers=self.headers(token), **kwargs)

    def post(
        self, path: str, *, token: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.client.post(self.url + path, headers={**self.headers(token), **(headers or {})}, **kwargs)

    def export(self, request: ExportTraceServiceRequest, *, token: str | None = None) -> httpx.Response:
        return self.post("/v1/traces", token=token, headers=PROTOBUF, content=request.SerializeToString())

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, and the exit code once it has drained."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=DEADLINE_S)
        self.client.close()
        return code


def start_server(
    folder: Path,
    db: Path | str,
    *,
    token: str | None = ADMIN,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    port = free_port()
    log = folder / f"server-{port}.log"
    extra = {"CASEBANK_TOKEN": token} if token else {}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "casebank", "serve", "--db", str(db), "--port", str(port), *args],
            cwd=folder,
            env=child_env(**extra, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(proc=proc, url=f"http://127.0.0.1:{port}", log=log, token=token)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"cases serve exited with {proc.returncode}:\n{server.logged()}")
        try:
            return server.client.get(server.url + "/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, "cases serve to answer /healthz")
    return server


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """Servers a test starts (append to this list); each is stopped, or killed, at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        server.client.close()
        if server.proc.poll() is None:  # SIGTERM, so that coverage in the server keeps its data
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=DEADLINE_S)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """The server's store, on each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(db_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def server(tmp_path: Path, db_path: Path, servers: list[Server]) -> Server:
    started = start_server(tmp_path, db_path)
    servers.append(started)
    return started


# -- OTLP requests made by hand -----------------------------------------------------------------------


def attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_span(
    trace: int,
    span: int,
    name: str,
    *,
    parent: int | None = None,
    start_ns: int = 1_714_564_800_000_000_000,
    **attrs: Any,
) -> Span:
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + 5_000_000,
        attributes=[attribute(k.replace("__", "."), v) for k, v in attrs.items()],
        status=Status(code=Status.STATUS_CODE_UNSET),
    )


def otlp_request(*spans: Span, service: str = "support-bot", scope: str = "casebank") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [attribute("service.name", service)]},
                scope_spans=[ScopeSpans(scope={"name": scope}, spans=list(spans))],
            )
        ]
    )


def traced_request(
    trace: int, *, ticket: str | None = None, children: int = 1, start_ns: int = 1_714_564_800_000_000_000
) -> ExportTraceServiceRequest:
    """One whole trace as casebank's SDK exports it: an entry span and `children` LLM spans."""
    root = (trace & 0xFFFFFFFF) * 1000 + 1
    attrs: dict[str, Any] = {
        "casebank__entrypoint": "support_bot:answer",
        "casebank__root": True,
        "casebank__input": '{"question": "How long do I have to return shoes?"}',
        "casebank__output": '"We refund within 14 days."',
    }
    if ticket is not None:
        attrs["casebank__attributes__ticket_id"] = ticket
    spans = [otlp_span(trace, root, "answer", start_ns=start_ns, **attrs)]
    spans += [
        otlp_span(
            trace, root + 1 + n, "chat gpt-4o-mini", parent=root, start_ns=start_ns, gen_ai__operation__name="chat"
        )
        for n in range(children)
    ]
    return otlp_request(*spans)
