"""Two servers on one store, with flags racing the traces they name: every flag ends up on its
trace's incident exactly once, whichever request the store saw first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from casebank.store import open_store
from tests.server.conftest import PROTOBUF, Server, start_server, traced_request

TRACES = 24


def test_flags_racing_their_traces_through_two_servers_attach_once_each(
    tmp_path: Path, store_url: str, servers: list[Server]
) -> None:
    flagging, ingesting = start_server(tmp_path, store_url), start_server(tmp_path, store_url)
    servers += [flagging, ingesting]

    def race(n: int) -> int:
        trace = 0xF0 << 120 | n
        target = {"trace_id": f"{trace:032x}"} if n % 2 else {"where": {"ticket_id": f"T-{n}"}}
        start = threading.Barrier(2)
        answers: dict[str, int] = {}

        def flag() -> None:
            with httpx.Client(timeout=30) as client:
                start.wait()
                answer = client.post(
                    flagging.url + "/api/flags",
                    json={"reason": f"wrong answer {n}", **target},
                    headers=flagging.headers(),
                )
                answers["flag"] = answer.status_code

        def export() -> None:
            with httpx.Client(timeout=30) as client:
                start.wait()
                body = traced_request(trace, ticket=f"T-{n}").SerializeToString()
                answers["export"] = client.post(
                    ingesting.url + "/v1/traces", content=body, headers={**PROTOBUF, **ingesting.headers()}
                ).status_code

        pair = [threading.Thread(target=flag), threading.Thread(target=export)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
        assert answers["export"] == 200 and answers["flag"] in (201, 202), answers
        return answers["flag"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        flag_answers = list(pool.map(race, range(TRACES)))

    with open_store(store_url) as store:
        incidents = store.list_incidents()
        assert store.pending_flags() == []
    assert len(incidents) == TRACES
    for incident in incidents:
        n = int(incident.trace_id, 16) & 0xFFFF
        assert [r["reason"] for r in incident.reasons] == [f"wrong answer {n}"]
        assert len(incident.spans) == 2
    assert set(flag_answers) <= {201, 202}
