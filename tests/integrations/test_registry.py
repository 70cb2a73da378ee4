"""A provider is one small module that registers itself: module-level functions as targets (a
stand-in for litellm), the registry behind instrument_installed, entry points, and the checks
`register` makes of what it is given.

The stand-in is a real package written to a folder on `sys.path`; its functions call the fake
LLM server through the real `openai` client, and its provider module registers through the same
`casebank.integrations.register` that casebank's own providers use."""

from __future__ import annotations

import asyncio
import importlib
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import wrapt

import casebank
from casebank.integrations import (
    Endpoint,
    Provider,
    Target,
    _registry,
    instrument_installed,
    register,
    resource_targets,
    uninstrument,
)
from casebank.store import open_store
from tests.fakes import API_KEY, FakeLLM
from tests.integrations.conftest import Spans, attrs

ASK = [{"role": "user", "content": "Where is my order?"}]

PACKAGE = '''
"""A stand-in for litellm: module-level functions that call an OpenAI-compatible server."""

import openai

_clients = []


def completion(*, api_base, api_key, **kwargs):
    client = openai.OpenAI(api_key=api_key, base_url=api_base, max_retries=0)
    _clients.append(client)  # a stream is read after this returns: closed by close()
    return client.chat.completions.create(**kwargs)


async def acompletion(*, api_base, api_key, **kwargs):
    async with openai.AsyncOpenAI(api_key=api_key, base_url=api_base, max_retries=0) as client:
        return await client.chat.completions.create(**kwargs)


def close():
    while _clients:
        _clients.pop().close()
'''

PROVIDER_MODULE = '''
"""casebank's provider for fakellm: two module-level functions that speak OpenAI's chat format."""

from casebank.integrations import Endpoint, Provider, Target, register
from casebank.integrations._openai_chat import ChatStream, chat_prepare, chat_request, chat_response, hide_added_usage

COMPLETION = Endpoint(
    provider="fakellm",
    operation="chat",
    request=chat_request,
    response=chat_response,
    accumulator=ChatStream,
    prepare=chat_prepare,
    hide=hide_added_usage,
)

register(
    Provider(
        name="fakellm",
        targets=(
            Target(module="fakellm", qualname="completion", endpoint=COMPLETION),
            Target(module="fakellm", qualname="acompletion", endpoint=COMPLETION, is_async=True),
            Target(module="fakellm", qualname="responses", endpoint=COMPLETION),  # a later version's: skipped
        ),
    )
)
'''


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on `sys.path` holding the `fakellm` package and its provider module `fakellm_casebank`."""
    folder = tmp_path / "site"
    (folder / "fakellm").mkdir(parents=True)
    (folder / "fakellm" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    (folder / "fakellm_casebank.py").write_text(textwrap.dedent(PROVIDER_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    uninstrument()
    if "fakellm" in sys.modules:
        sys.modules["fakellm"].close()
    for name in ("fakellm", "fakellm_casebank"):
        sys.modules.pop(name, None)
    for name in ("fakellm", "absent"):
        _registry._providers.pop(name, None)


def fakellm() -> Any:
    """The provider module registers itself when imported, as an app's own would before init()."""
    importlib.import_module("fakellm_casebank")
    return importlib.import_module("fakellm")


def ask(fake_llm: FakeLLM, **kwargs: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": ASK, "api_base": fake_llm.openai_url, "api_key": API_KEY, **kwargs}


def test_a_module_level_function_becomes_one_llm_span_with_semconv_attributes(
    site: Path, spans: Spans, fake_llm: FakeLLM
) -> None:
    module = fakellm()
    assert instrument_installed(["fakellm"]) == ["fakellm"]
    answer = module.completion(**ask(fake_llm, temperature=0.2, max_tokens=50))
    assert answer.choices[0].message.content == "Hello from the fake model."
    span = spans.one()  # the openai call inside is the same call: openai's instrumentation records no second span
    assert span.name == "chat gpt-4o-mini"
    a = attrs(span)
    assert {k: v for k, v in a.items() if k not in ("gen_ai.input.messages", "gen_ai.output.messages")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "fakellm",
        "openai.api.type": "chat_completions",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.response.id": "chatcmpl-fake1",
        "gen_ai.response.model": "gpt-4o-mini-2024",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "casebank.semconv_version": "1.37.0",
    }  # no server.*: a module-level function has no client to read it from
    assert orjson.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}
    ]
    assert orjson.loads(a["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Hello from the fake model."}
    ]


def test_a_stream_from_a_module_level_function_ends_its_span_with_the_answer(
    site: Path, spans: Spans, fake_llm: FakeLLM
) -> None:
    module = fakellm()
    instrument_installed(["fakellm"])
    chunks = list(module.completion(**ask(fake_llm, stream=True)))
    assert chunks[-1].choices  # the usage chunk casebank asked for is kept from the app
    assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": True}
    a = attrs(spans.one())
    assert a["casebank.stream_end"] == "exhausted" and a["gen_ai.provider.name"] == "fakellm"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 7


def test_an_async_module_level_function_is_stored_under_the_entry_point(site: Path, fake_llm: FakeLLM) -> None:
    module = fakellm()
    casebank.init(instrument=["fakellm"])

    @casebank.trace
    async def support(question: str) -> str:
        answer = await module.acompletion(**ask(fake_llm, messages=[{"role": "user", "content": question}]))
        return str(answer.choices[0].message.content)

    assert asyncio.run(support("Where is my order?")) == "Hello from the fake model."
    assert casebank.flush()
    with open_store() as store:
        (trace,) = store.recent_traces()
        entry, llm = sorted(store.trace_spans(trace.trace_id), key=lambda s: s["name"] != "support")
    assert llm["name"] == "chat gpt-4o-mini" and llm["parent_span_id"] == entry["span_id"]
    assert llm["attributes"]["gen_ai.provider.name"] == "fakellm"
    assert llm["attributes"]["gen_ai.usage.output_tokens"] == 7


def test_the_module_attribute_is_what_is_wrapped_and_uninstrument_puts_the_original_back(
    site: Path, fake_llm: FakeLLM
) -> None:
    caught = Spans()
    casebank.init(tracer_provider=caught.provider, instrument=False)
    module = fakellm()
    originals = module.completion, module.acompletion
    from fakellm import completion as imported_before  # type: ignore[import-not-found]

    assert instrument_installed(["fakellm"]) == ["fakellm"]
    assert isinstance(vars(module)["completion"], wrapt.FunctionWrapper)
    assert (module.completion.__wrapped__, module.acompletion.__wrapped__) == originals
    from fakellm import completion as imported_while

    imported_before(**ask(fake_llm))  # bound before instrumenting: the original, not recorded
    assert caught.llm() == []
    imported_while(**ask(fake_llm))
    module.completion(**ask(fake_llm))
    assert len(caught.llm()) == 2
    uninstrument()
    assert (module.completion, module.acompletion) == originals and imported_before is originals[0]
    module.completion(**ask(fake_llm))
    assert len(caught.llm()) == 2


def test_a_provider_instrumented_before_the_app_imports_its_package_is_patched_on_import(site: Path) -> None:
    importlib.import_module("fakellm_casebank")
    assert instrument_installed(["fakellm"]) == ["fakellm"]
    assert "fakellm" not in sys.modules  # instrumenting imports nothing
    module = importlib.import_module("fakellm")
    assert isinstance(vars(module)["completion"], wrapt.FunctionWrapper)
    uninstrument()
    assert not isinstance(vars(module)["completion"], wrapt.FunctionWrapper)


def test_an_entry_point_brings_in_a_provider_for_init_and_one_that_registers_nothing_is_named(
    site: Path, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    dist = site / "fakellm_casebank-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakellm-casebank\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[casebank.integrations]\nfakellm = fakellm_casebank\nhollow = json\n")
    assert "fakellm_casebank" not in sys.modules
    caught = Spans()
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(tracer_provider=caught.provider)  # instrument=True: every provider installed
    assert "entry point 'json' registered no provider called 'hollow'" in caplog.text
    importlib.import_module("fakellm").completion(**ask(fake_llm))
    assert [attrs(s)["gen_ai.provider.name"] for s in caught.llm()] == ["fakellm"]
    assert instrument_installed() == ["openai", "anthropic", "fakellm"]


def test_a_registered_provider_whose_package_is_not_installed_is_known_but_skipped(site: Path) -> None:
    endpoint = Endpoint(provider="absent", operation="chat", request=lambda k, c: (None, {}), response=lambda r, c: {})
    register(Provider(name="absent", targets=(Target(module="casebank_absent", qualname="chat", endpoint=endpoint),)))
    assert "absent" in _registry.names()
    assert instrument_installed() == ["openai", "anthropic"]
    assert instrument_installed(["absent"]) == []


def test_import_casebank_loads_no_provider_and_instrumenting_one_loads_only_that_one() -> None:
    code = (
        "import sys, casebank\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('casebank.integrations.'))\n"
        "print(loaded())\n"
        "casebank.integrations.instrument_installed(['anthropic'])\n"
        "print([m for m in loaded() if 'openai' in m or 'anthropic' in m])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "['casebank.integrations._anthropic']"], out.stderr


def test_wrap_takes_clients_of_providers_with_client_targets_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.wrap(object())
    assert "wrap() takes an openai or anthropic client, not 'object'" in caplog.text


CHAT = Endpoint(provider="x", operation="chat", request=lambda k, c: (None, {}), response=lambda r, c: {})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: Target(module="litellm", qualname="completion", endpoint=None),
            "Target litellm:completion needs an endpoint",
            id="no-endpoint",
        ),
        pytest.param(
            lambda: Target(module="litellm", qualname="completion()", endpoint=CHAT),
            "Target qualname 'completion()' is not a dotted name",
            id="not-a-name",
        ),
        pytest.param(
            lambda: Target(module="litellm", qualname="completion", endpoint=CHAT, client_path=("chat",)),
            "which only a method ('Class.method') can have",
            id="client-path-on-a-function",
        ),
        pytest.param(
            lambda: Provider(name="", targets=(Target(module="x", qualname="f", endpoint=CHAT),)),
            "Provider name '' must be a non-empty string",
            id="no-name",
        ),
        pytest.param(lambda: Provider(name="x", targets=()), "Provider 'x' needs one Target or more", id="no-targets"),
        pytest.param(
            lambda: Provider(
                name="x",
                targets=(
                    Target(module="a.b", qualname="f", endpoint=CHAT),
                    Target(module="c", qualname="f", endpoint=CHAT),
                ),
            ),
            "Provider 'x' has targets in several packages (a, c): one each",
            id="two-packages",
        ),
        pytest.param(
            lambda: Provider(name="x", targets=resource_targets("x", "C", client_path=("c",), calls={}), sentinels=()),
            "Provider 'x' needs one Target or more",
            id="a-resource-without-methods",
        ),
        pytest.param(
            lambda: Provider(
                name="x", targets=(Target(module="x", qualname="f", endpoint=CHAT),), sentinels=("x._types.Omit",)
            ),
            "sentinel 'x._types.Omit' is not 'module:Class'",
            id="sentinel-without-colon",
        ),
        pytest.param(
            lambda: register("openai"), "register() takes a casebank.integrations.Provider", id="not-a-provider"
        ),
    ],
)
def test_a_malformed_provider_is_refused_with_what_to_write(make: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        make()
    assert message in str(raised.value)
