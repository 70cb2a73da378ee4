"""What the product put around its users' words: the prompt texts the leakage audit searches.

From recent traces: each LLM span's system instructions, and its input messages before the last
user message - system and developer messages, few-shot examples, earlier turns. The last user
message is the live input (a case's input came from one, in the trace it was promoted from) and
what follows it is the model's own tool loop, so neither is prompt. Spans repeat the same prompt
thousands of times, so texts are kept once each, with how many traces sent them and the first
few of those traces; the raw attribute text is deduplicated before it is even parsed.

From files named by `--prompts GLOB`: each file whole, with its shingles' offsets, so that a match
can be told as file:line.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.audit._shingles import LEAKAGE_K, shingle_set, shingles_at, strings_in
from casebank.errors import InvalidInput

__all__ = ["EXAMPLE_TRACES", "PromptText", "file_texts", "trace_texts"]

EXAMPLE_TRACES = 5  # trace ids kept a text, as where it was seen


@dataclass(kw_only=True)
class PromptText:
    """One distinct prompt text: where it came from and its shingles."""

    key: str
    shingles: set[int]
    trace_ids: list[str] = field(default_factory=list)  # the first few traces that sent it
    traces: int = 0  # how many traces sent it
    file: str | None = None
    offsets: dict[int, int] = field(default_factory=dict)  # a file's shingle -> offset of its first use
    line_starts: list[int] = field(default_factory=list)


def trace_texts(llm_inputs: Iterable[Mapping[str, Any]]) -> list[PromptText]:
    """The distinct prompt texts of `Store.llm_inputs_since`'s records."""
    by_text: dict[str, PromptText] = {}
    parsed: dict[str, list[str]] = {}  # raw attribute text -> its prompt texts
    seen_in: dict[str, str] = {}  # prompt text -> last trace counted, so a trace counts once a text
    for record in llm_inputs:
        trace_id = str(record["trace_id"])
        for raw, split in ((record.get("system_instructions"), False), (record.get("input_messages"), True)):
            if raw is None:
                continue
            raw_key = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
            texts = parsed.get(raw_key)
            if texts is None:
                texts = parsed[raw_key] = _prompt_parts(raw, split=split)
            for text in texts:
                if seen_in.get(text) == trace_id:
                    continue
                seen_in[text] = trace_id
                entry = by_text.get(text)
                if entry is None:
                    entry = by_text[text] = PromptText(key=f"t{len(by_text)}", shingles=shingle_set(text, LEAKAGE_K))
                entry.traces += 1
                if len(entry.trace_ids) < EXAMPLE_TRACES:
                    entry.trace_ids.append(trace_id)
    return [t for t in by_text.values() if t.shingles]


def _prompt_parts(raw: Any, *, split: bool) -> list[str]:
    value = raw
    if isinstance(raw, str):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return [raw]
    if not split or not isinstance(value, list):
        return [t for t in strings_in(value) if t.strip()]
    last_user = -1
    for i in range(len(value) - 1, -1, -1):
        message = value[i]
        if type(message) is dict and message.get("role") == "user":
            last_user = i
            break
    texts: list[str] = []
    for i, message in enumerate(value):
        if i < last_user or (type(message) is dict and message.get("role") in ("system", "developer")):
            _message_texts(message, texts)
    return texts


def _message_texts(message: Any, texts: list[str]) -> None:
    """A message's text parts; its other parts (tool calls, media) by every string in them."""
    parts = message.get("parts") if type(message) is dict else None
    if type(parts) is not list:
        texts.extend(t for t in strings_in(message) if t.strip())
        return
    for part in parts:
        content = part.get("content") if type(part) is dict and part.get("type") == "text" else None
        if type(content) is str:  # the common case, as capture writes text parts
            if content.strip():
                texts.append(content)
        else:
            texts.extend(t for t in strings_in(part) if t.strip())


def file_texts(patterns: str | Iterable[str] | None, root: Path) -> list[PromptText]:
    """Each file that the glob(s) name (relative to `root` unless absolute; `**` spans folders)."""
    if not patterns:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    paths: list[str] = []
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(root / pattern)
        found = [p for p in sorted(glob.glob(full, recursive=True)) if Path(p).is_file()]
        if not found:  # a mistyped pattern would otherwise pass the audit having searched nothing
            raise InvalidInput(
                f"--prompts '{pattern}' matches no file in '{root}' - check the pattern ('**' spans folders)"
            )
        paths.extend(found)
    out = []
    for n, path in enumerate(dict.fromkeys(paths)):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        offsets: dict[int, int] = {}
        for shingle, offset in shingles_at(text, LEAKAGE_K):
            offsets.setdefault(shingle, offset)
        shown = str(Path(path).relative_to(root)) if Path(path).is_relative_to(root) else path
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        out.append(PromptText(key=f"f{n}", shingles=set(offsets), file=shown, offsets=offsets, line_starts=starts))
    return out
