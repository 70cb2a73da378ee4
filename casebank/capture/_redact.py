"""Secrets never reach the store: redaction, run on the writer thread, never the app's.

Three nets, because none alone is enough: values under a secret-looking key (`api_key`,
`authorization`, `password`, `*_token`, `secret_key`, `credentials`, ...) - every string and
number, at any depth of JSON -, secret-shaped strings anywhere (provider API keys, bearer tokens,
JWTs, passwords in URLs, private keys), since a key can hide in a prompt or an error message, and
`name=value` or `name: value` in plain text whose name is secret-looking by the same words
(`?access_token=...&`, `x-api-key: ...`, `Authorization: Basic ...`), since logs, URLs and
headers land in prompts and errors too.

Markers say what went, so a case still reads and a reviewer sees what was there: every shape
has its kind (`[REDACTED:openai_key]`, `[REDACTED:private_key]`, `[REDACTED:password]` for a
URL's password, ...: the README lists them), and the key net names the key's kind, the word that
made it a secret key: `[REDACTED:api_key]`, `[REDACTED:authorization]`, `[REDACTED:password]`,
`[REDACTED:secret]`, `[REDACTED:token]`, `[REDACTED:cookie]` (`key_kind`). A kind of the key is
more use to a reviewer than one `[REDACTED:secret]`, and costs nothing: the word is already found.
Opt-in PII redactors (e-mail, phone, card, IBAN) and a team's own callables run after these
(`_pii.py`).

Cost matters here: every byte of every span passes through, and the writer is meant to keep up
with tens of thousands of spans a second. One `re` alternation of all the shapes scanned text at
~20 ns/char. Each shape's own pattern starts with a literal, which `re` scans for at ~0.5
ns/char - as fast as `literal in text` - so checking the literal in Python first only added to
the cost (3 µs a shape on 2 KB of chat JSON, against 1 µs for the pattern). A one-character
`in` runs at memchr speed (~0.03 ns/char), so each pattern runs only on text holding a
character its secret must contain, looked for once however many shapes share it; rare ones
where the secret has one: `V` (PRIVATE) for a private key, `@` for a URL's password, `z` (AIza)
for a Google key, `G` (SG.) for a SendGrid key. `-` and `_` are in most code and chat JSON, and
each pattern behind them costs ~1 µs per 2 KB there, so shapes that share a prefix share a
pattern: OpenAI's and Anthropic's keys (`sk-`, the marker picked by a group), GitHub's classic
and fine-grained tokens. A multi-character `in` (`"sk-" in text`) is no cheaper than the
pattern. The bearer pattern starts with a character class, which `re` scans at
~7 ns/char, so it waits for `"earer " in text`; Stripe's keys would too (`[sr]k_`), so a
literal-led hint (`k_live_`, `k_test_`) must find a place first (`_Hinted`). The URL pattern
tries each `://` of a text that holds an `@` (~45 ns a URL). For 2 KB: prose ~1.8 µs; code or
chat JSON ~7-10 µs; text full of URLs and e-mail addresses ~9 µs (`benchmarks/faults_redaction.py`).
The net of names in plain text costs each `=` and `: ` about 0.1 µs (log lines and settings, one
every 15 characters, +13 µs a 2 KB) and JSON text ~1 µs a 2 KB, as it never stops at JSON's own keys.

Patterns must stay linear on any text: each one's repeats either cannot overlap what follows them
or are possessive (`*+`, `++`), so no input makes `re` backtrack more than once over a run.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Protocol

import orjson


def typed(kind: str) -> str:
    """The marker that says which kind of secret went: `typed("password")` is `[REDACTED:password]`."""
    return f"[REDACTED:{kind}]"


# A name is secret when it ends in one of these words. `key` alone is no such word (`primary_key`,
# `sort_key`, `cache_key`, `public_key` are not secrets): only an API, secret, private or access key.
_KEY_WORDS = (
    r"(?:api[_-]?key|apikey|(?:secret|private|access)[_-]?(?:access[_-]?)?key|authorization"
    r"|password|passwd|passphrase|secret|credentials?|(?:^|[_.-])token|cookie)"
)
_SECRET_KEY_NAME = re.compile(_KEY_WORDS + r"$", re.IGNORECASE)
# The key net's kinds, by the first letters of the word that matched (`token` may follow `_`):
# `secret_key`, `aws_secret_access_key` and `credentials` are secrets, `access_key` an API key,
# `passphrase` a password, `private_key` a private key (as its PEM block is marked).
_KEY_KINDS = {
    "ap": "api_key",
    "ac": "api_key",
    "au": "authorization",
    "pa": "password",
    "se": "secret",
    "cr": "secret",
    "pr": "private_key",
    "co": "cookie",
}
# "key": "string" or number inside JSON text that does not parse (cut short); redacted when
# key_kind(key), so that one word list decides for attribute names, argument names and JSON
# keys alike (token *counts* are under names no secret word ends: `max_tokens`, `token_count`).
_JSON_FIELD = re.compile(r'"([^"\\]{1,200})"(\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*+)')
# Neither net can match shorter text: `{"token":"x"}` is 13 characters, a bearer token 14. A URL
# with a password can be shorter (`ftp://u:p@h` is 11), but none that reaches a real service is.
SHORTEST_SECRET = 13
_JSON_OPENERS = ("{", "[")
# A first character that may open JSON text: an opener, or whitespace before one (pretty-printed
# JSON, a heredoc's newline). A frozenset: `"" in` it is False, as it is not for a string.
_MAYBE_JSON = frozenset("{[ \t\r\n")
# Whitespace, or a JSON string holding JSON text (what a function that returns JSON text records,
# a tool's result), before the opener: looked at only when the first character is one of `_LEADS`.
_LEADS = frozenset(' \t\r\n"')
_LED_JSON = re.compile(r'[ \t\r\n]*+(?:"(?:[ \t]|\\[nrt])*+)?[{\[]')
# Up to this length, results are cached: such values (model names, ids, hosts) mostly repeat.
_SHORT = 64


@functools.lru_cache(maxsize=4096)
def key_kind(name: str) -> str | None:
    """The kind of secret an attribute or argument called `name` holds (`api_key` for `openai_api_key`,
    `token` for `x-auth-token`), None when its name says it is no secret."""
    match = _SECRET_KEY_NAME.search(name)
    if match is None:
        return None
    return _KEY_KINDS.get(match.group(0).lstrip("_.-")[:2].lower(), "token")


@functools.lru_cache(maxsize=64)
def key_marker(kind: str) -> str:
    return typed(kind)


def redact(text: str, *, json_keys: bool = True) -> str:
    """`text` (plain or JSON) with secrets replaced by typed markers (`[REDACTED:openai_key]`, ...);
    `json_keys=False` skips the key net."""
    if len(text) < SHORTEST_SECRET:
        return text
    if len(text) <= _SHORT:  # names, ids, model names: most attribute values, and they repeat
        return _redact_short(text, json_keys)
    return _redact(text, json_keys)


@functools.lru_cache(maxsize=4096)
def _redact_short(text: str, json_keys: bool) -> str:
    return _redact(text, json_keys)


def _looks_json(text: str) -> bool:
    first = text[:1]
    if first in _JSON_OPENERS:
        return True
    return first in _LEADS and _LED_JSON.match(text) is not None


def _redact(text: str, json_keys: bool) -> str:
    is_json = _looks_json(text)
    if json_keys and is_json:
        text = _redact_keys(text)
    for anchor, shapes in _BY_ANCHOR:
        if anchor in text:
            for pattern, marker in shapes:
                text = pattern.sub(marker, text)
    if "earer " in text:
        text = _BEARER.sub(_BEARER_REDACTED, text)
    return redact_named(text, json=is_json)


# JSON text inside a string of JSON text: an object's first key, its quote escaped. A text part whose
# content is JSON (`{"db_password": ...}`) has one; so has a tool call's arguments as JSON text.
_ESCAPED_OBJECT = '{\\"'


def redact_messages(text: str) -> str:
    """`redact` for the GenAI messages JSON that casebank's instrumentation builds.

    Its keys are casebank's own (role, parts, type, content, ...) except inside a tool call's
    `arguments` or a tool's `response`, or in a text part whose content is JSON text, so the key
    net - parsing the JSON, a third of a chat span's conversion - runs only when one of those is
    there: a part of type `tool_call` or `tool_call_response` (one scan for the type's prefix
    finds both, and a `tool_call` finish reason too), or an object in JSON text in a string (one
    more scan, for `{\"`: an object with a key, the only place a secret key can be)."""
    json_keys = text[:1] in _JSON_OPENERS and ('"tool_call' in text or ("\\" in text and _ESCAPED_OBJECT in text))
    return redact(text, json_keys=json_keys)


def _keep_key(match: re.Match[str]) -> str:
    kind = key_kind(match.group(1))
    if kind is None:
        return match.group(0)
    return f'"{match.group(1)}"{match.group(2)}"{key_marker(kind)}"'


def _redact_keys(text: str) -> str:
    """JSON `text` with the values of every secret key redacted, JSON inside strings included (a
    tool's response is often JSON text). Text that does not parse, or nests deeper than Python's
    recursion (or orjson's 255 levels, to write it back) allow, gets the regex's best guess."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _JSON_FIELD.sub(_keep_key, text)
    try:
        redacted = _redact_value(value)
        return text if redacted is value else orjson.dumps(redacted).decode()
    except (RecursionError, orjson.JSONEncodeError):
        return _JSON_FIELD.sub(_keep_key, text)


def _redact_value(value: Any) -> Any:
    """`value` (parsed JSON) with secret keys' values redacted; the same object when nothing
    changed (the usual case). A container's scalars are looked at in its own loop, not in a call
    each: an agent's history holds thousands of them, and those calls were most of the walk.

    Under a secret key, a string or number is replaced by the marker, and so is every string and
    number inside a list or object (`{"api_key": ["..."]}`); booleans and nulls say nothing."""
    if type(value) is dict:
        return _redact_dict(value)
    if type(value) is list:
        return _redact_list(value)
    if type(value) is str and value[:1] in _MAYBE_JSON and len(value) >= SHORTEST_SECRET:
        return _redact_json_text(value)
    return value


# JSON keys seen to be no secret's: a set lookup costs a third of a cached call, and an agent's
# history repeats a few keys thousands of times. Emptied when it grows past `_HARMLESS_MAX`.
_HARMLESS: set[str] = set()
_HARMLESS_MAX = 4096


def _secret_kind(key: str) -> str | None:
    kind = key_kind(key)
    if kind is None:
        if len(_HARMLESS) >= _HARMLESS_MAX:
            _HARMLESS.clear()
        _HARMLESS.add(key)
    return kind


def _redact_dict(value: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] | None = None
    new: Any
    for key, item in value.items():
        secret = None if key in _HARMLESS else _secret_kind(key)
        kind = type(item)
        if secret is not None:
            if kind is str or kind is int or kind is float:
                new = key_marker(secret)
            elif kind is dict or kind is list:
                new = _marked(item, key_marker(secret))
            else:
                continue  # true, false, null
        elif kind is str:
            if item[:1] not in _MAYBE_JSON or len(item) < SHORTEST_SECRET:
                continue
            new = _redact_json_text(item)
        elif kind is dict:
            new = _redact_dict(item)
        elif kind is list:
            new = _redact_list(item)
        else:
            continue
        if new is not item:
            changed = changed or {}
            changed[key] = new
    return value if changed is None else {**value, **changed}


def _redact_list(value: list[Any]) -> list[Any]:
    items: list[Any] | None = None
    new: Any
    for i, item in enumerate(value):
        kind = type(item)
        if kind is str:
            if item[:1] not in _MAYBE_JSON or len(item) < SHORTEST_SECRET:
                continue
            new = _redact_json_text(item)
        elif kind is dict:
            new = _redact_dict(item)
        elif kind is list:
            new = _redact_list(item)
        else:
            continue
        if new is not item:
            items = items or list(value)
            items[i] = new
    return value if items is None else items


def _marked(value: Any, marker: str) -> Any:
    """`value`, under a secret key, with every string and number in it replaced by `marker`."""
    kind = type(value)
    if kind is dict:
        return {key: _marked(item, marker) for key, item in value.items()}
    if kind is list:
        return [_marked(item, marker) for item in value]
    return marker if kind is str or kind is int or kind is float else value


def _redact_json_text(text: str) -> str:
    """A string that may hold JSON (a tool's response often is JSON text): the key net for it too."""
    if text[:1] not in _JSON_OPENERS and text.lstrip(" \t\r\n")[:1] not in _JSON_OPENERS:
        return text  # whitespace, then no JSON
    redacted = _redact_keys(text)
    return redacted if redacted != text else text


# -- secret-shaped values: a character each secret must contain, its pattern, and its marker ------


_Repl = str | Callable[[re.Match[str]], str]


class _Pattern(Protocol):
    def sub(self, repl: _Repl, string: str) -> str: ...


class _Hinted:
    """A pattern that starts with a character class (scanned at ~7 ns/char), run only on text
    where a literal-led `hint` (~0.5 ns/char) finds a place such a secret must have."""

    __slots__ = ("_hint", "_pattern")

    def __init__(self, hint: str, pattern: str) -> None:
        self._hint = re.compile(hint)
        self._pattern = re.compile(pattern)

    def sub(self, repl: _Repl, string: str) -> str:
        return self._pattern.sub(repl, string) if self._hint.search(string) else string


# A private key's PEM block, BEGIN to END: PKCS#1 (RSA, DSA, EC), PKCS#8 (plain and ENCRYPTED),
# OPENSSH, PGP. Its lines may be broken by newlines, spaces, or JSON escapes at any depth of
# JSON in JSON (`\n`, `\\n`, ...). A block cut short (no END) goes up to where its base64 stops.
# Certificates and public keys are not secrets and are kept.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[A-Z][A-Za-z-]*+:(?:[^\r\n\\\"-]|-(?!-))*+"  # a header line (Proc-Type, DEK-Info, Version)
    r"|[A-Za-z0-9+/=]++"  # base64
    r"|\\++[nrt/]"  # an escaped line break (or slash) in JSON text
    r"|\s++)*+"
    r"(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"
)
# The password of a URL's user info (`scheme://user:password@host`); scheme, user and host stay.
# User info ends at the first `/`, `?` or `#` after `://`, so `https://host/a:b@c` has none; a
# password holding `@` ends at the last `@` before the host (as urllib reads it). A password with
# characters a URL must percent-encode (space, quote, backslash, `/`, `?`, `#`) is not seen.
# (`\x00- ` rather than `\s`: a class of ASCII only is a bitmap, a fifth faster on text full of URLs.)
_URL_PASSWORD = re.compile(r"(://[^\x00- :/?#@\"'<>\\]*+:)[^\x00- /?#\"<>\\]+(?=@)")

_ANTHROPIC, _OPENAI = typed("anthropic_key"), typed("openai_key")


def _provider_key(match: re.Match[str]) -> str:
    return _ANTHROPIC if match.group(1) else _OPENAI


_SHAPES: tuple[tuple[str, _Pattern, _Repl], ...] = (
    # First: base64 in a key's body could look like a later shape, and a marker in it would end the block.
    ("V", _PRIVATE_KEY, typed("private_key")),
    # Anthropic's (`sk-ant-`) and OpenAI's keys, in one pattern: one scan for `sk-`. An OpenAI
    # key's body has a digit among its first 16 characters or none of them is a `-` (a random
    # one misses both about once in 10^7), which keeps `task-oriented-dialogue-system` and
    # `helpdesk-escalation-policy` out.
    (
        "-",
        re.compile(
            r"sk-(?:(ant-)[A-Za-z0-9_-]{16,}"
            r"|(?:proj-|svcacct-|admin-)?(?=[A-Za-z_-]{0,15}[0-9]|[A-Za-z0-9_]{16})[A-Za-z0-9_-]{16,})"
        ),
        _provider_key,
    ),
    ("-", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"), typed("slack_token")),
    ("-", re.compile(r"glpat-[A-Za-z0-9_-]{20,}"), typed("gitlab_token")),  # GitLab personal access tokens
    # GitHub's classic tokens and fine-grained ones (`github_pat_`), in one pattern
    ("_", re.compile(r"g(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{22,})"), typed("github_token")),
    # Hugging Face (`hf_` and 34 letters) and npm (`npm_` and 36) tokens: exactly so long, so that
    # snake_case names that start so (`hf_model_name`) are never taken.
    ("_", re.compile(r"hf_[A-Za-z0-9]{34}(?![A-Za-z0-9])"), typed("huggingface_token")),
    ("_", re.compile(r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), typed("npm_token")),
    ("J", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), typed("jwt")),
    ("K", re.compile(r"AKIA[0-9A-Z]{16}"), typed("aws_access_key")),
    ("@", _URL_PASSWORD, rf"\1{typed('password')}"),
    # Google API keys are 39 characters: a longer run is something else (base64url data).
    ("z", re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), typed("google_api_key")),
    # Stripe secret and restricted keys, live and test (publishable `pk_` keys are public). No
    # word boundary before: in JSON text a key often follows an escape (`\nsk_live_...`).
    ("_", _Hinted(r"k_(?:live|test)_", r"[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"), typed("stripe_key")),
    # Webhook signing secrets: Stripe's, and Svix's (Clerk, Resend, ...) with base64 characters.
    ("_", re.compile(r"whsec_[0-9A-Za-z+/=]{20,}"), typed("webhook_secret")),
    # SendGrid API keys: `SG.`, 22 characters, `.`, 43 characters.
    ("G", re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"), typed("sendgrid_key")),
)
# Each anchor is looked for once, however many shapes share it: every text pays for each look.
_BY_ANCHOR = tuple(
    (anchor, tuple((pattern, marker) for a, pattern, marker in _SHAPES if a == anchor))
    for anchor in dict.fromkeys(a for a, _, _ in _SHAPES)
)
# Bearer tokens (the scheme word is kept)
_BEARER = re.compile(r"([Bb]earer )[A-Za-z0-9._~+/=-]{8,}")
_BEARER_REDACTED = rf"\1{typed('bearer_token')}"

# -- secrets by name in plain text: `?api_key=...`, `x-api-key: ...`, `Authorization: Basic ...` -------

# The last four letters of every word of `_KEY_WORDS`, checked in C right behind the `=` or `:` (or
# behind a closing quote, a space, or a quote escaped once or twice: JSON text inside JSON text):
# a separator behind any other name costs no Python. A lookbehind costs ~0.1 µs, so two classes
# first (a pair of letters that may end a secret word) pass over most names, and a value too short
# to be a secret (`page=2`) is turned down before any lookbehind.
_TAILS = (
    r"(?:.[Kk][Ee][Yy]|[Oo][Kk][Ee][Nn]|[Ww][Oo][Rr][Dd]|[Ss][Ss][Ww][Dd]|[Rr][Aa][Ss][Ee]|[Cc][Rr][Ee][Tt]"
    r"|[Tt][Ii][Aa][Ll]|[Ii][Aa][Ll][Ss]|[Oo][Kk][Ii][Ee]|[Tt][Ii][Oo][Nn])"
)
_PAIR = "[EeOoRrWwSsLlAaIi][YyNnDdEeTtSsLl]"


def _behind(width: int) -> str:
    """Lookbehinds, from `width` characters past the end of a name, that the name ends in a tail."""
    sep = "." * width
    return (
        rf"(?:(?<={_PAIR}{sep})(?<={_TAILS}{sep})"
        rf"|(?<=[ \"']{sep})(?<={_PAIR}[ \"']{sep})(?<={_TAILS}[ \"']{sep})"
        rf"|(?<=\\\"{sep})(?:(?<={_TAILS}\\\"{sep})|(?<={_TAILS}\\\\\\\"{sep})))"
    )


# The value, looked at ahead of the separator: after blanks and an opening quote (escaped or not,
# group 1), a scheme word (`Basic`, `Bearer`, ...) kept, then (at group 2) at least 6 characters
# that are no space, `&` (the next query parameter), quote or backslash (a JSON escape: the text may
# be JSON), so that `password: is never shared` stays prose. Only the separator is matched: a
# name that is no secret's (`sort_key=a;password=...`) leaves its value to be looked at, and no
# attempt reads further than a few characters, so a run of `key=key=...` stays linear.
_VALUE_AHEAD = r"(?=[ \t]*+(\\*+[\"'])?+(?:(?i:basic|bearer|token|digest) ++)?+()[^\s&\"'\\]{6})"
_VALUE = re.compile(r"[^\s&\"'\\]++")
# (`_LONG_ENOUGH` first: cheaper than `_VALUE_AHEAD`, it turns down most `=` of code and URLs)
_LONG_ENOUGH = r"(?=[ \t]*+\\*+[\"']?+[^\s&\"'\\]{5})"
_EQUALS = re.compile(rf"={_LONG_ENOUGH}{_behind(1)}{_VALUE_AHEAD}")
# `:` before a blank or a quote: not `https://`, `:8080`, `10:30`.
_COLON = re.compile(rf":(?=[ \t\"'\\]){_behind(1)}{_VALUE_AHEAD}")
# In JSON text, a `"` right before a `:` ends a key of the JSON itself, which the key net has seen:
# only `: ` (plain text in a string: `x-api-key: ...` in a logged line) and `:\` (JSON text inside
# a string) are looked at, each a two-character literal that `re` scans for at memchr speed, where
# a `:` would stop at every key of compact JSON.
_COLON_BLANK = re.compile(rf": (?<![^\\]\": ){_behind(2)}{_VALUE_AHEAD}")
_COLON_ESCAPE = re.compile(rf":\\{_behind(2)}{_VALUE_AHEAD}")
# A name, read backwards from the separator (a search for one that ends there would try each start).
_NAME_REVERSED = re.compile(r"[A-Za-z0-9_.-]++")
_PUNCTUATION = ".,;"  # ends a sentence or a list, not the value (`api_key=..., and`; `sid=...; theme`)


def _name_kind(text: str, at: int) -> str | None:
    """The key kind of the name that ends right before the separator at `at`, behind a closing
    quote or a blank (the lookbehind saw its letters), None when it is no secret's name."""
    if text[at - 1] in " \"'":
        at -= 1
        while text[at - 1] == "\\":  # `\"name\": \"value\"` in JSON text inside JSON text
            at -= 1
    name = _NAME_REVERSED.match(text[max(0, at - 64) : at][::-1])
    return None if name is None else key_kind(name.group(0)[::-1])


def _sub_named(pattern: re.Pattern[str], text: str) -> str:
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for match in pattern.finditer(text):
        at, start = match.start(), match.start(2)
        if at < done or (kind := _name_kind(text, at)) is None:
            continue
        value = _VALUE.match(text, start)
        if value is None or value.group(0).startswith("[REDACTED:"):
            continue
        kept = value.group(0).rstrip(_PUNCTUATION)
        if len(kept) < 6 or (match.group(1) is None and text[at] == ":" and _is_word(kept)):
            continue  # too short to be a secret, or prose: `your token: expires tomorrow`
        pieces.append(text[done:start])
        pieces.append(key_marker(kind))
        done = start + len(kept)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _is_word(value: str) -> bool:
    return value.isascii() and value.isalpha() and value.islower()


def redact_named(text: str, *, json: bool = False) -> str:
    """`text` with the value of every `name=value` and `name: value` whose name is secret by
    `key_kind` (`?access_token=...&`, `x-api-key: ...`, `Authorization: Basic ...`) replaced
    by the name's marker; the name, and an authorization's scheme word, stay. `json`: `text` is
    JSON text, whose own keys are left to the key net."""
    if "=" in text:
        text = _sub_named(_EQUALS, text)
    if ":" in text:
        if not json:
            return _sub_named(_COLON, text)
        text = _sub_named(_COLON_BLANK, text)
        if "\\" in text:  # one character: `in` runs at memchr speed, a pattern's scan does not
            text = _sub_named(_COLON_ESCAPE, text)
    return text
