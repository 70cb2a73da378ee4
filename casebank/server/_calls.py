"""The server's one store, called off the event loop.

Store methods block (SQL, fsync), so each runs in Starlette's thread pool. A SQLite store is one
connection, whose transactions must not interleave: its calls take turns. A PostgreSQL store
hands each call a connection from its own pool, so its calls run side by side.

Taking turns, a person's call (a flag, a read) goes before the ingest writes waiting for the
store: a write of a few hundred spans takes milliseconds, and a support tool's flag should not
queue behind all of them. Work that needs no store (decoding, redaction, building statements)
is done before a turn is taken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from casebank.store import Store

__all__ = ["StoreCalls"]

R = TypeVar("R")


class _Turns:
    """One call at a time; a waiting urgent call goes before waiting bulk ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0

    @contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._changed:
            self._urgent_waiting += urgent
            try:
                while self._busy or (not urgent and self._urgent_waiting):
                    self._changed.wait()
            finally:
                self._urgent_waiting -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class StoreCalls:
    def __init__(self, store: Store, *, serialize: bool) -> None:
        self.store = store
        self._turns = _Turns() if serialize else None

    async def __call__(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` (of `self.store`, or taking it) run in the thread pool, in its turn."""
        return await run_in_threadpool(self._in_turn, True, method, args, kwargs)

    async def bulk(self, method: Callable[..., R], *args: Any) -> R:
        """As calling, for ingest writes: in a turn that yields to waiting calls of people."""
        return await run_in_threadpool(self._in_turn, False, method, args, {})

    async def off_loop(self, work: Callable[..., R], *args: Any) -> R:
        """CPU work that needs no store, in the thread pool without a turn."""
        return await run_in_threadpool(work, *args)

    def call_blocking(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` on the calling thread, in its turn (the retention thread's prune)."""
        return self._in_turn(False, method, args, kwargs)

    def _in_turn(self, urgent: bool, method: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        if self._turns is None:
            return method(*args, **kwargs)
        with self._turns.turn(urgent=urgent):
            return method(*args, **kwargs)
