"""Opt-in PII redaction: e-mail addresses, phone numbers, card numbers and IBANs, and a team's own.

`casebank.init(redact=["email", "phone", "card", "iban"])` (`"pii"`: all four) or the project
config's `redact` switches them on; `redact=` also takes callables (`str -> str`), a team's
own. They run after the secret nets (`_redact.py`), on the same thread (the store writer, the
export thread, the server's ingest), on every string attribute value: for values that are JSON
(the entry point's input and output, a tool's arguments and result, the LLM messages), on the
JSON text, where a pattern finds an address or number inside any string at any depth.

Each kind is a cheap gate and a linear pattern, plus a check that keeps look-alikes:
- email: only text holding `@`; the pattern starts at the `@` (a literal, scanned at memchr
  speed) and needs a dotted domain with a letters-only top level; the local part is read
  backwards from there, at most 64 characters (RFC 5321's limit), letters of any script and `'`
  among them (RFC 6531: `josé@`, `o'brien@`), never the letter of a JSON escape before it (`\n`).
- phone: `+` and a country code with 8 to 15 digits in all (E.164), or a national number
  written with separators: `(415) 555-0100`, `415-555-0100`, `020 7946 0958`, `06 12 34 56 78`
  (a trunk `0` and one separator throughout, so `07.12.2024 10:30` is a date, not a number).
  Digits alone are never taken for a phone number: order numbers, tracking numbers, timestamps.
- card: 13 to 19 digits starting 2-6 (the card networks' ranges), plain or in groups of four
  (4-6-5 and 4-6-4 too), passing the Luhn check.
- iban: a country's two letters (a known country, at its IBAN length), two check digits and the
  account, plain or in groups of four, in capitals or not (people type `de89 3704 ...`),
  passing the ISO 13616 mod-97 check.
Numbers stand alone: a digit, letter, `-`, `.` or `/` right before or after one means it is part
of something else (a UUID, a version, a longer id).

Cost: card, phone and IBAN patterns start with a character class and have groups, so `re` tries
them at every digit - ~10 ns a character on text full of dates and ids. Instead, the text is
mapped once to a byte "shape" (`_shape`: digits `0`, letters `A`, separators `-`; C speed), and
patterns that start with a literal (`0000`, `000`, `AA00`) and repeat one character class find
the few runs long enough to be such a number; the precise pattern runs only inside those, and
text with fewer than `_MIN_DIGITS` digits skips all three. On 2 KB (`faults_redaction.py`):
prose +3 µs over the secret nets, chat JSON full of dates and order numbers +40 µs.

A team callable that raises (or returns no string, or breaks the JSON text of a value that is
JSON) leaves the value as it was before it, is counted (`Redactor.errors`) and logged once:
capture never stops for it, and the store never keeps a JSON value that does not parse.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence

import orjson

from casebank._config_file import PII_ALL, PII_NAMES
from casebank.capture._redact import typed

__all__ = ["PII_ALL", "PII_NAMES", "Redactor", "redact_pii", "redactor"]

logger = logging.getLogger("casebank")


# -- email ---------------------------------------------------------------------------------------

# From the `@`: labels ending in a dot, then a top-level domain of letters. A sentence's full stop
# after the address gives back one label (at most as many steps as the domain has labels).
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]*+\.)+[A-Za-z]{2,63}+(?![A-Za-z0-9-])")
# The local part: letters of any script (RFC 6531: `josé@`, `françois.dupont@`), digits and
# `_%+-.'` (`o'brien@`), not starting with `.` or `'`. Scripts written without spaces (Chinese,
# Japanese, Thai, ...) are left out: there the words before an address would be taken with it.
_LOCAL_LETTER = (
    r"[^\W\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)
_EMAIL_LOCAL = re.compile(rf"(?:{_LOCAL_LETTER}|[%+-])(?:{_LOCAL_LETTER}|[.%+'-]){{0,63}}+\Z")
_EMAIL = typed("email")


def _escaped(text: str, i: int) -> bool:
    """Whether `text[i]` follows an escaping backslash (an odd run of them): in JSON text, `\n`
    before `bob@example.com` is a newline, and `n` no part of the address."""
    run = 0
    while i - run > 0 and text[i - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _local_start(text: str, start: int, at: int) -> int:
    """Where the local part found at `start` begins once an escape before it (`\n`, `\u00e9`) is
    left out, so that the marker never takes an escape's letter and breaks JSON text; -1 if none is left."""
    if start == 0 or text[start - 1] != "\\" or not _escaped(text, start):
        return start
    start += 5 if text[start] == "u" else 1
    return start if start < at and _EMAIL_LOCAL.match(text, start, at) else -1


def redact_emails(text: str) -> str:
    if "@" not in text:
        return text
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        local = _EMAIL_LOCAL.search(text, max(done, at - 64), at)
        if local is None or (start := _local_start(text, local.start(), at)) < 0:
            continue
        pieces.append(text[done:start])
        pieces.append(_EMAIL)
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# -- numbers: a standalone check shared by phone, card and IBAN ----------------------------------

_GLUED_BEFORE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-./+")
_GLUED_AFTER = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-/")


def _free_before(text: str, start: int) -> bool:
    # A JSON escape (`\n`, `\t`) before a number is a line break or a tab, not a glued letter.
    if start == 0 or text[start - 1] not in _GLUED_BEFORE:
        return True
    return text[start - 1] in "bfnrt" and text[start - 2 : start - 1] == "\\" and _escaped(text, start - 1)


def _free_after(text: str, end: int) -> bool:
    if end >= len(text):
        return True
    after = text[end]
    # `.` ends a sentence, but `1.5` continues a number
    return after not in _GLUED_AFTER and not (after == "." and text[end + 1 : end + 2].isdigit())


def _stands_alone(text: str, start: int, end: int) -> bool:
    return _free_before(text, start) and _free_after(text, end)


_MIN_DIGITS = 8  # fewer digits in a text than any phone number, card or IBAN holds


def _shape_table() -> bytes:
    table = bytearray(b"_" * 256)
    for byte in range(256):
        char = chr(byte)
        if "0" <= char <= "9":
            table[byte] = ord("0")
        elif "A" <= char <= "Z" or "a" <= char <= "z":
            table[byte] = ord("A")
        elif char in " .-":
            table[byte] = ord("-")
        elif char in "()+":
            table[byte] = byte
    return bytes(table)


_SHAPE = _shape_table()


def _shape(text: str) -> bytes:
    """`text` as one byte a character: digits `0`, ASCII letters `A`, separators (space, `.`, `-`) `-`,
    `(`, `)`, `+` as they are, anything else `_` (beyond Latin-1 too, so positions stay)."""
    return text.encode("latin-1", "replace").translate(_SHAPE)


def _sub_in(
    text: str,
    candidates: re.Pattern[bytes],
    precise: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
    min_digits: int = _MIN_DIGITS,
    separated: bool = False,
    shape: bytes | None = None,
) -> str:
    """`precise.sub(repl, text)`, run only inside the places `candidates` finds in the text's shape
    that hold at least `min_digits` digits (and, if `separated`, a separator between two digits).

    A pattern that starts with a character class and has groups costs ~10 ns a character on text
    full of numbers (dates, ids, counts), as it is tried at each digit; the candidates start
    with a literal and repeat one character class (which `re` runs in C without backtracking),
    and a run too short or with too few digits costs a count, not a match. `shape`: `_shape(text)`,
    when the caller has it."""
    if shape is None:
        shape = _shape(text)
    if shape.count(b"0") < min_digits:
        return text
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for candidate in candidates.finditer(shape):
        start, end = candidate.span()
        if shape.count(b"0", start, end) < min_digits or (separated and shape.find(b"-0", start, end) < 0):
            continue
        if not _free_before(text, start):
            # Glued to what comes before (`ORD-2024-118822`): inside the run, a number that
            # stands alone can only start after a space.
            start = text.find(" ", start, end) + 1
            if start == 0:
                continue
        for match in precise.finditer(text, max(done, start), end):
            new = repl(match)
            if new != match.group(0):
                pieces.append(text[done : match.start()])
                pieces.append(new)
                done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


# -- phone ---------------------------------------------------------------------------------------

_PHONE_INTERNATIONAL = re.compile(r"\+[1-9]\d*+(?:[ .-]?+\(?\d++\)?)*+")
_PHONE_NATIONAL = re.compile(
    r"\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (415) 555-0100, (020) 7946 0958
    r"|[2-9]\d{2}([ .-])\d{3}\1\d{4}"  # 415-555-0100, 415.555.0100, 415 555 0100
    r"|0\d{1,4}([ .-])\d{2,4}(?:\2\d{2,4}){1,3}"  # 020 7946 0958, 06 12 34 56 78, 030-1234-5678
)
_PHONE = typed("phone")


def _international(match: re.Match[str]) -> str:
    found = match.group(0).rstrip(" .-(")
    end = match.start() + len(found)
    if 8 <= len(_digits(found)) <= 15 and _stands_alone(match.string, match.start(), end):
        return _PHONE + match.group(0)[len(found) :]
    return match.group(0)


def _national(match: re.Match[str]) -> str:
    n = len(_digits(match.group(0)))
    if 9 <= n <= 12 and _stands_alone(match.string, match.start(), match.end()):
        return _PHONE
    return match.group(0)


# Runs of digits and separators that start with three digits and have a group of three after a
# separator (not `2024-12-07`), or five pairs (France), or an area code in parentheses: three
# patterns, so that each starts with a literal of its own.
_PHONE_CANDIDATES = re.compile(rb"000[0-]{0,6}-000[0-]*+")
_PHONE_PAIRS_CANDIDATES = re.compile(rb"00-00-00-00-00")
_PHONE_AREA_CANDIDATES = re.compile(rb"\(0{2,5}\)[0-]{6,}+")


def redact_phones(text: str, shape: bytes | None = None) -> str:
    if "+" in text:
        text, n = _PHONE_INTERNATIONAL.subn(_international, text)
        shape = None if n else shape  # a changed text has a shape of its own
    for candidates in (_PHONE_AREA_CANDIDATES, _PHONE_PAIRS_CANDIDATES, _PHONE_CANDIDATES):
        if candidates is _PHONE_AREA_CANDIDATES and "(" not in text:
            continue
        shape = _shape(text) if shape is None else shape
        new = _sub_in(text, candidates, _PHONE_NATIONAL, _national, 9, candidates is _PHONE_CANDIDATES, shape)
        shape, text = (shape if new is text else None), new
    return text


# -- card ----------------------------------------------------------------------------------------

_CARD = re.compile(
    r"[2-6]\d{3}(?:\d{9,15}"  # plain
    r"|([ -])\d{4}\1\d{4}\1\d{1,4}"  # 4-4-4-4 (13 to 16 digits)
    r"|([ -])\d{6}\2\d{4,5})"  # 4-6-5 (Amex), 4-6-4 (Diners)
)
_CARD_MARKER = typed("card")
_GROUP_BEFORE = re.compile(r"[0-9A-Z][ -]\Z")
_GROUP_AFTER = re.compile(r"[ -][0-9]")


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = _digits(match.group(0))
    text, start, end = match.string, match.start(), match.end()
    if 13 <= len(digits) <= 19 and luhn(digits) and _stands_alone(text, start, end):
        # Groups that go on before or after (`DE89 3704 0044 ...`) are a longer number's.
        plain = match.group(1) is None and match.group(2) is None
        if plain or not (_GROUP_BEFORE.search(text, max(0, start - 2), start) or _GROUP_AFTER.match(text, end)):
            return _CARD_MARKER
    return match.group(0)


_CARD_CANDIDATES = re.compile(rb"0000[0-]{9,}+")  # every format starts with four digits


def redact_cards(text: str, shape: bytes | None = None) -> str:
    return _sub_in(text, _CARD_CANDIDATES, _CARD, _card, 13, shape=shape)


# -- IBAN ----------------------------------------------------------------------------------------

# ISO 13616 lengths, by country (SWIFT's IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN = re.compile(r"[A-Z]{2}\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?", re.IGNORECASE)
_IBAN_MARKER = typed("iban")


def iban_valid(iban: str) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10-35, mod 97 is 1."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    found = match.group(0)
    length = IBAN_LENGTHS.get(found[:2].upper())
    if length is None or not _free_before(match.string, match.start()):
        return found
    # The pattern may run on into a following group: take the country's length, no more.
    iban = found.replace(" ", "")[:length].upper()
    if len(iban) < length:
        return found
    end = taken = 0
    while taken < length:
        taken += found[end] != " "
        end += 1
    if not iban_valid(iban) or not _free_after(match.string, match.start() + end):
        return found
    rest = found[end:]
    return _IBAN_MARKER + rest


_IBAN_CANDIDATES = re.compile(rb"AA00[A0-]{11,}+")


def redact_ibans(text: str, shape: bytes | None = None) -> str:
    return _sub_in(text, _IBAN_CANDIDATES, _IBAN, _iban, shape=shape)


# -- the redactor init and the server run --------------------------------------------------------

BUILT_IN: dict[str, Callable[..., str]] = {
    "email": redact_emails,
    "iban": redact_ibans,  # before card and phone, whose patterns could take a run of its digits
    "card": redact_cards,
    "phone": redact_phones,
}
_ORDER = tuple(BUILT_IN)
_NUMBERS = frozenset(("iban", "card", "phone"))  # each needs _MIN_DIGITS digits in the text
_SHORTEST_PII = 6  # a@b.co


def redact_pii(text: str, names: Iterable[str] = PII_NAMES) -> str:
    """`text` with the PII of the kinds `names` replaced by `[REDACTED:email]` and so on."""
    wanted = set(names)
    for name in _ORDER:
        if name in wanted:
            text = BUILT_IN[name](text)
    return text


class Redactor:
    """The redaction `init(redact=[...])` adds: the built-ins it names, then the team's callables."""

    def __init__(self, built_in: Sequence[str], custom: Sequence[Callable[[str], str]]) -> None:
        self.names = tuple(name for name in _ORDER if name in built_in)
        self._built_in = tuple((name in _NUMBERS, BUILT_IN[name]) for name in self.names)
        self._custom = tuple(custom)
        self.errors = 0  # team callables that raised, returned no string or broke a JSON value
        self._lock = threading.Lock()

    def __call__(self, text: str) -> str:
        return self._apply(text, json=False)

    def keeping_json(self, text: str) -> str:
        """`self(text)` for a value that is JSON text (the entry point's input and output, a tool's
        arguments and result, the LLM messages): a team callable whose result no longer parses
        (one that swaps `"` for `'`) is a failure, and the value stays as it was before it, so
        that what the store keeps still reads. The parse runs on the writer's thread."""
        return self._apply(text, json=True)

    def _apply(self, text: str, *, json: bool) -> str:
        if len(text) >= _SHORTEST_PII:
            shape: bytes | None = None  # made once for the three number redactors, while the text stays
            for number, redact in self._built_in:
                if not number:
                    text = redact(text)
                    continue
                if shape is None:
                    shape = _shape(text)
                    if shape.count(b"0") < _MIN_DIGITS:
                        break  # the number redactors come last
                new = redact(text, shape)
                if new is not text:
                    text, shape = new, None
        for custom in self._custom:
            try:
                changed = custom(text)
            except Exception as exc:
                self._failed(custom, f"raised {exc!r}")
                continue
            if type(changed) is not str:
                self._failed(custom, f"returned {type(changed).__name__}, not str")
                continue
            if json and changed != text and not _parses(changed) and _parses(text):
                self._failed(custom, "returned text that is no longer JSON, for a JSON value")
                continue
            text = changed
        return text

    def _failed(self, custom: Callable[[str], str], why: str) -> None:
        with self._lock:
            self.errors += 1
            first = self.errors == 1
        if first:  # the value stays as the built-ins left it; capture goes on
            name = getattr(custom, "__qualname__", repr(custom))
            logger.warning("casebank: redactor %s %s - the value was kept as the built-in redactors left it", name, why)


def _parses(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def redactor(items: Iterable[str | Callable[[str], str]] | None) -> Redactor | None:
    """The Redactor for `init(redact=items)` or the config's `redact`; None when it has nothing to do.

    Unknown names are left out with one warning naming them and the valid ones."""
    if not items:
        return None
    if isinstance(items, str):  # redact="pii" for redact=["pii"]
        items = [items]
    names: list[str] = []
    custom: list[Callable[[str], str]] = []
    unknown: list[str] = []
    for item in items:
        if callable(item):
            custom.append(item)
        elif item == PII_ALL:
            names.extend(PII_NAMES)
        elif item in PII_NAMES:
            names.append(item)
        else:
            unknown.append(repr(item))
    if unknown:
        logger.warning(
            "casebank: redact %s: no such redactor - valid: %s, or a callable (str -> str)",
            ", ".join(unknown),
            ", ".join((*PII_NAMES, PII_ALL)),
        )
    if not names and not custom:
        return None
    return Redactor(names, custom)
