"""Secrets never reach the store: redaction of JSON text, run on the writer thread.

Two nets, because neither alone is enough: values under a secret-looking key (`api_key`,
`authorization`, `password`, `*_token`, ...) and secret-shaped strings anywhere (provider API
keys, bearer tokens, JWTs), since a key can hide in a prompt or an error message.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# "some_api_key": "value" -> "some_api_key": "[REDACTED]" (string values only; token *counts* stay)
_SECRET_KEY = re.compile(
    r'"((?:[^"\\]|\\.)*?(?:api[_-]?key|authorization|password|passwd|secret|(?:(?<=")|[_.-])token|cookie))"'
    r'(\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic keys
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}"  # bearer tokens
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,})"  # Slack tokens
)
_QUICK = re.compile(r"(?i)key|auth|pass|secret|token|cookie|sk-|bearer|eyJ|AKIA|gh[pousr]_|xox")


def redact(text: str) -> str:
    """`text` (usually JSON) with secrets replaced by `[REDACTED]`."""
    if not _QUICK.search(text):  # the common case: nothing that could be a secret
        return text
    text = _SECRET_KEY.sub(lambda m: f'"{m.group(1)}"{m.group(2)}"{REDACTED}"', text)
    return _SECRET_VALUE.sub(REDACTED, text)
