"""Which errors a run retries: the provider clients' transient errors, by class name; the retries themselves
are tested through the runner (tests/replay/test_runner.py)."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from casebank.replay._retries import TRANSIENT_ERRORS, is_transient, with_retries


def test_the_openai_clients_rate_limit_error_is_transient_by_name() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    error = openai.RateLimitError("slow down", response=httpx.Response(429, request=request), body=None)
    assert is_transient(error, TRANSIENT_ERRORS)
    assert is_transient(openai.APITimeoutError(request), TRANSIENT_ERRORS)
    bad_request = openai.BadRequestError("no", response=httpx.Response(400, request=request), body=None)
    assert not is_transient(bad_request, TRANSIENT_ERRORS)


def test_a_named_base_class_makes_its_subclasses_transient() -> None:
    class Hiccup(Exception):
        pass

    class DeepHiccup(Hiccup):
        pass

    assert is_transient(DeepHiccup(), frozenset({"Hiccup"}))
    assert not is_transient(ValueError(), frozenset({"Hiccup"}))


def test_with_retries_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    attempts: list[int] = []

    async def attempt() -> str:
        attempts.append(len(attempts))
        raise openai.APIConnectionError(request=httpx.Request("GET", "http://127.0.0.1/"))

    with pytest.raises(openai.APIConnectionError):
        asyncio.run(with_retries(attempt, retries=2, transient=TRANSIENT_ERRORS, wait=0.0))
    assert attempts == [0, 1, 2]
