"""Secrets never reach the store: redaction, run on the writer thread, never the app's.

Two nets, because neither alone is enough: values under a secret-looking key (`api_key`,
`authorization`, `password`, `*_token`, ...) and secret-shaped strings anywhere (provider API
keys, bearer tokens, JWTs), since a key can hide in a prompt or an error message.

Cost matters here (every span passes through): one case-sensitive scan for the literals that
every secret pattern starts or ends with decides whether the slower substitutions run at all.
On ordinary text that scan is the whole cost.
"""

from __future__ import annotations

import functools
import re

REDACTED = "[REDACTED]"

_KEY_WORDS = r"(?:api[_-]?key|apikey|authorization|password|passwd|secret|(?:^|[_.-])token|cookie)"
_SECRET_KEY_NAME = re.compile(_KEY_WORDS + r"$", re.IGNORECASE)
# "key": "string value" inside JSON text; redacted when is_secret_key(key), so that one word list
# decides for attribute names, argument names and JSON keys alike (token *counts* are numbers: kept).
_JSON_STRING_FIELD = re.compile(r'"([^"\\]{1,200})"(\s*:\s*)"(?:[^"\\]|\\.)*"')
_SECRET_VALUE = re.compile(
    r"(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic keys
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{8,}"  # bearer tokens
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,})"  # Slack tokens
)
# Every secret-shaped value contains one of these literals. `in` scans at memchr speed, several
# times faster than any `re` alternation here, so the patterns run only on text that has one.
_VALUE_LITERALS = ("sk-", "eyJ", "earer ", "AKIA", "xox", "gh")
_JSON_KEY = re.compile(r'"([^"\\]{1,200})"\s*:')


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether an attribute or argument called `name` holds a secret (e.g. `api_key`, `x-auth-token`)."""
    return _SECRET_KEY_NAME.search(name) is not None


def redact(text: str) -> str:
    """`text` (plain or JSON) with secrets replaced by `[REDACTED]`."""
    if text[:1] in ("{", "[") and any(is_secret_key(key) for key in _JSON_KEY.findall(text)):
        text = _JSON_STRING_FIELD.sub(_keep_key, text)
    if any(literal in text for literal in _VALUE_LITERALS):
        text = _SECRET_VALUE.sub(REDACTED, text)
    return text


def _keep_key(match: re.Match[str]) -> str:
    if not is_secret_key(match.group(1)):
        return match.group(0)
    return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'
