"""Span attribute names, and the one test of what an LLM call's span looks like in any tool's names.

casebank's own fields live under `casebank.*`. For the LLM call itself it writes the OTel GenAI
semantic-convention names (v1.37); other instrumentations write the same facts under older or
their own names (OpenLLMetry `llm.request.type` + `gen_ai.system`, OpenInference
`openinference.span.kind` + `llm.provider`), listed here once for the two that read them: the
duplicate check on the app's request path (`casebank.integrations._duplicates`) and the writer's view
of foreign spans (`casebank.capture._attach`). `inference_provider` is the one place that
decides whether a span is an inference span (one model call) of some instrumentation.

`import casebank` loads this module: plain names and two small functions, and orjson, which
`casebank._json` has loaded already.
"""

from __future__ import annotations

from typing import Any

import orjson

# -- casebank's own -------------------------------------------------------------------------------

ENTRYPOINT = "casebank.entrypoint"  # "module:qualname" of a @casebank.trace function
INPUT = "casebank.input"  # JSON object: the arguments bound by parameter name
INPUT_TYPES = "casebank.input_types"  # JSON object: argument name -> type descriptor (capture/_types.py)
OUTPUT = "casebank.output"  # JSON: the return value
ERROR = "casebank.error"  # "ExcType: message" when the entry point raised
IS_ROOT = "casebank.root"  # True on the outermost @casebank.trace span of a trace
SCOPE = "casebank"  # instrumentation scope name of casebank's tracer
# A step inside the entry point: a `@casebank.tool` call or a `casebank.span` block.
STEP_KIND = "casebank.step.kind"  # "tool" or "span"
STEP_NAME = "casebank.step.name"
STEP_FUNCTION = "casebank.step.function"  # "module:qualname" of a @casebank.tool function
STEP_ARGUMENTS = "casebank.step.arguments"  # JSON object: the arguments by name (a method's self/cls left out)
STEP_RESULT = "casebank.step.result"  # JSON: the return value
STEP_ERROR_TYPE = "casebank.step.error_type"  # "module:qualname" of the exception it raised (message: ERROR)
STEP_FROZEN = "casebank.step.frozen"  # True when a replay answered the call from the case's fixtures

# -- OTel GenAI semantic conventions (v1.37) ------------------------------------------------------

SEMCONV_VERSION = "1.37.0"
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_STOP = "gen_ai.request.stop_sequences"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_NAME = "gen_ai.tool.name"
EXECUTE_TOOL = "execute_tool"  # the operation of a tool call's span

# Operations that are one model call.
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})

# -- other instrumentations' names for the same facts ---------------------------------------------

SYSTEM = "gen_ai.system"  # the provider, before v1.37 (OpenLLMetry, older OTel contrib releases)
PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # input tokens, before v1.37
COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # output tokens, before v1.37
OPENINFERENCE_KIND = "openinference.span.kind"
OPENINFERENCE_PROVIDER = "llm.provider"
OPENINFERENCE_SYSTEM = "llm.system"
LLMETRY_REQUEST_TYPE = "llm.request.type"  # OpenLLMetry (Traceloop)

# Prefixes of the flattened, indexed messages of OpenLLMetry before 0.62 (`gen_ai.prompt.N.content`)
# and OpenInference (`llm.input_messages.N.message.content`).
MESSAGE_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")

# Each tool's kind of span as a semconv operation.
OPENINFERENCE_OPERATIONS = {"LLM": "chat", "EMBEDDING": "embeddings", "TOOL": "execute_tool", "AGENT": "invoke_agent"}
LLMETRY_OPERATIONS = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}


def inference_provider(attributes: Any) -> str | None:
    """The provider an inference span (one model call) of any instrumentation names, lower-cased,
    or "" if it names none; None when the span is not an inference span."""
    if not attributes:
        return None
    if attributes.get(OPERATION) in INFERENCE_OPERATIONS:
        provider = attributes.get(PROVIDER) or attributes.get(SYSTEM)
    elif OPENINFERENCE_OPERATIONS.get(attributes.get(OPENINFERENCE_KIND)) in INFERENCE_OPERATIONS:
        provider = attributes.get(OPENINFERENCE_PROVIDER) or attributes.get(OPENINFERENCE_SYSTEM)
    elif LLMETRY_OPERATIONS.get(attributes.get(LLMETRY_REQUEST_TYPE)) in INFERENCE_OPERATIONS:
        provider = attributes.get(SYSTEM)
    else:
        return None
    return provider.lower() if isinstance(provider, str) else ""


def arguments(text: Any) -> Any:
    """A tool call's arguments as semconv has them: the JSON object when the text parses, the text
    as sent otherwise."""
    if isinstance(text, str):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text
