"""Added time per call of instrumented `openai` clients, against the bare client, same loopback server.

The fake LLM server (tests/fakes) runs in its own process. Each instrumentation is measured in
its own process, alternating short blocks of bare and instrumented calls on one client (the
package instrumented and uninstrumented between blocks), so that drift and bursts of load hit
both sides alike. Each figure is the median over block pairs of (instrumented - bare): wall time
per call (the block's median), CPU time of the app's thread per call, and CPU time of the whole
process per call including writing or exporting the block's spans (a flush ends each
instrumented block). On a busy machine the CPU figures are the steadier.

Measured:
- "noise": bare against bare, the figure that reads as "added" when nothing is;
- casebank (`instrument_openai()`, message content captured, its real store writer running),
  plain and streamed (a 32-word answer, a chunk a word); and "casebank-noop", its wrappers with the spans going
  to a no-op exporter, like for like with the other two;
- `opentelemetry-instrumentation-openai-v2` (OTel contrib; default, and with message content on
  the span) and `openinference-instrumentation-openai`, each on an SDK TracerProvider with a
  BatchSpanProcessor and a no-op exporter, when installed.

Target (issue 3): casebank <= 60 µs median added per call, and <= half of the lighter of the
other two.

`--app-thread` measures only what casebank's wrapper does on the app's thread, with the SDK
call stubbed (it returns a prebuilt answer, or prebuilt chunks) and spans to a processor that
does nothing: the fastest of many repeats (noise only ever adds time) and the bytecodes and
calls it runs per call, counted, which no load on the machine can move. In a real call the
same work runs with cold caches, so it costs a few times the hot figure.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# pairs of blocks, bare and instrumented, alternating which goes first (BENCH_ROUNDS=20 for a quick look)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
BLOCK = 20  # calls a block: short, so that a burst of load on the machine hits both sides alike
WARMUP = 200
TARGET_US = 60.0

SYSTEM = "You are the support assistant of an online shop. Answer in two sentences, politely. " * 6
MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Hello, my order #1234 arrived broken; can I get a refund? " * 4},
    {"role": "assistant", "content": "I am sorry to hear that. Could you tell me what is broken? " * 3},
    {"role": "user", "content": "The handle of the mug came off in the box, photos attached. " * 3},
]
ANSWER = "Refunds are possible within 14 days of delivery; I have started one for order 1234. " * 2

OTHERS = {
    "openai-v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry.instrumentation.openai_v2"),
    "openinference": ("openinference-instrumentation-openai", "openinference.instrumentation.openai"),
}


# -- the server process -------------------------------------------------------------------------------


def _serve(conn: Any) -> None:
    from tests.fakes import FakeLLM, Reply

    with FakeLLM(record=False) as server:
        server.reply = Reply(text=ANSWER.strip(), input_tokens=180, output_tokens=36)
        conn.send(server.openai_url)
        conn.recv()  # until told to stop


# -- one measuring process ----------------------------------------------------------------------------


def _no_op_provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoOpExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoOpExporter()))
    return provider


Toggles = tuple[Callable[[], None], Callable[[], None], Callable[[], None], Callable[[], dict[str, Any]]]


def _toggles(variant: str, tmp: str) -> Toggles:
    """(instrument, uninstrument, flush, notes) for one variant."""
    if variant == "noise":  # bare against bare: what "added" reads when nothing is added
        return (lambda: None, lambda: None, lambda: None, lambda: {})
    if variant == "casebank-noop":
        # casebank's wrappers alone, its spans to a no-op exporter as the others' are: like for like
        from casebank import __version__
        from casebank._runtime import state
        from casebank.integrations import instrument_openai, uninstrument

        provider = _no_op_provider()
        state.tracer, state.provider, state.owns_provider = provider.get_tracer("casebank", __version__), provider, True
        return (
            lambda: instrument_openai() and None,
            uninstrument,
            lambda: provider.force_flush() and None,
            lambda: {},
        )
    if variant.startswith("casebank"):
        import casebank
        from casebank.integrations import instrument_openai, uninstrument
        from casebank.store import open_store

        db = Path(tmp) / "bench.db"
        casebank.init(db=db, instrument=False)

        def notes() -> dict[str, Any]:
            with open_store(db) as store:
                return {"dropped spans": store.counts().dropped_spans}

        return (lambda: instrument_openai() and None, uninstrument, lambda: casebank.flush(30) and None, notes)
    package, module = OTHERS[variant.removesuffix("+content")]
    try:
        instrumentor = __import__(module, fromlist=["OpenAIInstrumentor"]).OpenAIInstrumentor()
    except ImportError as exc:
        raise SystemExit(json.dumps({"error": f"{package} is not installed ({exc})"})) from None
    provider = _no_op_provider()
    return (
        lambda: instrumentor.instrument(tracer_provider=provider, skip_dep_check=True),
        lambda: instrumentor.uninstrument(),
        lambda: provider.force_flush() and None,
        lambda: {"content": os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "default")},
    )


def _measure(variant: str, url: str) -> dict[str, Any]:
    import openai

    from tests.fakes import API_KEY

    streamed = variant == "casebank-stream"
    client = openai.OpenAI(api_key=API_KEY, base_url=url, max_retries=0)

    def call() -> None:
        if streamed:
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):  # type: ignore[call-overload]
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)  # type: ignore[arg-type]

    def block(flush: Callable[[], None] | None) -> tuple[float, float, float]:
        """Per call: median wall µs, app-thread CPU µs, process CPU µs (with exporting what the block made)."""
        samples = []
        thread, process = time.thread_time_ns(), time.process_time_ns()
        for _ in range(BLOCK):
            start = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - start)
        thread = time.thread_time_ns() - thread
        if flush is not None:
            flush()  # the writer's (or exporter's) work for these calls counts as theirs
        process = time.process_time_ns() - process
        return statistics.median(samples) / 1000, thread / BLOCK / 1000, process / BLOCK / 1000

    with tempfile.TemporaryDirectory() as tmp:
        instrument, uninstrument, flush, notes = _toggles(variant, tmp)
        for _ in range(WARMUP // BLOCK):
            block(None)
        instrument()
        for _ in range(WARMUP // BLOCK):
            block(flush)
        sides: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for round_ in range(ROUNDS):
            for on in (False, True) if round_ % 2 else (True, False):  # alternate which side goes first
                (instrument if on else uninstrument)()
                sides[on].append(block(flush if on else None))
        extra = notes()
        uninstrument()
    client.close()
    added = [[i - b for i, b in zip(on, off, strict=True)] for on, off in zip(sides[True], sides[False], strict=True)]
    wall, thread, process = ([a[k] for a in added] for k in range(3))
    quartiles = statistics.quantiles(wall, n=4)
    return {
        "bare": statistics.median(b[0] for b in sides[False]),
        "instrumented": statistics.median(i[0] for i in sides[True]),
        "added": statistics.median(wall),
        "iqr": [quartiles[0], quartiles[-1]],
        "thread cpu added": statistics.median(thread),
        "process cpu added": statistics.median(process),
        "notes": extra,
    }


def _run(variant: str, url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--variant", variant, "--url", url],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    except (IndexError, json.JSONDecodeError):
        return {"error": f"failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"}


# -- casebank's own work on the app thread ------------------------------------------------------------


def _app_thread() -> dict[str, Any]:
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    from casebank import __version__
    from casebank._runtime import state
    from casebank.integrations import _openai_chat, _patch, _registry, _wrappers
    from tests.fakes import Reply, _wire

    provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)  # as casebank.init() makes it
    provider.add_span_processor(SpanProcessor())  # does nothing
    state.tracer, state.provider, state.owns_provider = provider.get_tracer("casebank", __version__), provider, True
    provider_of_openai = _registry.lookup("openai")
    assert provider_of_openai is not None
    _patch._register_sentinels(provider_of_openai)
    reply = Reply(text=ANSWER.strip(), input_tokens=180, output_tokens=36)
    body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    answer = ChatCompletion.model_validate(_wire.chat_completion(body, reply))
    events = _wire.chat_completion_chunks({**body, "stream_options": {"include_usage": True}}, reply)
    chunks = [ChatCompletionChunk.model_validate(json.loads(d) if isinstance(d, str) else d) for _, d in events[:-1]]
    resource = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1").chat.completions
    wrapper = _wrappers.sync_call(_openai_chat.CHAT)

    def plain(*args: Any, **kwargs: Any) -> Any:
        return answer

    def streamed(*args: Any, **kwargs: Any) -> Any:
        return iter(chunks)

    def through(sdk: Callable[..., Any], **kwargs: Any) -> Callable[[], None]:
        return lambda: [*wrapper(sdk, resource, (), {"model": "gpt-4o-mini", "messages": MESSAGES, **kwargs})]

    def bare(sdk: Callable[..., Any], **kwargs: Any) -> Callable[[], None]:
        return lambda: [*sdk(model="gpt-4o-mini", messages=MESSAGES, **kwargs)]

    cases = {
        "plain": (through(plain, temperature=0.2), bare(plain, temperature=0.2)),
        "streamed": (through(streamed, stream=True), bare(streamed, stream=True)),
    }
    return {
        name: {"µs": round(_fastest(ours) - _fastest(sdk_only), 2), **_counted(ours, sdk_only)}
        for name, (ours, sdk_only) in cases.items()
    }


def _fastest(call: Callable[[], None], n: int = 500, repeats: int = 30) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time_ns()
        for _ in range(n):
            call()
        best = min(best, (time.thread_time_ns() - start) / n / 1000)
    return best


def _counted(ours: Callable[[], None], sdk_only: Callable[[], None], n: int = 20) -> dict[str, int]:
    def count(call: Callable[[], None]) -> tuple[float, float]:
        seen = [0, 0]

        def trace(frame: Any, event: str, arg: Any) -> Any:
            frame.f_trace_opcodes = True
            seen[0] += event == "opcode"
            return trace

        def profile(frame: Any, event: str, arg: Any) -> None:
            seen[1] += event in ("call", "c_call")

        call()
        sys.settrace(trace)
        for _ in range(n):
            call()
        sys.settrace(None)
        sys.setprofile(profile)
        for _ in range(n):
            call()
        sys.setprofile(None)
        return seen[0] / n, seen[1] / n

    (ops, calls), (ops_bare, calls_bare) = count(ours), count(sdk_only)
    return {"bytecodes": round(ops - ops_bare), "calls": round(calls - calls_bare)}


def main() -> None:
    if "--app-thread" in sys.argv:
        print(json.dumps(_app_thread(), ensure_ascii=False))
        return
    if "--variant" in sys.argv:
        variant, url = sys.argv[sys.argv.index("--variant") + 1], sys.argv[sys.argv.index("--url") + 1]
        print(json.dumps(_measure(variant, url)))
        return
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    content = {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
    }
    try:
        results = {
            "noise": _run("noise", url),
            "casebank": _run("casebank", url),
            "casebank-noop": _run("casebank-noop", url),
            "casebank-stream": _run("casebank-stream", url),
            "openai-v2": _run("openai-v2", url),
            "openai-v2+content": _run("openai-v2+content", url, content),
            "openinference": _run("openinference", url),
        }
    finally:
        parent.send("stop")
        server.join(10)
    _report(results)


def _report(results: dict[str, dict[str, Any]]) -> None:
    print(f"python {sys.version.split()[0]}, {ROUNDS} x {BLOCK} calls a side, chat completion ~2 KB in / 170 B out")
    print("added per call (median over block pairs): wall time; CPU of the app's thread; CPU of the whole")
    print("process including writing or exporting the spans")
    print(f"{'':19}{'bare':>8}{'instr.':>9}{'added':>9}{'(IQR)':>17}{'app cpu':>9}{'all cpu':>9}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:19}{r['error']}")
            continue
        low, high = r["iqr"]
        line = (
            f"{name:19}{r['bare']:6.0f}µs{r['instrumented']:7.0f}µs{r['added']:7.1f}µs [{low:6.1f},{high:6.1f}]"
            f"{r['thread cpu added']:7.1f}µs{r['process cpu added']:7.1f}µs"
        )
        print(line + (f"   {r['notes']}" if r["notes"] else ""))
    ours = results["casebank"]
    if "added" not in ours:
        print("casebank could not be measured")
        return
    added = ours["added"]
    verdict = "OK" if added <= TARGET_US else "MISSED"
    print(f"casebank added per call: {added:.1f} µs wall (target <= {TARGET_US:.0f} µs: {verdict})")
    others = {n: r for n, r in results.items() if n in OTHERS and "added" in r}
    if not others:
        print("neither opentelemetry-instrumentation-openai-v2 nor openinference-instrumentation-openai is installed")
        return
    for name, r in others.items():
        ratios = [ours[k] / r[k] if r[k] > 0 else float("nan") for k in ("added", "thread cpu added")]
        print(f"  casebank / {name}: {ratios[0]:.2f} wall, {ratios[1]:.2f} app cpu")
    lightest = min(others, key=lambda n: others[n]["added"])
    ok = added <= others[lightest]["added"] / 2
    print(
        f"vs the lightest ({lightest}, {others[lightest]['added']:.1f} µs): target <= half: {'OK' if ok else 'MISSED'}"
    )
    missing = [OTHERS[n][0] for n in OTHERS if n not in others]
    if missing:
        print("not installed: " + ", ".join(missing))


if __name__ == "__main__":
    main()
