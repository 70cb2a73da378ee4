"""`cases serve`: an OTLP/HTTP traces receiver and the JSON API of a casebank store (the extra
`casebank[server]`: Starlette, uvicorn, opentelemetry-proto).

`import casebank` never loads this package; the CLI does, for `cases serve` only.
"""

from __future__ import annotations

from casebank.server._app import create_app
from casebank.server._run import serve

__all__ = ["create_app", "serve"]
