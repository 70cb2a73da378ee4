"""A real `cases serve` (uvicorn, in a subprocess) on a SQLite store, and the parts that talk to it:
an app in its own process that captures with `casebank.init(endpoint=...)`, and the `cases` CLI
with `--db http://...`.

Tokens other than the admin one are put in the store as `cases token create` does (by the hash
of the secret), so that these tests depend on the API only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from casebank.store import open_store, token_hash
from tests.cli.conftest import PROJECT_ROOT, Result

ADMIN = "admin-secret-0123456789"
# Tokens of each scope, as `cases token create --name NAME --scope SCOPE` would keep them.
TOKENS = {"ingest": "ingest-secret-0123456789", "flag": "flag-secret-0123456789", "read": "read-secret-0123456789"}
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEBANK_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(db: Path, log: Path, port: int | None = None) -> Server:
    port = port or free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "casebank", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)],
            env=child_env(CASEBANK_TOKEN=ADMIN),
            cwd=db.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", db=db, process=process, log=log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"cases serve exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"cases serve did not answer /healthz within {START_TIMEOUT_S} s: {log.read_text()}")
        time.sleep(0.05)  # polling a condition with a deadline, not a wait for time to pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = tmp_path / "server" / "casebank.db"
    db.parent.mkdir()
    with open_store(db) as store:
        for scope, secret in TOKENS.items():
            store.add_token(scope, token_hash(secret), [scope])
    running = start_server(db, tmp_path / "server.log")
    yield running
    running.stop()


APP = """
from opentelemetry import trace

import casebank

trace_ids = []


@casebank.trace
def answer(question: str, ticket_id: str = "0", api_key: str = "") -> str:
    casebank.set_attributes(ticket_id=ticket_id)
    trace_ids.append(casebank.current_trace_id())
    with casebank.span("lookup"):
        span = trace.get_current_span()  # the step's own OpenTelemetry span
        span.set_attribute("db.url", "postgresql://app:hunter2hunter2@db.internal/prod")
    return "We refund within 14 days."
"""


@dataclass
class App:
    """Runs a script in a process of its own, beside `support_app.py` (the product)."""

    folder: Path

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        (self.folder / "support_app.py").write_text(APP)
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            cwd=self.folder,
            env=child_env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    def send(self, url: str, *questions: tuple[str, str], token: str = TOKENS["ingest"]) -> list[str]:
        """Answer each (question, ticket id) in a process exporting to `url`; the trace ids."""
        script = f"""
            import json, casebank, support_app
            casebank.init(endpoint={url!r}, token={token!r}, instrument=False)
            for question, ticket in {list(questions)!r}:
                support_app.answer(question, ticket_id=ticket, api_key="sk-ant-abcdefghijklmnopqrstuvwxyz")
            assert casebank.flush(timeout_s=60)
            print(json.dumps(support_app.trace_ids))
        """
        return list(orjson.loads(self.run(script).stdout))


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(folder=tmp_path)


@dataclass
class Cases:
    """The real `cases` command in a subprocess, in tmp_path (where support_app.py lives)."""

    folder: Path
    url: str

    def __call__(self, *args: str, token: str | None = ADMIN, stdin: str = "", db: bool = True) -> Result:
        env = child_env(COLUMNS="200", NO_COLOR="1")
        if token is not None:
            env["CASEBANK_TOKEN"] = token
        proc = subprocess.run(
            [sys.executable, "-m", "casebank", *args, *(["--db", self.url] if db else [])],
            cwd=self.folder,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(code=proc.returncode, out=proc.stdout, err=proc.stderr)


@pytest.fixture
def cases(tmp_path: Path, server: Server) -> Cases:
    return Cases(folder=tmp_path, url=server.url)
