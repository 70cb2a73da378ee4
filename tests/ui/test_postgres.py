"""The review pages over a PostgreSQL store: the same server, the same pages."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.server.conftest import ADMIN, Server, start_server
from tests.ui.conftest import READ, Visitor, add_tokens, conversation_trace, trace_hex


def test_the_pages_search_flag_and_annotate_over_postgresql(
    tmp_path: Path, postgres_url: str, servers: list[Server]
) -> None:
    add_tokens(postgres_url)
    server = start_server(tmp_path, postgres_url)
    servers.append(server)
    for n, ticket in [(1, "8812"), (2, "9000"), (3, "8812")]:
        assert (
            server.export(conversation_trace(n, ticket=ticket, start_ns=1_733_560_000_000_000_000 + n)).status_code
            == 200
        )
    with (
        httpx.Client(base_url=server.url, timeout=30) as reader_client,
        httpx.Client(base_url=server.url, timeout=30) as admin_client,
    ):
        reader, admin = Visitor(server, reader_client), Visitor(server, admin_client)
        reader.sign_in(READ)
        found = reader.get("/ui/traces", q="ticket_id=8812").text
        assert re.findall(r'data-trace-id="([0-9a-f]{32})"', found) == [trace_hex(3), trace_hex(1)]
        assert 'data-testid="conversation"' in reader.get(f"/ui/traces/{trace_hex(3)}").text
        admin.sign_in(ADMIN)
        flagged = admin.submit(f"/ui/traces/{trace_hex(3)}", f"/ui/traces/{trace_hex(3)}/flag", {"reason": "wrong ETA"})
        assert flagged.status_code == 303
        incident = flagged.headers["location"].split("/")[-1].split("?")[0]
        annotated = admin.submit(
            f"/ui/incidents/{incident}",
            f"/ui/incidents/{incident}/annotate",
            {"expected": "Monday", "grader": "contains"},
        )
        assert annotated.status_code == 303
        assert 'data-testid="incident-status">annotated' in reader.get(f"/ui/incidents/{incident}").text
