"""Bad input and oversized values: fuzz inputs tried and tracebacks seen, and what a 50 MB prompt costs.

1. Fuzzing, per surface, with the strategies of tests/fuzz/ and many more examples than the tests
   run (derandomized, so a run repeats): case files (valid ones mutated, random bytes and JSON)
   through the case reader; CLI arguments through `casebank.cli.main` in this process; OTLP
   payloads (well-formed with any values, random and damaged protobuf, random JSON) through the
   receiver's decoding, row making and a real SQLite store; span attribute values through the
   real SDK, the writer's rows and a real SQLite store. A traceback is any exception that is not
   the surface's own refusal (a CasebankError naming the file, an exit code 0/1/2, a 4xx).
   Target: 0 on every surface.
2. Oversized values: a 50 MB prompt recorded on the app's thread (`recorded_json`; target: less
   than serialising the prompt once, measured in the same run), the whole traced call, its trace
   input as stored (target <= 1 MiB + 100 bytes), 100 000 levels of nesting recorded, and the
   writer's time for a span holding a 50 MB attribute.

Run alone: `python benchmarks/faults_fuzz.py` (FUZZ_EXAMPLES=N scales the examples); or through
`benchmarks/bench_faults.py`, which imports `figures()`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fuzz's strategies

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

logging.getLogger("opentelemetry").setLevel(logging.ERROR)  # the SDK's word on each key it drops
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
CLI_EXAMPLES = max(50, EXAMPLES // 4)  # a CLI call is 100x a case file's read


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.tracebacks = 0
        self.first: str = ""

    def failed(self, exc: BaseException, example: Any) -> None:
        self.tracebacks += 1
        if not self.first:
            self.first = f"{type(exc).__name__}: {exc} for {example!r}"[:300]


def _fuzz(strategy: st.SearchStrategy[Any], examples: int, check: Callable[[Any], None]) -> Tally:
    tally = Tally()

    @settings(
        max_examples=examples, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def run(example: Any) -> None:
        tally.tried += 1
        try:
            check(example)
        except Exception as exc:  # the surface let something through: a traceback for a user
            tally.failed(exc, example)

    run()
    return tally


def fuzz_case_files(folder: Path) -> Tally:
    from casebank.errors import CasebankError
    from casebank.replay._case import content_hash, load_case
    from tests.fuzz.strategies import json_values
    from tests.fuzz.test_case_files import _FIELDS, _mutated, _valid

    path = folder / "answer-c1a2b3.json"
    mutation = st.tuples(st.sampled_from(_FIELDS) | st.text(max_size=10), json_values, st.booleans(), st.booleans())
    raw = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())

    def check(example: Any) -> None:
        if isinstance(example, bytes):
            data = example
        else:
            field, value, delete, rehash = example
            body = _mutated(_valid(), field, value, delete)
            if rehash:
                body["hash"] = content_hash({k: v for k, v in body.items() if k != "hash"})
            data = json.dumps(body).encode()
        path.write_bytes(data)
        try:
            load_case(path)
        except CasebankError as exc:
            if str(path) not in str(exc):
                raise AssertionError(f"refusal does not name the file: {exc}") from None

    return _fuzz(mutation | raw, EXAMPLES, check)


def fuzz_cli(folder: Path) -> Tally:
    from casebank.cli import main
    from tests.fuzz.test_cli_args import argvs

    def check(argv: list[str]) -> None:
        out, err = io.StringIO(), io.StringIO()
        code: Any = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code if exc.code is not None else 0
        if code not in (0, 1, 2) or "Traceback" in err.getvalue():
            raise AssertionError(f"exit {code}: {err.getvalue()[-200:]}")

    previous = (Path.cwd(), os.environ.get("CASEBANK_DB"), sys.stdin)
    os.chdir(folder)
    os.environ["CASEBANK_DB"] = str(folder / "cli.db")
    sys.stdin = io.StringIO("")
    try:
        return _fuzz(argvs(), CLI_EXAMPLES, check)
    finally:
        os.chdir(previous[0])
        if previous[1] is None:
            os.environ.pop("CASEBANK_DB", None)
        else:
            os.environ["CASEBANK_DB"] = previous[1]
        sys.stdin = previous[2]


def fuzz_otlp(folder: Path) -> Tally:
    from casebank.server import _otlp
    from casebank.store import open_store
    from tests.fuzz.strategies import json_values
    from tests.fuzz.test_otlp_payloads import _json_request, _json_spans, ingest, requests

    bodies = st.one_of(
        requests.map(lambda r: (r.SerializeToString(), _otlp.PROTOBUF)),
        st.binary(max_size=300).map(lambda b: (b, _otlp.PROTOBUF)),
        st.tuples(requests, st.integers(0, 400), st.integers(0, 400)).map(_damaged),
        json_values.map(lambda v: (json.dumps(v).encode(), _otlp.JSON)),
        st.lists(_json_spans, max_size=3).map(lambda s: (json.dumps(_json_request(s)).encode(), _otlp.JSON)),
    )
    with open_store(folder / "otlp.db") as store:

        def check(example: tuple[bytes, str]) -> None:
            ingest(*example, store)  # a traceback, or a refusal without its 4xx and message, fails

        return _fuzz(bodies, EXAMPLES, check)


def _damaged(example: tuple[Any, int, int]) -> tuple[bytes, str]:
    request, cut, flip = example
    body = bytearray(request.SerializeToString())[: cut or None]
    if body:
        body[flip % len(body)] ^= 0xFF
    return bytes(body), "application/x-protobuf"


def fuzz_attributes(folder: Path) -> Tally:
    from casebank.store import open_store
    from tests.fuzz.strategies import any_text, attribute_values
    from tests.fuzz.test_attribute_values import write_span

    spans = st.tuples(
        any_text,
        st.dictionaries(any_text, attribute_values, max_size=5),
        st.dictionaries(st.text(max_size=5), attribute_values, max_size=3),
    )
    with open_store(folder / "attributes.db") as store:
        return _fuzz(spans, EXAMPLES, lambda example: _written(write_span(store, *example)))


def _written(rows: list[dict[str, Any]]) -> None:
    if len(rows) != 1:
        raise AssertionError(f"{len(rows)} spans stored, not 1")


def _median_ms(work: Callable[[], object], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def oversized(folder: Path) -> list[tuple[str, str, str]]:
    import casebank
    from casebank._json import recorded_json
    from casebank._limits import MAX_VALUE_CHARS
    from casebank.capture._rows import rows_for
    from casebank.store import open_store
    from tests.fuzz.test_attribute_values import _exporter, _tracer

    prompt = "refund my order please " * (50_000_000 // 23)
    at_limit = prompt[: MAX_VALUE_CHARS - 100]
    limit_ms = _median_ms(lambda: recorded_json({"prompt": at_limit}))
    once_ms = _median_ms(lambda: orjson.dumps({"prompt": prompt}))
    record_ms = _median_ms(lambda: recorded_json({"prompt": prompt}))
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    deep_ms = _median_ms(lambda: recorded_json({"deep": deep}))

    db = folder / "oversized.db"
    casebank.init(db=db)
    ids: list[str | None] = []

    @casebank.trace
    def answer(prompt: str) -> str:
        ids.append(casebank.current_trace_id())
        return "ok"

    answer("warm-up")  # the first call's one-off costs are not the prompt's
    start = time.perf_counter()
    answer(prompt)
    call_ms = (time.perf_counter() - start) * 1000
    casebank.shutdown()
    with open_store(db) as store:
        trace = store.get_trace(str(ids[1]))
    stored = len(json.dumps(trace.input if trace else None).encode())
    assert len(ids) == 2

    _exporter.clear()
    with _tracer.start_as_current_span("chat") as span:
        span.set_attribute("gen_ai.prompt", prompt)
    start = time.perf_counter()
    rows_for(_exporter.get_finished_spans())  # what the writer thread does with it
    writer_ms = (time.perf_counter() - start) * 1000

    return [
        (
            "50 MB prompt recorded on the app thread",
            f"{record_ms:.1f} ms (1 MiB: {limit_ms:.1f} ms)",
            f"< serialising it once ({once_ms:.0f} ms)",
        ),
        ("50 MB prompt: whole traced call on the app thread", f"{call_ms:.1f} ms", "one pass"),
        ("50 MB prompt: trace input as stored", f"{stored:,} bytes", f"<= {MAX_VALUE_CHARS + 100:,}"),
        ("100 000 levels of nesting recorded", f"{deep_ms:.2f} ms", "no error"),
        ("50 MB attribute: writer's rows for its span", f"{writer_ms:.1f} ms", "one pass"),
    ]


def figures() -> list[tuple[str, str, str]]:
    """(figure, value, target) rows for benchmarks/bench_faults.py."""
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="casebank-fuzz-") as tmp:
        folder = Path(tmp)
        for surface, fuzz in (
            ("case files", fuzz_case_files),
            ("CLI arguments", fuzz_cli),
            ("OTLP payloads", fuzz_otlp),
            ("span attribute values", fuzz_attributes),
        ):
            started = time.perf_counter()
            tally = fuzz(folder)
            seconds = time.perf_counter() - started
            rows.append((f"fuzz {surface}: inputs tried", f"{tally.tried:,} ({seconds:.0f} s)", "-"))
            value = str(tally.tracebacks) + (f" (first: {tally.first})" if tally.first else "")
            rows.append((f"fuzz {surface}: tracebacks", value, "0"))
        rows += oversized(folder)
    return rows


if __name__ == "__main__":
    for name, value, target in figures():
        print(f"{name:52} {value:>28}   target {target}")
