"""`cases token create | list | revoke`, through the real `cases` command."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from casebank.store import open_store, token_hash
from tests.cli.conftest import Cases, assert_one_line_error

SECRET = re.compile(r"cb_[A-Za-z0-9_-]{43}")  # 32 random bytes, URL-safe base64 without padding


def _stored_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_create_prints_the_secret_once_and_the_store_keeps_only_its_hash(db: Path, cases: Cases) -> None:
    made = cases("token", "create", "--name", "support", "--scope", "flag", "--scope", "read", "--db", str(db))
    assert made.code == 0, made.err
    secret = made.out.strip()
    assert SECRET.fullmatch(secret) and made.out == secret + "\n"
    assert made.err == (
        "token 'support' made (scopes: flag, read) - the secret above is shown only this once; "
        "keep it in your secret store\n"
    )
    with open_store(db) as store:
        assert store.token_by_hash(token_hash(secret)) == {"name": "support", "scopes": ["flag", "read"]}
    assert secret.encode() not in _stored_bytes(db)
    other = cases("token", "create", "--name", "collector", "--scope", "ingest")
    assert other.code == 0 and other.out.strip() != secret


def test_list_shows_names_scopes_and_times_and_never_a_hash(db: Path, cases: Cases) -> None:
    open_store(db).close()
    assert cases("token", "list", "--db", str(db)).out == (
        "no tokens yet - make one with 'cases token create --name NAME --scope SCOPE'\n"
    )
    cases("token", "create", "--name", "support", "--scope", "read", "--scope", "flag")
    cases("token", "create", "--name", "ci", "--scope", "admin")
    listed = cases("token", "list")
    as_json = orjson.loads(cases("token", "list", "--json").out)
    assert listed.code == 0, listed.err
    assert [(t["name"], t["scopes"]) for t in as_json] == [("ci", ["admin"]), ("support", ["flag", "read"])]
    assert listed.out.splitlines() == [
        "name     scopes                    created (UTC)",
        f"ci       admin                     {as_json[0]['created_at']}",
        f"support  flag, read                {as_json[1]['created_at']}",
    ]
    assert "sha256" not in listed.out and all(set(t) == {"name", "scopes", "created_at"} for t in as_json)


def test_revoke_forgets_the_token(db: Path, cases: Cases) -> None:
    secret = cases("token", "create", "--name", "support", "--scope", "flag").out.strip()
    revoked = cases("token", "revoke", "support", "--db", str(db))
    assert (revoked.code, revoked.out) == (0, "revoked token 'support'\n")
    with open_store(db) as store:
        assert store.token_by_hash(token_hash(secret)) is None and store.list_tokens() == []
    again = cases("token", "revoke", "support")
    assert_one_line_error(again, 2, f"no token 'support' in store '{db}' - see 'cases token list'")


def test_a_token_that_cannot_be_made_is_refused_in_one_line_and_nothing_is_printed_as_a_secret(
    db: Path, cases: Cases
) -> None:
    cases("token", "create", "--name", "support", "--scope", "flag")
    for args, message in (
        (["--name", "ci", "--scope", "write"], "scope 'write' is not one of: ingest, flag, read, admin"),
        (["--name", "support", "--scope", "read"], "a token named 'support' already exists"),
    ):
        refused = cases("token", "create", *args)
        assert_one_line_error(refused, 2, message)
        assert refused.out == ""
    with open_store(db) as store:
        assert [t["name"] for t in store.list_tokens()] == ["support"]
    missing = cases("token", "create", "--name", "ci")
    assert missing.code == 2 and "--scope" in missing.err
