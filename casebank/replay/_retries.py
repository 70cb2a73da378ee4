"""Retrying a target after a transient error: which errors are transient, and how long to wait.

Transient failures of the openai and anthropic clients (rate limits, timeouts, lost connections,
5xx) are matched by class name anywhere in the exception's MRO, so that neither `openai` nor
`anthropic` is imported here; `--retry-on CLASS` adds names. A target's own timeouts and crashes
are not retried unless named. The wait is tenacity's exponential backoff with full jitter, so
that cases rate-limited together do not all come back together; tenacity is imported only by a
run that retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["RETRY_WAIT_MAX_S", "RETRY_WAIT_S", "TRANSIENT_ERRORS", "is_transient", "with_retries"]

TRANSIENT_ERRORS = frozenset(
    {"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError", "OverloadedError"}
)
RETRY_WAIT_S = 1.0  # first backoff, doubled each retry, with full jitter
RETRY_WAIT_MAX_S = 30.0

T = TypeVar("T")


def is_transient(exc: BaseException, names: frozenset[str]) -> bool:
    """Whether `exc` is an instance of a class named in `names` (its own class or any base)."""
    return any(kind.__name__ in names for kind in type(exc).__mro__)


async def with_retries(
    attempt: Callable[[], Awaitable[T]], *, retries: int, transient: frozenset[str], wait: float
) -> T:
    """`await attempt()`, again up to `retries` times while it raises a transient error; then its error."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    retrying = AsyncRetrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_random_exponential(multiplier=wait, max=RETRY_WAIT_MAX_S),
        retry=retry_if_exception(lambda exc: is_transient(exc, transient)),
        reraise=True,
    )
    return await retrying(attempt)
