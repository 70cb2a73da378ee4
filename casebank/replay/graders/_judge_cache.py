"""Where judge verdicts are kept: in memory, or in the store during a run; one question asked once.

Verdicts are cached by the hash of everything the judge's answer depends on (`LLMJudge.cache_key`:
template version, provider, model, rubric, expected output, output) - in memory, or in the store
when a run calls `_judge.caching_in_store(store)`, which also caches the embedding grader's
vectors there.
Graders run in threads (the runner's pool, calibration's): while one thread asks the judge a
question, another with the same cache key - the same output in another epoch or another case -
waits for that answer (`asking.holding(key)`) instead of paying for the same call again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = [
    "MemoryVerdictCache",
    "VerdictCache",
    "asking",
    "current_verdict_cache",
    "set_verdict_cache",
]


class VerdictCache(Protocol):
    def get_verdict(self, key: str) -> dict[str, Any] | None: ...

    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None: ...


class MemoryVerdictCache:
    def __init__(self) -> None:
        self._verdicts: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get_verdict(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._verdicts.get(key)

    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None:
        with self._lock:
            self._verdicts[key] = dict(verdict)


_memory = MemoryVerdictCache()
_cache: VerdictCache = _memory


def current_verdict_cache() -> VerdictCache:
    return _cache


def set_verdict_cache(cache: VerdictCache | None) -> VerdictCache:
    """Use `cache` for judge verdicts from now on (None: memory); returns the one in use before."""
    global _cache
    previous = _cache
    _cache = cache if cache is not None else _memory
    return previous


class _OneAskerPerKey:
    """A lock per cache key, kept only while some thread holds or waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._held.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                users[0] -= 1
                if not users[0]:
                    del self._held[key]


asking = _OneAskerPerKey()
