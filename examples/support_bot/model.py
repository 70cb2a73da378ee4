"""The bot's model call: the real `openai` client, pointed at a model server.

`SUPPORT_BOT_BASE_URL` names an OpenAI-compatible server; without it the bot starts its local,
deterministic stand-in (`standin.py`), so the example needs no network and no key. Because the
call goes through the real client, `casebank.init()` records it as an LLM span of the trace,
with the messages, the model and the token counts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from . import standin

MODEL = "standin-1"
SYSTEM = "You are a support agent. Answer only from the context; if it has nothing, hand the ticket over."


@lru_cache(maxsize=1)
def _client() -> Any:
    import openai

    base_url = os.environ.get("SUPPORT_BOT_BASE_URL") or standin.base_url()
    return openai.OpenAI(base_url=base_url, api_key=os.environ.get("SUPPORT_BOT_API_KEY", "sk-demo-not-a-real-key"))


def complete(ticket: str, context: Sequence[str]) -> str:
    """The reply to `ticket`, grounded on the retrieved `context` passages."""
    system = SYSTEM + "\n\n" + standin.CONTEXT_MARKER + "".join(f"- {passage}\n" for passage in context)
    response = _client().chat.completions.create(
        model=MODEL,
        temperature=0,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": ticket}],
    )
    return response.choices[0].message.content or ""
