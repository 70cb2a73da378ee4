"""The attribute names an LLM call's span carries beyond the GenAI names in `casebank.capture._attributes`.

The OTel names for the error and the server (`error.type`, `http.response.status_code`,
`server.*`), and casebank's own fields for streams under `casebank.*`. Plain names, so that any
module may import them on the request path.
"""

from __future__ import annotations

ERROR_TYPE = "error.type"
HTTP_STATUS = "http.response.status_code"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

# casebank's own
SEMCONV = "casebank.semconv_version"
STREAM = "casebank.stream"  # True on a streamed call
STREAM_END = "casebank.stream_end"  # how the stream's span ended: exhausted, closed, exited, collected, error
FIRST_CHUNK_MS = "casebank.time_to_first_chunk_ms"

INCOMPLETE = "incomplete"  # finish reason of an answer whose stream ended before the model gave one
