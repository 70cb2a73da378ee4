"""`cases serve`: run the casebank server (OTLP ingest + JSON API) over a store.

Thin, as every command: it finds the admin token and the store, checks that the server extra
is installed, and hands over to `casebank.server.serve`, which runs until SIGTERM.

The server never runs open: it starts only when some token can reach it - the admin token
(`CASEBANK_TOKEN` or `--token-file`), or tokens already kept in the store (`cases token
create`). Errors found before serving (no token, no server extra, a store that will not open)
are one line and exit 2, as for every command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, project_config
from casebank.errors import InvalidInput, StoreError, UsageError
from casebank.store import open_store, parse_store_url

__all__ = ["SESSION_SECRET_ENV", "TOKEN_ENV", "serve"]

TOKEN_ENV = "CASEBANK_TOKEN"
SESSION_SECRET_ENV = "CASEBANK_SESSION_SECRET"
_MIN_SECRET_CHARS = 32  # 'openssl rand -hex 32' gives 64
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to listen on (4318: OTLP/HTTP's).")
    ] = 4318,
    db: DbOption = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            metavar="FILE",
            help="File holding the admin token (default: $CASEBANK_TOKEN).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", metavar="|".join(_LOG_LEVELS), help="How much the server logs.")
    ] = "info",
    session_secret_file: Annotated[
        Path | None,
        typer.Option(
            "--session-secret-file",
            metavar="FILE",
            help="File holding the secret that signs review-page sessions (default: $CASEBANK_SESSION_SECRET; "
            "without either, one made at start, so sessions end with the process).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a store over HTTP: OTLP traces at /v1/traces, flags and reads under /api, review pages at /ui.

    Every route but /healthz and /readyz needs 'Authorization: Bearer TOKEN': the admin token
    ($CASEBANK_TOKEN or --token-file) or one from 'cases token create'. The review pages (/ui)
    sign in with such a token (scope read to look, flag to flag, admin to annotate). With retention_days in
    the project config, traces older than that which no incident references are pruned daily;
    with redact (e.g. ["email", "phone"]), that PII is redacted from ingested spans, beside secrets.
    Servers behind one load balancer share review-page sessions when they share a session secret
    ($CASEBANK_SESSION_SECRET or --session-secret-file, 32 characters or more).
    SIGTERM finishes the requests in flight, then stops.

    \b
    Example:
        CASEBANK_TOKEN=$(openssl rand -hex 32) cases serve --db postgresql://cb@db/casebank
    """
    if log_level not in _LOG_LEVELS:
        raise InvalidInput(f"--log-level '{log_level}' is not one of {', '.join(_LOG_LEVELS)}")
    admin_token = _admin_token(token_file)
    session_secret = _session_secret(session_secret_file)
    try:
        from casebank.server import serve as run_server
        from casebank.ui import Sessions, ui_routes
    except ImportError as exc:
        raise UsageError(
            f"'cases serve' needs the server extra ({exc.name} is missing) - pip install 'casebank[server]'"
        ) from None
    config = project_config(db=db)
    where = parse_store_url(config.db)
    if where.backend == "http":
        raise StoreError(f"'cases serve' serves a database, not another server ('{where.shown}') - pass --db PATH|URL")
    store = open_store(where)
    try:
        if admin_token is None and not store.list_tokens():
            raise UsageError(
                f"no token can reach this server - set {TOKEN_ENV}, pass --token-file FILE, "
                "or create one with 'cases token create --name NAME --scope ingest'"
            )
    except BaseException:
        store.close()
        raise
    sessions = Sessions(secret=session_secret)
    typer.echo(f"casebank server on http://{host}:{port} - store {where.shown}", err=True)
    run_server(
        store,
        host=host,
        port=port,
        admin_token=admin_token,
        serialize=where.backend == "sqlite",
        retention_days=config.retention_days,
        log_level=log_level,
        extra_routes=lambda calls, auth: ui_routes(calls, auth, suite=config.suite, sessions=sessions),
        redactors=config.redact,
    )


def _read_option_file(path: Path, option: str) -> str:
    """The stripped text of the file an option names; a usage error when it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read {option} '{path}': {exc.strerror or exc}") from None


def _admin_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        token = _read_option_file(token_file, "--token-file")
        if not token:
            raise InvalidInput(f"--token-file '{token_file}' is empty - write the admin token in it")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _session_secret(secret_file: Path | None) -> bytes | None:
    """The shared secret that signs review-page sessions, or None for one of this process's own."""
    if secret_file is not None:
        secret = _read_option_file(secret_file, "--session-secret-file")
        where = f"--session-secret-file '{secret_file}'"
    else:
        secret = os.environ.get(SESSION_SECRET_ENV, "").strip()
        if not secret:
            return None
        where = f"${SESSION_SECRET_ENV}"
    if len(secret) < _MIN_SECRET_CHARS:
        raise InvalidInput(
            f"{where} holds {len(secret)} characters; a session secret needs {_MIN_SECRET_CHARS} or more "
            "- make one with 'openssl rand -hex 32'"
        )
    return secret.encode()
