"""Redaction figures (issue 18): recall and false positives on the labelled corpus, and the cost of PII.

The corpus (`tests/capture/redaction_corpus.py`, the one the tests hold at 100% and 0) goes through
real capture - `casebank.init(redact=["pii"])` into a SQLite store, the openai client against the
loopback fake, `@casebank.tool`, `@casebank.trace`, span events, an exception - in a child
process, so that a caller that already captures (`bench_faults.py`) does not change the run.
Then the store is read: a labelled value counts as caught in a place when none of it is left
there and its typed marker is, and in the store's files when no byte of it is anywhere.

Cost: the writer's redaction of one 2 KB value - a chat's messages JSON (`redact_messages`), a
tool's JSON result (`redact`, with the key net) and prose - with the secret nets only, and with
the four PII redactors added; the ratio is on/off. Text full of numbers (dates, order ids,
tracking numbers) is the dear case for the number redactors, so the chat and the tool result
hold many. CPU time of this process (`time.process_time`), best of several repeats: the machine
may be shared, and waiting for a core is not redaction's cost.

`figures()` returns (name, value, target) rows for `bench_faults.py`; run alone, it prints them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # casebank and tests.capture.redaction_corpus, run from anywhere

_CORPUS_RUN = """
import json, sys
from pathlib import Path
from tests.capture.redaction_corpus import KEYED, PII, SECRETS, run_capture, score
result = score(run_capture(Path(sys.argv[1]) / "corpus.db", redact=["pii"]))
print(json.dumps({
    "secrets": len(SECRETS) + len(KEYED), "pii": len(PII),
    "secrets_caught": result.secrets_caught, "secrets_total": result.secrets_total,
    "pii_caught": result.pii_caught, "pii_total": result.pii_total,
    "false_positives": result.false_positives, "missed": result.missed, "wrong": result.wrong,
}))
"""


def corpus_scores() -> dict[str, object]:
    """The corpus through real capture in a child process, scored."""
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEBANK_", "OTEL_"))}
        env["PYTHONPATH"] = str(ROOT)
        proc = subprocess.run(
            [sys.executable, "-c", _CORPUS_RUN, folder],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the corpus run failed:\n{proc.stderr[-2000:]}")
    scores: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return scores


def _texts() -> dict[str, tuple[str, bool]]:
    """2 KB samples: name -> (text, whether it goes through the key net as JSON)."""
    import orjson

    turn = [
        {
            "role": "user",
            "parts": [
                {
                    "type": "text",
                    "content": "Hi, order ORD-2024-118822 placed 2024-12-07T10:30:00Z "
                    "has not arrived; tracking 1Z999AA10123456784, app v1.2.3.",
                }
            ],
        },  # fmt: skip
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "text",
                    "content": "Sorry! Order 118822 shipped on 2024-12-05, due "
                    "2024-12-09, parcel 3 of 4, 12.5 kg. Anything else?",
                }
            ],
        },  # fmt: skip
    ]
    messages: list[object] = []
    while len(orjson.dumps(messages)) < 2048:
        messages += turn
    rows = []
    while len(orjson.dumps(rows)) < 2048:
        n = len(rows)
        rows.append(
            {"id": 4400 + n, "sku": f"SKU-{4411 + n}-2231", "qty": n % 5, "at": f"2024-12-0{n % 9 + 1}T08:00:00Z"}
        )
    prose = ("Thanks for reaching out about your delivery. We looked into it and the parcel left our warehouse "
             "yesterday; it should reach you within two working days. ") * 12  # fmt: skip
    # A user who pastes JSON: the key net parses the messages (their text parts are not otherwise looked at).
    pasted = [{"role": "user", "parts": [{"type": "text", "content": orjson.dumps(rows[:3]).decode()}]}, *messages]
    # Log lines and settings: separators (`=`, `: `) everywhere, for the net of secrets by name.
    log = ("2024-12-07T10:30:00Z GET /api/v1/orders?page=2&limit=50&sort=created_at status=200 took=12ms\n"
           "Content-Type: application/json\nregion: eu-west-1\ntimeout: 30\n"
           "retries=3 session=4411 user_id=9\n") * 12  # fmt: skip
    return {
        "chat messages JSON": (orjson.dumps(messages).decode()[: 1 << 20], False),
        "chat messages JSON, a part is JSON text": (orjson.dumps(pasted).decode(), False),
        "tool result JSON": (orjson.dumps(rows).decode(), True),
        "prose": (prose[:2048], False),
        "log lines and settings": (log[:2048], True),
    }


def costs() -> list[tuple[str, float, float]]:
    """(sample, µs per 2 KB with the secret nets only, µs per 2 KB with the PII redactors too)."""
    from casebank.capture._pii import redactor
    from casebank.capture._redact import redact, redact_messages

    pii = redactor(["pii"])
    assert pii is not None
    out = []
    for name, (text, keyed) in _texts().items():
        scale = 2048 / len(text)

        def off(text: str = text, keyed: bool = keyed) -> str:
            return redact(text) if keyed else redact_messages(text)

        def on(text: str = text, keyed: bool = keyed) -> str:
            return pii(redact(text) if keyed else redact_messages(text))

        n = 200
        t_off = min(timeit.repeat(off, number=n, repeat=25, timer=time.process_time)) / n * 1e6 * scale
        t_on = min(timeit.repeat(on, number=n, repeat=25, timer=time.process_time)) / n * 1e6 * scale
        out.append((name, t_off, t_on))
    return out


def figures() -> list[tuple[str, str, str]]:
    """(figure, value, target) rows: recall and false positives on the corpus, and PII's cost."""
    s = corpus_scores()
    rows = [
        (
            f"redaction: secret recall on the corpus ({s['secrets']} values x every place)",
            f"{s['secrets_caught']}/{s['secrets_total']} = {s['secrets_caught'] / s['secrets_total']:.1%}",  # type: ignore[operator]
            "100%",
        ),
        (
            f"redaction: PII recall on the corpus ({s['pii']} values x every place)",
            f"{s['pii_caught']}/{s['pii_total']} = {s['pii_caught'] / s['pii_total']:.1%}",  # type: ignore[operator]
            "100%",
        ),
        (
            "redaction: false positives on the corpus (near misses changed, stray markers)",
            str(s["false_positives"]),
            "0",
        ),
    ]
    for name, t_off, t_on in costs():
        rows.append(
            (
                f"redaction: cost per 2 KB of {name}, PII on vs off",
                f"{t_on:.1f} µs vs {t_off:.1f} µs = {t_on / t_off:.1f}x",
                "reported (opt-in)",
            )
        )
    return rows


def main() -> None:
    rows = figures()
    width = max(len(name) for name, _, _ in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<32}  target {target}")


if __name__ == "__main__":
    main()
