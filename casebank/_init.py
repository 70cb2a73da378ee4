"""`casebank.init()` and `casebank.attach()`: the one place that wires capture, the store and the
integrations together.

Capture (`casebank.capture`) knows how to start a provider and a span processor into a store;
the integrations (`casebank.integrations`) know how to wrap LLM client packages. Neither imports
the other: both read the runtime state in `casebank._runtime`, and this module starts one, then
the other, and tells capture which spans of a shared provider the integrations make twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from casebank._runtime import REPLAY_ENV, lock, state

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["attach", "init"]

logger = logging.getLogger("casebank")

ENDPOINT_ENV = "CASEBANK_ENDPOINT"
TOKEN_ENV = "CASEBANK_TOKEN"


def init(
    db: str | os.PathLike[str] | None = None,
    *,
    service_name: str | None = None,
    tracer_provider: TracerProvider | None = None,
    instrument: bool | Sequence[str] = True,
    capture_content: bool = True,
    otlp_endpoint: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    redact: Sequence[str | Callable[[str], str]] | None = None,
) -> None:
    """Start capturing: call once at start-up. Never raises; if the store cannot be opened,
    logs one warning and the app runs untraced. A second call does nothing.

    `db`: the store, a path or URL (see `casebank.store.open_store`); by default `CASEBANK_DB`,
    else `.casebank/casebank.db`. `endpoint` (or `CASEBANK_ENDPOINT`; or a `db` that is an
    http(s):// URL): send spans to a `cases serve` at that URL instead of a store, over OTLP/HTTP
    (`pip install 'casebank[otlp]'`), redacted before they leave, with `token` (or
    `CASEBANK_TOKEN`, a token with the `ingest` scope) as the bearer token; no local file is
    written. `instrument`: True instruments every supported LLM client
    package that is installed, a list of names (e.g. `["openai"]`) picks some, False none.
    `capture_content=False` keeps metadata and drops message content. `otlp_endpoint` (or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) also sends casebank's spans over OTLP/HTTP, redacted.
    `redact`: PII redactors to add to the secret redaction, by name - `"email"`, `"phone"`,
    `"card"`, `"iban"`, or `"pii"` for all four - and callables `str -> str` of your own, applied
    to every string value; by default the project config's `redact` (an unknown name is left
    out with a warning)."""
    with lock:
        if state.tracer is not None:
            return
        if os.environ.get(REPLAY_ENV):
            logger.debug("casebank: %s is set, capture stays off during replay", REPLAY_ENV)
            return
        try:
            from casebank.capture._setup import start
            from casebank.integrations import repeated_call_spans

            start(
                db,
                service_name=service_name,
                tracer_provider=tracer_provider,
                otlp_endpoint=otlp_endpoint,
                capture_content=capture_content,
                also_drop=repeated_call_spans(),
                endpoint=endpoint or (None if db is not None else os.environ.get(ENDPOINT_ENV) or None),
                token=token or os.environ.get(TOKEN_ENV) or None,
                redact=redact,
            )
        except Exception as exc:  # init must never break the app
            logger.warning("casebank: capture is off - %s", exc)
            return
        if instrument:
            _instrument(instrument)


def _instrument(which: bool | Sequence[str]) -> None:
    try:
        from casebank.integrations import instrument_installed

        instrument_installed(None if which is True else list(which))  # type: ignore[arg-type]
    except Exception as exc:
        logger.warning("casebank: LLM client instrumentation is off - %s", exc)


def attach(
    tracer_provider: Any,
    db: str | os.PathLike[str] | None = None,
    *,
    instrument: bool | Sequence[str] = True,
    capture_content: bool = True,
    redact: Sequence[str | Callable[[str], str]] | None = None,
) -> None:
    """Capture into casebank through the app's own OpenTelemetry provider.

    The same as `casebank.init(db, tracer_provider=provider, ...)`: casebank adds its processor
    to `tracer_provider` and stores its own spans and the LLM spans of any instrumentation on
    that provider (OpenLLMetry, OpenInference, OTel contrib), shown by `cases show` as its
    own. The app's other spans are not stored. Never raises; a second call does nothing."""
    init(db, tracer_provider=tracer_provider, instrument=instrument, capture_content=capture_content, redact=redact)
