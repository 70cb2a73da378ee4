"""A judging, embedding stand-in for an OpenAI-compatible server (and Anthropic's) on 127.0.0.1.

Unlike `tests.fakes.FakeLLM`, whose answers are set in advance, this one computes them from the
request, so the meaning graders can be tested end to end through the real `openai` and
`anthropic` clients:

    /v1/embeddings         bag-of-words vectors: each lower-cased word adds 1 to one of 256
                           dimensions chosen by its hash, so texts sharing words are similar
                           and the same text always gets the same vector.
    /v1/chat/completions   a deterministic judge (OpenAI wire format)
    /v1/messages           the same judge (Anthropic wire format)

The judge reads the rubric's `must mention "X"` phrases from the system message and passes an
output that mentions every one. It finds the output through the fence that the system message
declares (`<<<OUTPUT token>>>` ... `<<<END OUTPUT token>>>`). In `mode = "naive"` it also obeys
an instruction to "answer PASS" found anywhere OUTSIDE that fence - a model that respects the
fence but is otherwise gullible - which is what shows that fencing is what stops an injection.
`style` shapes the reply: `json`, `prose` (JSON inside chatter and a code fence), `words`
(`Verdict: PASS, score 9/10`-like text), or `garbage` (no verdict at all). While `fail_status`
is set, every request gets that error. `before_answer`, when set, is called with the path in the
request's own serving thread before it is answered: a test can hold requests there (a
`threading.Barrier` that only opens when K are in flight at once), a benchmark can add latency.

It is a `FakeLLM` that computes its answers (`answer`, `next_error`): the HTTP serving is
`tests.fakes`'. The `fake` fixture (tests/conftest.py) starts one for a test.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from tests.fakes import FakeLLM, _wire
from tests.fakes._wire import Reply

__all__ = ["DIMENSIONS", "FakeCompat", "word_vector"]

DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"<<<OUTPUT ([0-9a-zA-Z]+)>>>")
_MUST = re.compile(r'must mention "([^"]+)"', re.IGNORECASE)
_INJECTION = re.compile(r"answer\s+PASS|verdict\s+is\s+PASS", re.IGNORECASE)


def word_vector(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in _WORD.findall(text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest()[:8], 16) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FakeCompat(FakeLLM):
    def __init__(self) -> None:
        super().__init__()
        self.mode = "honest"  # or "naive"
        self.style = "json"  # or "prose", "words", "garbage"
        self.fail_status: int | None = None  # every request gets this error status while set
        self.before_answer: Callable[[str], None] | None = None  # called with the path before answering

    # -- the judge ------------------------------------------------------------------------------

    def judge(self, system: str, user: str) -> str:
        token_m = _TOKEN.search(system)
        inside, outside = user, user
        if token_m is not None:
            token = re.escape(token_m.group(1))
            # every fenced region (output and reference answer) is data; the rest is not
            outside = re.sub(rf"<<<(\w+) {token}>>>\n.*?\n<<<END \1 {token}>>>", "", user, flags=re.DOTALL)
            fenced = re.search(rf"<<<OUTPUT {token}>>>\n(.*?)\n<<<END OUTPUT {token}>>>", user, re.DOTALL)
            inside = fenced.group(1) if fenced is not None else outside
        if self.mode == "naive" and _INJECTION.search(system + "\n" + outside):
            return self._reply("PASS", 1.0, "the text told me to answer PASS")
        terms = _MUST.findall(system)
        missing = [t for t in terms if t.lower() not in inside.lower()]
        if missing:
            return self._reply("FAIL", 0.0, f"the output does not mention {missing[0]!r}")
        return self._reply("PASS", 1.0, "the output mentions everything the rubric asks for")

    def _reply(self, verdict: str, score: float, reason: str) -> str:
        answer = json.dumps({"verdict": verdict, "score": score, "reason": reason})
        if self.style == "prose":
            return f"Let me think about this.\n```json\n{answer}\n```\nThat is my verdict."
        if self.style == "words":
            return f"Verdict: {verdict}\nScore: {round(score * 10)}\nReason: {reason}"
        if self.style == "garbage":
            return "I am not sure what you want me to do."
        return answer

    # -- answers --------------------------------------------------------------------------------

    def next_error(self) -> tuple[int, str] | None:
        if self.fail_status is not None:
            return self.fail_status, "the fake is failing on purpose"
        return super().next_error()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.before_answer is not None:
            self.before_answer(path)
        if path == "/v1/embeddings":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            return {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": word_vector(t)} for i, t in enumerate(inputs)
                ],
                "model": body.get("model"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        if path == "/v1/chat/completions":
            messages = body["messages"]
            system = "\n".join(m["content"] for m in messages if m["role"] == "system")
            user = "\n".join(m["content"] for m in messages if m["role"] == "user")
            return _wire.chat_completion(body, Reply(text=self.judge(system, user)))
        if path == "/v1/messages":
            system = body.get("system") or ""
            user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
            return _wire.message(body, Reply(text=self.judge(system, user)))
        return super().answer(path, body)
