"""Retrying a target after a transient error: which errors are transient, and how long to wait.

Transient failures of the openai and anthropic clients (rate limits, timeouts, lost connections,
5xx) are matched by class name anywhere in the exception's MRO, so that neither `openai` nor
`anthropic` is imported here; `--retry-on CLASS` adds names. A target's own timeouts and crashes
are not retried unless named. A name must be an exception class that exists - a built-in, one
defined by a module loaded once the entry points are imported, or `MODULE:CLASS` - or the run
is refused before any case starts: a typo would otherwise silently retry nothing. The wait is
tenacity's exponential backoff with full jitter, so that cases rate-limited together do not all
come back together; tenacity is imported only by a run that retries.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from casebank.errors import InvalidInput

__all__ = ["RETRY_WAIT_MAX_S", "RETRY_WAIT_S", "TRANSIENT_ERRORS", "exception_names", "is_transient", "with_retries"]

TRANSIENT_ERRORS = frozenset(
    {"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError", "OverloadedError"}
)
RETRY_WAIT_S = 1.0  # first backoff, doubled each retry, with full jitter
RETRY_WAIT_MAX_S = 30.0

T = TypeVar("T")


def exception_names(names: Iterable[str]) -> frozenset[str]:
    """The class names `--retry-on` gave, each checked to be an exception class (InvalidInput if not).

    Call it once the entry points are imported: a bare name is looked up among the built-ins and
    in every loaded module (their own namespaces only, so no module's lazy `__getattr__` runs).
    """
    return frozenset(_exception_name(name.strip()) for name in names)


def _exception_name(name: str) -> str:
    if ":" in name:
        module_name, _, qualname = name.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (Exception, SystemExit) as exc:
            raise InvalidInput(
                f"--retry-on '{name}' does not import ({type(exc).__name__}: {exc}) - check the module and class"
            ) from None
        if not _is_exception(found):
            raise InvalidInput(f"--retry-on '{name}' is not an exception class - name a subclass of Exception")
        return str(found.__name__)
    if name in TRANSIENT_ERRORS or _is_exception(getattr(builtins, name, None)):
        return name
    if not name.isidentifier():
        raise InvalidInput(f"--retry-on '{name}' is not a class name - pass e.g. --retry-on TimeoutError")
    for module in list(sys.modules.values()):
        if _is_exception(getattr(module, "__dict__", {}).get(name)):
            return name
    raise InvalidInput(
        f"--retry-on '{name}' is not an exception class the entry points load nor a built-in one - "
        "check the name, or give it as MODULE:CLASS"
    )


def _is_exception(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseException)


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
