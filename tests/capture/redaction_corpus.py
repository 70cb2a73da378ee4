"""A labelled corpus for redaction: every secret kind casebank knows, every PII kind, and near misses.

Each labelled value rides through REAL capture (`casebank.init` into a SQLite store, the OTel
SDK, the openai client against `tests.fakes.FakeLLM`, `@casebank.trace`, `@casebank.tool`,
`casebank.span` events, an exception's message) in every place a trace keeps text: the entry
point's arguments and output, a tool's arguments and result (JSON text, and JSON text inside
it), the LLM's prompt and its answer (text and tool-call arguments), span events and status
descriptions. `score` then reads what the store kept, place by place, and the raw bytes of the
database files: a label is caught in a place when none of its fragments is there and its
marker is; a false positive is a near miss that did not come back verbatim, or a marker of a
kind no label of that place explains.

Shared by `tests/capture/test_redaction_corpus.py` and `benchmarks/faults_redaction.py`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

PII_KINDS = ("email", "phone", "card", "iban")


@dataclass(frozen=True)
class Label:
    kind: str  # the marker's kind: [REDACTED:<kind>]
    value: str  # as it is written in the text
    fragments: tuple[str, ...] = ()  # what must be gone (default: the value itself)
    key: str | None = None  # the key net: the value is written under this JSON key
    form: str = "string"  # under its key as: "string", "number", "list" (of it) or "object" ({"value": it})

    @property
    def gone(self) -> tuple[str, ...]:
        return self.fragments or (self.value,)

    @property
    def pii(self) -> bool:
        return self.kind in PII_KINDS


def _pem(label: str) -> tuple[str, tuple[str, ...]]:
    body = base64.b64encode(bytes((31 * i + 7) % 256 for i in range(256))).decode()
    lines = tuple(body[i : i + 64] for i in range(0, len(body), 64))
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]), lines


_KEY, _KEY_LINES = _pem("OPENSSH PRIVATE KEY")

SECRETS: tuple[Label, ...] = (
    Label("openai_key", "sk-proj-Cb7Qx1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg0Jc"),
    Label("openai_key", "sk-Cb7Qx1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg0JcLegacy4X8b1N2m3"),
    Label("anthropic_key", "sk-ant-api03-Cb7Ant1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg0Jc-AbCd_EfGh"),
    Label("slack_token", "xoxb-2741093358-5512984417-Cb7SlackTok9Rt4Vw"),
    Label("github_token", "ghp_Cb7GitHub1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg0Jc"),
    Label("github_token", "github_pat_11ACB7GH0_Cb7FineGrained9Rt4Vw2Zy8Np5Ks3"),
    Label("gitlab_token", "glpat-Cb7GitLab1Lm9Rt4Vw2Z"),
    Label("huggingface_token", "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"),
    Label("npm_token", "npm_Cb7Npm1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg0JcAbC"),
    Label("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXNlYmFuay1jb3JwdXMifQ.Cb7JwtSig1Lm9Rt4Vw2Zy8Np5"),
    Label("aws_access_key", "AKIACB7Q1LM9RT4VW2ZY"),
    Label("password", "postgres://app:Cb7DsnPass1Lm9@db.internal:5432/prod", ("Cb7DsnPass1Lm9",)),
    Label("google_api_key", "AIzaSyCb7Google1Lm9Rt4Vw2Zy8Np5Ks3Hd6Fg"),
    Label("stripe_key", "sk_live_Cb7Stripe1Lm9Rt4Vw2Zy8Np5"),
    Label("stripe_key", "rk_test_Cb7Restrict1Lm9Rt4Vw2Zy8"),
    Label("webhook_secret", "whsec_Cb7Webhook1Lm9Rt4Vw2Zy8Np5Ks3"),
    Label("sendgrid_key", "SG.Cb7SendGrid1Lm9Rt4Vw2x.Zy8Np5Ks3Hd6Fg0JcAbCdEfGhIjKlMnOpQrStUvWxYz"),
    Label("bearer_token", "Bearer Cb7BearerTok1Lm9Rt4", ("Cb7BearerTok1Lm9Rt4",)),
    Label("private_key", _KEY, _KEY_LINES),
    # Secrets by name in plain text: a query string, a header line, an env file; the name stays.
    Label("token", "GET /v1/me?access_token=Cb7Query1Lm9Rt4Vw&page=2", ("Cb7Query1Lm9Rt4Vw",)),
    Label("api_key", "x-api-key: Cb7Header1Lm9Rt4Vw", ("Cb7Header1Lm9Rt4Vw",)),
    Label("authorization", "Authorization: Basic Q2I3QmFzaWMxTG05UnQ0Vnc=", ("Q2I3QmFzaWMxTG05UnQ0Vnc=",)),
    Label("authorization", "AUTHORIZATION: BEARER Cb7CapsBearer1Lm9Rt4", ("Cb7CapsBearer1Lm9Rt4",)),
    Label("secret", "SECRET_KEY=Cb7EnvSecret1Lm9Rt4", ("Cb7EnvSecret1Lm9Rt4",)),
)
# The key net: values that look like nothing, under keys that say what they are.
KEYED: tuple[Label, ...] = (
    Label("api_key", "plain-Cb7KeyNet-api", key="api_key"),
    Label("authorization", "Basic Cb7KeyNetAuthz", key="Authorization"),
    Label("password", "Cb7KeyNet-hunter2", key="password"),
    Label("secret", "Cb7KeyNet-client-secret", key="client_secret"),
    Label("token", "Cb7KeyNet-refresh", key="refresh_token"),
    Label("cookie", "sid=Cb7KeyNetCookie", key="cookie"),
    Label("secret", "Cb7KeyNet-aws-secret", key="aws_secret_access_key"),
    Label("secret", "Cb7KeyNet-django", key="SECRET_KEY"),
    Label("private_key", "Cb7KeyNet-private", key="private_key"),
    Label("api_key", "Cb7KeyNet-access", key="access_key"),
    Label("password", "Cb7KeyNet-passphrase", key="passphrase"),
    Label("secret", "Cb7KeyNet-credentials", key="credentials"),
    # Values that are no strings: a number, and strings inside a list or an object.
    Label("password", "44170042917", key="pin_password", form="number"),
    Label("api_key", "Cb7KeyNet-listed", key="service_api_key", form="list"),
    Label("secret", "Cb7KeyNet-nested", key="secret", form="object"),
)
# Near misses of the key net: names that are no secrets, written beside the labels, kept as they are.
KEPT_UNDER_KEYS: dict[str, Any] = {
    "key": "Cb7Kept-key",
    "primary_key": "Cb7Kept-primary",
    "sort_key": "Cb7Kept-sort",
    "cache_key": "Cb7Kept-cache",
    "public_key": "Cb7Kept-public",
    "access_key_id": "Cb7Kept-access-id",
    "keyboard": "Cb7Kept-keyboard",
    "monkey": "Cb7Kept-monkey",
    "max_tokens": 4417512,
    "input_tokens": 4417513,
    "token_count": 4417514,
}
PII: tuple[Label, ...] = (
    Label("email", "jane.doe+billing@example-mail.co.uk"),
    Label("email", "bob_smith99@corp.example.com"),
    # RFC 6531: letters of any script, and `'`; all of the local part goes, not what follows `ç`
    Label("email", "josé@correo.es", ("josé", "jos[REDACTED")),
    Label("email", "françois.dupont@example.fr", ("franç",)),
    Label("email", "o'brien@example.ie", ("o'brien", "o'[REDACTED")),
    Label("phone", "+44 7700 900123"),
    Label("phone", "+1 (415) 555-0132"),
    Label("phone", "+4915112345678"),
    Label("phone", "(415) 555-0199"),
    Label("phone", "415-555-0123"),
    Label("phone", "020 7946 0958"),
    Label("phone", "06 12 34 56 78"),
    Label("card", "4111 1111 1111 1111"),
    Label("card", "5555-5555-5555-4444"),
    Label("card", "378282246310005"),
    Label("card", "3782 822463 10005"),
    Label("card", "6011000990139424"),
    Label("iban", "DE89 3704 0044 0532 0130 00"),
    Label("iban", "GB29NWBK60161331926819"),
    Label("iban", "FR14 2004 1010 0505 0001 3M02 606"),
    Label("iban", "NL91ABNA0417164300"),
    Label("iban", "de89 3704 0044 0532 0130 00"),  # as people type them
    Label("iban", "gb29nwbk60161331926819"),
)
SHAPED = SECRETS + PII  # found by their shape, in any text
# Ordinary text that must come back verbatim, much of it close to a labelled shape.
NEAR_MISSES: tuple[str, ...] = (
    "order ORD-2024-118822",
    "order #123456789",
    "invoice 2024-000417",
    "550e8400-e29b-41d4-a716-446655440000",
    "2024-12-07",
    "2024-12-07T10:30:00Z",
    "07.12.2024 10:30",
    "12:03:08",
    "v1.2.3",
    "version 10.4.1205",
    "build 10.415.555.0100",
    "release 2023.11.07.1",
    "tracking 1Z999AA10123456784",
    "tracking 9400 1000 0000 0000 0000 00",
    "FedEx 7489 1234 5678",
    "4111 1111 1111 1112",
    "5555555555554445",
    "DE89 3704 0044 0532 0130 01",
    "GB00NWBK60161331926819",
    "de89 3704 0044 0532 0130 01",
    "gb00nwbk60161331926819",
    "es12 with some more text here and then",
    "sha 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "ae598e95dc970b74767f193",
    "pk_live_51H8xYzAbCdEfGhIjKlMnOpQr",
    "the task-oriented-dialogue-system",
    "helpdesk-escalation-policy",
    "hf_model_name",
    "lodash@4.17.21",
    "@support-team",
    "ISBN 978-3-16-148410-0",
    "192.168.10.254",
    "$1,234,567.89",
    "epoch 1733572988123",
    "ns 1733572988123456789",
    "SKU-4411-2231-0098",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "+15% more",
    "the Bearer scheme",
    "AKIA alone",
    "PRIVATE KEY in Vault",
    "max_tokens 4096",
    "max_tokens=512",
    "token_count: 12",
    "keyboard: us",
    "api_version=2024-02-01",
    "sort_key=created_at",
    "the password: is never shared",
    "your token: expires tomorrow",
    "Authorization: Basic",
    "the BEARER scheme",
)


def prose(labels: Sequence[Label] = SHAPED) -> str:
    """Ordinary text holding every labelled value and every near miss, one item a line part."""
    items = [f"item {i}: {label.value}" for i, label in enumerate(labels)]
    items += [f"note {i}: {text}" for i, text in enumerate(NEAR_MISSES)]
    return " | ".join(items) + " | end"


def _under_key(label: Label) -> Any:
    if label.form == "number":
        return int(label.value)
    if label.form == "list":
        return [label.value]
    if label.form == "object":
        return {"value": label.value, "more": [label.value]}
    return label.value


def keyed(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON object with every key-net label under its key, the near misses of the key net, and
    the prose beside them."""
    labels = {label.key: _under_key(label) for label in KEYED if label.key}
    return {**labels, **KEPT_UNDER_KEYS, "notes": prose(), **(extra or {})}


def as_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """`values` as OpenTelemetry attribute values: an object becomes its JSON text."""
    return {k: orjson.dumps(v).decode() if isinstance(v, dict) else v for k, v in values.items()}


# -- the run: real capture into a real store -----------------------------------------------------------


@dataclass
class Captured:
    places: dict[str, str]  # where a trace keeps text -> the stored text there (JSON text for JSON)
    raw: bytes  # every byte of the store's files
    keyed_places: frozenset[str]  # places whose text holds the key-net labels
    label_counts: dict[str, int] = field(default_factory=dict)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def run_capture(db_path: Path, *, redact: Sequence[str | Callable[[str], str]] = ("pii",)) -> Captured:
    """Every label through real capture into the SQLite store at `db_path`; what the store kept."""
    import openai

    import casebank
    from casebank.store import open_store
    from tests.fakes import API_KEY, FakeLLM, Reply, ToolCall

    text = prose()
    casebank.init(db_path, redact=list(redact), instrument=["openai"])
    ids: list[str | None] = []
    try:
        with FakeLLM() as llm, openai.OpenAI(api_key=API_KEY, base_url=llm.openai_url, max_retries=0) as client:
            llm.reply = Reply(
                text=f"Here is what I found. {text}", tool_calls=[ToolCall(name="lookup", arguments=keyed())]
            )

            @casebank.tool
            def lookup(customer: dict[str, Any]) -> str:
                # JSON text, with JSON text inside it: tools often answer so
                return orjson.dumps(keyed({"inner": orjson.dumps(keyed()).decode()})).decode()

            @casebank.trace
            def support(question: str, account: dict[str, Any]) -> dict[str, Any]:
                ids.append(casebank.current_trace_id())
                result = lookup(account)
                with casebank.span("audit", note=text) as step:
                    from opentelemetry import trace

                    trace.get_current_span().add_event("checked", as_attributes(keyed()))
                    step.set_result({"ok": True})
                call = {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": orjson.dumps(account).decode()},
                }
                messages: Any = [
                    {"role": "system", "content": f"Context: {text}"},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": None, "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": "c1", "content": result},
                ]
                answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
                return keyed({"answer": answer.choices[0].message.content or ""})

            @casebank.trace
            def connect(target: str) -> None:
                ids.append(casebank.current_trace_id())
                raise ConnectionError(f"cannot reach the service: {text}")

            support(text, keyed({"raw": orjson.dumps(keyed()).decode()}))
            try:
                connect("db")
            except ConnectionError:
                pass
    finally:
        casebank.flush()
        casebank.shutdown()
    raw = b"".join(path.read_bytes() for path in sorted(db_path.parent.glob(db_path.name + "*")))
    with open_store(db_path, create=False) as store:
        trace, failed = store.get_trace(ids[0] or ""), store.get_trace(ids[1] or "")
        spans = {s["name"]: s for s in store.trace_spans(ids[0] or "")}
        failed_span = store.trace_spans(ids[1] or "")[0]
    assert trace is not None and failed is not None
    chat = spans["chat gpt-4o-mini"]["attributes"]
    tool = spans["execute_tool lookup"]["attributes"]
    audit = spans["audit"]
    places = {
        "entry-point arguments": _json_text(trace.input),
        "entry-point output": _json_text(trace.output),
        "tool arguments": _json_text(tool["casebank.step.arguments"]),
        "tool result": _json_text(tool["casebank.step.result"]),
        "span arguments": _json_text(audit["attributes"]["casebank.step.arguments"]),
        "span event": _json_text(audit["events"]),
        "LLM prompt": _json_text(chat["gen_ai.input.messages"]),
        "LLM output": _json_text(chat["gen_ai.output.messages"]),
        "error": failed.error or "",
        "status description": failed_span["status_message"] or "",
    }
    keyed_places = frozenset(
        {
            "entry-point arguments",
            "entry-point output",
            "tool arguments",
            "tool result",
            "span event",
            "LLM prompt",  # the tool call's arguments and the tool's answer are in it
            "LLM output",
        }
    )
    return Captured(places=places, raw=raw, keyed_places=keyed_places)


# -- the score -----------------------------------------------------------------------------------------

_MARKER = re.compile(r"\[REDACTED:([a-z_]+)\]")


@dataclass
class Score:
    secrets_caught: int = 0
    secrets_total: int = 0
    pii_caught: int = 0
    pii_total: int = 0
    false_positives: int = 0
    missed: list[str] = field(default_factory=list)  # "place: kind value"
    wrong: list[str] = field(default_factory=list)  # "place: what"

    @property
    def secret_recall(self) -> float:
        return self.secrets_caught / self.secrets_total if self.secrets_total else 1.0

    @property
    def pii_recall(self) -> float:
        return self.pii_caught / self.pii_total if self.pii_total else 1.0


def _unescaped(text: str) -> str:
    # JSON text inside JSON text escapes quotes and backslashes once a level; a fragment is plain
    return text.replace("\\\\", "\\").replace('\\"', '"')


def score(captured: Captured) -> Score:
    result = Score()
    for place, text in captured.places.items():
        plain = _unescaped(_unescaped(text))
        labels = SHAPED + (KEYED if place in captured.keyed_places else ())
        kinds = {label.kind for label in labels}
        for label in labels:
            caught = not any(fragment in plain for fragment in label.gone) and f"[REDACTED:{label.kind}]" in plain
            if label.pii:
                result.pii_total += 1
                result.pii_caught += caught
            else:
                result.secrets_total += 1
                result.secrets_caught += caught
            if not caught:
                result.missed.append(f"{place}: {label.kind} {label.value[:40]!r}")
        for near in NEAR_MISSES:
            if near not in plain:
                result.false_positives += 1
                result.wrong.append(f"{place}: near miss {near!r} was changed")
        for key, kept in KEPT_UNDER_KEYS.items() if place in captured.keyed_places else ():
            if str(kept) not in plain:
                result.false_positives += 1
                result.wrong.append(f"{place}: the value under {key!r} was changed")
        for kind in set(_MARKER.findall(plain)) - kinds:
            result.false_positives += 1
            result.wrong.append(f"{place}: a [REDACTED:{kind}] no label explains")
    for label in SHAPED + KEYED:  # and nowhere in the files, whatever the place
        leaked = [fragment for fragment in label.gone if fragment.encode() in captured.raw]
        if label.pii:
            result.pii_total += 1
            result.pii_caught += not leaked
        else:
            result.secrets_total += 1
            result.secrets_caught += not leaked
        if leaked:
            result.missed.append(f"store files: {label.kind} fragment {leaked[0][:40]!r}")
    return result
