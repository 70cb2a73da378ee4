"""`cases serve` as a process: it refuses to run open or without its extra, drains requests in
flight on SIGTERM, loses nothing it acknowledged when killed, and prunes by retention_days."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from casebank.store import open_store, token_hash
from tests.server.conftest import (
    ADMIN,
    DEADLINE_S,
    PROTOBUF,
    Server,
    child_env,
    free_port,
    start_server,
    traced_request,
    wait_for,
)

# uvicorn, once drained, raises SIGTERM again so that the process ends as signalled (0 before 0.29).
DRAINED = (0, -signal.SIGTERM)


def run_cases(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casebank", *args],
        cwd=folder,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )


def test_without_an_admin_token_or_a_stored_one_it_refuses_to_serve_openly(tmp_path: Path, db_path: Path) -> None:
    result = run_cases(tmp_path, "serve", "--db", str(db_path), "--port", str(free_port()))

    assert result.returncode == 2
    assert result.stderr == (
        "error: no token can reach this server - set CASEBANK_TOKEN, pass --token-file FILE, "
        "or create one with 'cases token create --name NAME --scope ingest'\n"
    )


def test_with_only_tokens_from_the_store_it_serves_them(tmp_path: Path, db_path: Path, servers: list[Server]) -> None:
    with open_store(db_path) as store:
        store.add_token("collector", token_hash("collector-secret-0123456789"), ["ingest"])

    server = start_server(tmp_path, db_path, token=None)
    servers.append(server)

    assert server.export(traced_request(1), token="collector-secret-0123456789").status_code == 200
    assert server.export(traced_request(2), token=ADMIN).status_code == 401


def test_the_admin_token_may_come_from_a_file(tmp_path: Path, db_path: Path, servers: list[Server]) -> None:
    (tmp_path / "token").write_text("from-a-file-0123456789\n")
    (tmp_path / "empty").write_text("\n")

    server = start_server(tmp_path, db_path, token=None, args=("--token-file", str(tmp_path / "token")))
    servers.append(server)
    empty = run_cases(tmp_path, "serve", "--db", str(db_path), "--token-file", str(tmp_path / "empty"))

    assert server.get("/api/counts", token="from-a-file-0123456789").status_code == 200
    assert (empty.returncode, empty.stderr) == (
        2,
        f"error: --token-file '{tmp_path / 'empty'}' is empty - write the admin token in it\n",
    )


def test_without_the_server_extra_it_says_how_to_install_it(tmp_path: Path, db_path: Path) -> None:
    # A starlette that cannot be imported, first on the path: as if the extra were not installed.
    shim = tmp_path / "shim" / "starlette"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'starlette'\", name='starlette')\n")
    path = f"{tmp_path / 'shim'}:{child_env()['PYTHONPATH']}"

    result = run_cases(tmp_path, "serve", "--db", str(db_path), CASEBANK_TOKEN=ADMIN, PYTHONPATH=path)

    assert (result.returncode, result.stderr) == (
        2,
        "error: 'cases serve' needs the server extra (starlette is missing) - pip install 'casebank[server]'\n",
    )


def test_sigterm_finishes_a_request_in_flight_before_the_server_stops(
    tmp_path: Path, db_path: Path, servers: list[Server]
) -> None:
    # With debug logs, the server says when it starts receiving a request's body.
    server = start_server(tmp_path, db_path, args=("--log-level", "debug"))
    servers.append(server)
    body = traced_request(0xD1, children=3).SerializeToString()
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN}\r\n"
        f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = int(server.url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        sock.sendall(head + body[:10])
        wait_for(lambda: "receiving OTLP" in server.logged(), "the server to start receiving the body")
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "Shutting down" in server.logged(), "the server to begin shutting down")
        sock.sendall(body[10:])
        answer = _read_answer(sock)

    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert server.proc.wait(timeout=DEADLINE_S) in DRAINED
    with open_store(db_path) as store:
        assert store.get_trace(f"{0xD1:032x}").span_count == 4  # type: ignore[union-attr]


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_after_kill_9_in_the_middle_of_ingest_every_acknowledged_request_is_stored(
    tmp_path: Path, store_url: str, servers: list[Server]
) -> None:
    server = start_server(tmp_path, store_url)
    servers.append(server)
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def export(worker: int) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                trace = worker << 40 | n
                body = traced_request(trace, children=3).SerializeToString()
                try:
                    answer = client.post(
                        server.url + "/v1/traces", content=body, headers={**PROTOBUF, **server.headers()}
                    )
                except httpx.TransportError:
                    if server.proc.poll() is not None:
                        return
                    continue
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(trace)

    workers = [threading.Thread(target=export, args=(w,)) for w in (1, 2, 3)]
    for worker in workers:
        worker.start()
    try:
        wait_for(lambda: len(acknowledged) >= 60, "60 acknowledged requests")
        server.proc.send_signal(signal.SIGKILL)
        assert server.proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=DEADLINE_S)

    with open_store(store_url) as store:
        missing = [t for t in acknowledged if (store.get_trace(f"{t:032x}") or _empty()).span_count != 4]
    assert missing == []
    assert len(acknowledged) >= 60


def _empty():  # type: ignore[no-untyped-def]
    class Nothing:
        span_count = 0

    return Nothing()


def test_retention_days_prunes_old_traces_no_incident_names_when_the_server_starts(
    tmp_path: Path, db_path: Path, servers: list[Server]
) -> None:
    now_ns = time.time_ns()
    first = start_server(tmp_path, db_path)
    servers.append(first)
    old, flagged_old, new = 0xE1, 0xE2, 0xE3
    assert first.export(traced_request(old, start_ns=now_ns - 40 * 86_400 * 10**9)).status_code == 200
    assert first.export(traced_request(flagged_old, start_ns=now_ns - 40 * 86_400 * 10**9)).status_code == 200
    assert first.export(traced_request(new, start_ns=now_ns)).status_code == 200
    assert first.post("/api/flags", json={"trace_id": f"{flagged_old:032x}", "reason": "keep me"}).status_code == 201
    assert first.stop() in DRAINED
    (tmp_path / "pyproject.toml").write_text("[tool.casebank]\nretention_days = 30\n")

    second = start_server(tmp_path, db_path)
    servers.append(second)

    def traces() -> list[str]:
        return sorted(t["trace_id"] for t in second.get("/api/traces").json()["traces"])

    wait_for(lambda: len(traces()) == 2, "the old trace to be pruned")
    assert traces() == [f"{flagged_old:032x}", f"{new:032x}"]
    assert "pruned 1 trace(s), 2 span(s) older than" in second.logged()
