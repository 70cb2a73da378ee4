"""What the OpenAI chat completions and Responses APIs share: message content as GenAI parts,
request parameters, usage and the answer's identity.

Images, audio and files inside messages are recorded as typed parts without their bytes. A
one-shot iterable of messages is made a list before it is read (`materialised`), since the SDK
reads it after casebank.
"""

from __future__ import annotations

from typing import Any

from casebank.capture._attributes import (
    CACHE_READ_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    RESPONSE_ID,
    RESPONSE_MODEL,
)
from casebank.integrations import _values
from casebank.integrations._values import get

PROVIDER = "openai"
API_TYPE = "openai.api.type"
REQUEST_TIER = "openai.request.service_tier"
RESPONSE_TIER = "openai.response.service_tier"
FINGERPRINT = "openai.response.system_fingerprint"

_SCALARS = (int, float, str)


def params(kwargs: dict[str, Any], table: dict[str, str], attributes: dict[str, Any]) -> None:
    for key, value in kwargs.items():  # a call passes a few arguments; the table is longer
        name = table.get(key)
        if name is not None and isinstance(value, _SCALARS):
            attributes[name] = value


def output_type(response_format: Any) -> str | None:
    if isinstance(response_format, type):  # parse(response_format=SomeModel)
        return "json"
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    return kind if isinstance(kind, str) else None


def _media(kind: str, url: Any) -> dict[str, Any]:
    if isinstance(url, str) and url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0]
        return {"type": "blob", "modality": kind, "mime_type": mime} if mime else {"type": "blob", "modality": kind}
    return {"type": "uri", "modality": kind, "uri": url}


def _part(part: Any) -> dict[str, Any]:
    kind = get(part, "type")
    if kind in ("text", "input_text", "output_text"):
        return {"type": "text", "content": get(part, "text")}
    if kind == "refusal":
        return {"type": "refusal", "content": get(part, "refusal")}
    if kind == "image_url":
        return _media("image", get(get(part, "image_url"), "url"))
    if kind == "input_image":
        url = get(part, "image_url")
        return _media("image", url) if url else {"type": "file", "modality": "image", "file_id": get(part, "file_id")}
    if kind == "input_audio":
        return {"type": "blob", "modality": "audio"}
    if kind in ("file", "input_file"):
        return {"type": "file"}
    return {"type": kind if isinstance(kind, str) else "unknown"}


def content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if content is None:
        return []
    if isinstance(content, (list, tuple)):
        return [_part(p) for p in content]
    return [{"type": "text", "content": str(content)}]


def materialised(kwargs: dict[str, Any], key: str) -> Any:
    """kwargs[key], made a list first when it is a one-shot iterable (we read it, the SDK too)."""
    value = kwargs.get(key)
    if type(value) is list:
        return value
    if value is not None and not isinstance(value, (tuple, str, dict)) and not isinstance(value, _values.sentinels):
        value = list(value)
        kwargs[key] = value
    return value


def token_usage(attributes: dict[str, Any], found: Any, names: tuple[str, str, str]) -> None:
    """Token counts of `found`, an answer's usage, whose fields are called `names`."""
    if found is None:
        return
    tokens = getattr(found, names[0], None)
    if type(tokens) is int:
        attributes[INPUT_TOKENS] = tokens
    tokens = getattr(found, names[1], None)
    if type(tokens) is int:
        attributes[OUTPUT_TOKENS] = tokens
    details = getattr(found, names[2], None)
    if details is not None:
        cached = getattr(details, "cached_tokens", None)
        if type(cached) is int and cached:
            attributes[CACHE_READ_TOKENS] = cached


def identity(attributes: dict[str, Any], response_id: Any, model: Any, tier: Any) -> None:
    if type(response_id) is str:
        attributes[RESPONSE_ID] = response_id
    if type(model) is str:
        attributes[RESPONSE_MODEL] = model
    if type(tier) is str:
        attributes[RESPONSE_TIER] = tier
