"""Bearer tokens: every route but /healthz, /readyz and the OpenAPI description needs one; 401
without or with a wrong one, 403 for a token without the route's scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from casebank.store import open_store, token_hash
from tests.server.conftest import Server, traced_request

ROUTES = [
    pytest.param("POST", "/v1/traces", "ingest", id="ingest"),
    pytest.param("POST", "/api/flags", "flag", id="flag"),
    pytest.param("GET", "/api/incidents", "read", id="list-incidents"),
    pytest.param("GET", "/api/incidents/abc", "read", id="show-incident"),
    pytest.param("POST", "/api/incidents/abc/annotate", "admin", id="annotate"),
    pytest.param("POST", "/api/incidents/abc/dismiss", "admin", id="dismiss"),
    pytest.param("POST", "/api/incidents/abc/promoted", "admin", id="promoted"),
    pytest.param("GET", "/api/traces", "read", id="list-traces"),
    pytest.param("GET", "/api/traces/abc", "read", id="show-trace"),
    pytest.param("GET", "/api/counts", "read", id="counts"),
]
NO_TOKEN = "this route needs 'Authorization: Bearer <token>' - pass the admin token or one from 'cases token create'"
WRONG_TOKEN = "the bearer token is not one this server knows - see 'cases token list'"


def add_token(db: Path, name: str, secret: str, *scopes: str) -> None:
    with open_store(db) as store:
        store.add_token(name, token_hash(secret), list(scopes))


def call(server: Server, method: str, path: str, token: str | None, **headers: str):  # type: ignore[no-untyped-def]
    merged = {**server.headers(token), **headers} if token is not None else headers
    return server.client.request(method, server.url + path, headers=merged, content=b"{}")


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_a_route_without_a_token_or_with_a_wrong_one_is_401(server: Server, method: str, path: str, scope: str) -> None:
    missing = call(server, method, path, None)
    wrong = call(server, method, path, "not-a-token-anyone-made")
    basic = call(server, method, path, None, Authorization="Basic dXNlcjpwdw==")

    assert (missing.status_code, missing.json()) == (401, {"error": NO_TOKEN})
    assert missing.headers["www-authenticate"] == 'Bearer realm="casebank"'
    assert (wrong.status_code, wrong.json()) == (401, {"error": WRONG_TOKEN})
    assert (basic.status_code, basic.json()) == (401, {"error": NO_TOKEN})


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_a_token_without_the_routes_scope_is_403_and_one_with_it_gets_through(
    server: Server, db_path: Path, method: str, path: str, scope: str
) -> None:
    other = "read" if scope != "read" else "flag"
    add_token(db_path, "lacking", "secret-lacking-0123456789", other)
    add_token(db_path, "having", "secret-having-0123456789", scope)

    refused = call(server, method, path, "secret-lacking-0123456789", **{"Content-Type": "application/json"})
    allowed = call(server, method, path, "secret-having-0123456789", **{"Content-Type": "application/json"})

    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": f"token 'lacking' lacks the '{scope}' scope - create one with "
            f"'cases token create --name NAME --scope {scope}'"
        },
    )
    assert allowed.status_code not in (401, 403), allowed.text


def test_an_admin_token_from_the_store_has_every_scope_and_a_revoked_one_none(server: Server, db_path: Path) -> None:
    add_token(db_path, "ops", "secret-ops-0123456789", "admin")

    before = server.export(traced_request(1), token="secret-ops-0123456789")
    with open_store(db_path) as store:
        store.revoke_token("ops")
    after = server.export(traced_request(2), token="secret-ops-0123456789")

    assert before.status_code == 200
    assert (after.status_code, after.json()) == (401, {"error": WRONG_TOKEN})


def test_health_readiness_and_the_openapi_description_need_no_token(server: Server) -> None:
    assert server.get("/healthz", token="").json() == {"status": "ok"}
    assert server.get("/readyz", token="").json() == {"status": "ready"}
    spec = server.get("/api/openapi.json", token="").json()
    assert spec["openapi"].startswith("3.")
    assert sorted(spec["paths"]) == [
        "/api/counts",
        "/api/flags",
        "/api/incidents",
        "/api/incidents/{ref}",
        "/api/incidents/{ref}/annotate",
        "/api/incidents/{ref}/dismiss",
        "/api/incidents/{ref}/promoted",
        "/api/traces",
        "/api/traces/{ref}",
    ]
