"""Fakes for tests and benchmarks: an LLM API stand-in on 127.0.0.1 (see `_server`).

`fake_llm` is a pytest fixture: a started `FakeLLM` for one test, stopped after it. Import it into
a conftest to use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes._server import API_KEY, FakeLLM, Recorded
from tests.fakes._wire import Reply, ToolCall

__all__ = ["API_KEY", "FakeLLM", "Recorded", "Reply", "ToolCall", "fake_llm"]


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server
