"""Running the server under uvicorn, with graceful shutdown.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the requests in flight
to finish - for up to `DRAIN_S` - before the lifespan closes the store: a request that was being
received when the signal came is still answered, and stored if it is answered 2xx.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from casebank.server._app import ExtraRoutes, create_app
from casebank.server._body import DEFAULT_MAX_BODY
from casebank.store import Store

__all__ = ["DRAIN_S", "serve"]

DRAIN_S = 30
SWITCH_INTERVAL_S = 0.001


def serve(
    store: Store,
    *,
    host: str,
    port: int,
    admin_token: str | None,
    serialize: bool,
    retention_days: int | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    log_level: str = "info",
    extra_routes: ExtraRoutes | None = None,
) -> None:
    """Serve `store` until SIGTERM or SIGINT; the store is closed on the way out."""
    _log_to_stderr(log_level)
    # A thread wanting the GIL waits up to the switch interval for a thread converting spans;
    # a flag crosses threads several times, so 5 ms (the default) made tens of ms under load.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = create_app(
        store,
        admin_token=admin_token,
        serialize=serialize,
        max_body=max_body,
        retention_days=retention_days,
        extra_routes=extra_routes,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=DRAIN_S,
        server_header=False,
        # The access log costs a tenth of an ingest request; warnings and errors still show.
        access_log=log_level == "debug",
    )
    uvicorn.Server(config).run()


def _log_to_stderr(level: str) -> None:
    """casebank's own lines (retention, failures) beside uvicorn's, at the level asked for."""
    logger = logging.getLogger("casebank")
    if not any(getattr(h, "_casebank_server", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        handler._casebank_server = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level.upper())
