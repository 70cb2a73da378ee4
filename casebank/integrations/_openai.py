"""OpenAI: which methods of the `openai` SDK casebank wraps, and the embeddings endpoint.

Covered: chat completions (`create`, `parse`, the `stream` helper; `_openai_chat`), the
Responses API (`create`, `parse`, `stream`; `_openai_responses`) and embeddings (here); sync
and async, plain and streamed. The stream helpers are built on a wrapped `create`, so they need
no endpoint of their own: the helper's manager only ends the span its `create` started.

Embedding inputs are not recorded (they are data, not conversation, and can be large).
"""

from __future__ import annotations

from typing import Any

from casebank.capture._attributes import INPUT_TOKENS, REQUEST_MODEL
from casebank.integrations._openai_chat import CHAT
from casebank.integrations._openai_responses import RESPONSES
from casebank.integrations._openai_shared import PROVIDER, identity
from casebank.integrations._provider import Endpoint, Provider, resource_targets
from casebank.integrations._registry import register
from casebank.integrations._values import get, given


def embeddings_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        attributes["gen_ai.request.encoding_formats"] = (encoding,)
    dimensions = kwargs.get("dimensions")
    if given(dimensions) and isinstance(dimensions, int):
        attributes["gen_ai.embeddings.dimension.count"] = dimensions
    return model, attributes


def embeddings_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    identity(attributes, None, get(result, "model"), None)
    usage = get(result, "usage")
    tokens = get(usage, "prompt_tokens") if usage is not None else None
    if isinstance(tokens, int):
        attributes[INPUT_TOKENS] = tokens
    data = get(result, "data")
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attributes["gen_ai.embeddings.dimension.count"] = len(vector)
    return attributes


EMBEDDINGS = Endpoint(
    provider=PROVIDER, operation="embeddings", request=embeddings_request, response=embeddings_response
)


register(
    Provider(
        name="openai",
        sentinels=("openai._types:Omit", "openai._types:NotGiven"),
        targets=(
            *resource_targets(
                "openai.resources.chat.completions",
                "Completions",
                client_path=("chat", "completions"),
                calls={"create": CHAT, "parse": CHAT},
                stream_helpers={"stream": None},
            ),
            *resource_targets(
                "openai.resources.responses",
                "Responses",
                client_path=("responses",),
                calls={"create": RESPONSES, "parse": RESPONSES},
                stream_helpers={"stream": None},
            ),
            *resource_targets(
                "openai.resources.embeddings", "Embeddings", client_path=("embeddings",), calls={"create": EMBEDDINGS}
            ),
        ),
    )
)
