"""The policy service: the rules of the day that win over the bot's built-in facts.

`lookup_policy(topic)` is a `@casebank.tool`: each call is recorded with its argument and what
the service answered, `cases promote` keeps that answer in the case as a fixture, and a frozen
replay (`cases run --frozen-tools`) gets the recorded answer instead of asking the service.

The "service" is a JSON file, `{"topic": "policy text"}`, read on every call like a live service:
`$SUPPORT_BOT_POLICIES`, else `policies.json` in the current folder, else the one beside this
module. Editing it is how the demo makes the service change under a case.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import casebank

_BUNDLED = Path(__file__).resolve().parent / "policies.json"


def _service_file() -> Path:
    configured = os.environ.get("SUPPORT_BOT_POLICIES")
    if configured:
        return Path(configured)
    here = Path("policies.json")
    return here if here.is_file() else _BUNDLED


@casebank.tool
def lookup_policy(topic: str) -> str | None:
    """Today's policy on `topic`, or None when the service has none."""
    policies = json.loads(_service_file().read_text(encoding="utf-8"))
    policy = policies.get(topic)
    return str(policy) if policy else None
