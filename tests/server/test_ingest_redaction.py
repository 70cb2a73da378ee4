"""`cases serve` redacts what it ingests as capture does, with the project config's PII redactors too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from casebank.store import open_store
from tests.server.conftest import ADMIN, Server, child_env, otlp_request, otlp_span, start_server

PROMPT = "mail jane.doe@example.com, card 4111 1111 1111 1111, call +44 7700 900123, key sk-proj-" + "Pq4" * 10


def test_the_server_redacts_the_pii_its_project_config_names(
    tmp_path: Path, db_path: Path, servers: list[Server]
) -> None:
    (tmp_path / "casebank.toml").write_text('redact = ["email", "card"]\n')
    server = start_server(tmp_path, db_path)
    servers.append(server)
    request = otlp_request(otlp_span(9, 91, "chat", gen_ai__operation__name="chat", prompt=PROMPT), scope="my.app")

    assert server.export(request).status_code == 200

    with open_store(db_path, create=False) as store:
        (span,) = store.trace_spans(f"{9:032x}")
    assert span["attributes"]["prompt"] == (
        "mail [REDACTED:email], card [REDACTED:card], call +44 7700 900123, key [REDACTED:openai_key]"
    )


def test_an_unknown_redactor_in_the_config_stops_cases_serve_with_one_line(tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "casebank.toml").write_text('redact = ["emial"]\n')
    proc = subprocess.run(
        [sys.executable, "-m", "casebank", "serve", "--db", str(db_path), "--port", "1"],
        cwd=tmp_path,
        env=child_env(CASEBANK_TOKEN=ADMIN),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f'error: \'{tmp_path / "casebank.toml"}\': redact = an array is not a list of "email", "phone", "card", '
        '"iban", "pii" - for example: redact = ["email", "phone"]'
    ]
