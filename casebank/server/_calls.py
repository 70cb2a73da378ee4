"""The server's one store, called off the event loop.

Store methods block (SQL, fsync), so each runs in Starlette's thread pool. A SQLite store is one
connection, whose transactions must not interleave: its calls take turns. A PostgreSQL store
hands each call a connection from its own pool, so the calls of people (flags, reads) run side
by side there.

Ingest writes are bulk: a person's call goes before the writes waiting for the store, and writes
go one at a time. A write of a few hundred spans takes milliseconds, and a support tool's flag
should wait for at most the one in progress, not queue behind all of them - on PostgreSQL a flag
takes a lock that every write in flight holds shared. Writes one at a time lose nothing: their
work before the store (decoding, redaction, building statements) is done outside any turn, and
one connection keeps the database as busy as the GIL lets one process be.
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
    """Bulk calls one at a time, never while a person's call waits or runs; with `exclusive`, a
    person's calls one at a time too and never beside a bulk one."""

    def __init__(self, *, exclusive: bool) -> None:
        self._changed = threading.Condition()
        self._exclusive = exclusive
        self._bulk_busy = False
        self._urgent_busy = 0
        self._urgent_waiting = 0

    @contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._changed:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._exclusive and (self._bulk_busy or self._urgent_busy):
                        self._changed.wait()
                finally:
                    self._urgent_waiting -= 1
                self._urgent_busy += 1
            else:
                while self._bulk_busy or self._urgent_waiting or (self._exclusive and self._urgent_busy):
                    self._changed.wait()
                self._bulk_busy = True
        try:
            yield
        finally:
            with self._changed:
                if urgent:
                    self._urgent_busy -= 1
                else:
                    self._bulk_busy = False
                self._changed.notify_all()


class StoreCalls:
    def __init__(self, store: Store, *, serialize: bool) -> None:
        self.store = store
        self._turns = _Turns(exclusive=serialize)

    async def __call__(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` (of `self.store`, or taking it) run in the thread pool, in its turn."""
        return await run_in_threadpool(self._in_turn, True, method, args, kwargs)

    async def bulk(self, method: Callable[..., R], *args: Any) -> R:
        """As calling, for ingest writes: one at a time, after the calls of people."""
        return await run_in_threadpool(self._in_turn, False, method, args, {})

    async def off_loop(self, work: Callable[..., R], *args: Any) -> R:
        """CPU work that needs no store, in the thread pool without a turn."""
        return await run_in_threadpool(work, *args)

    def call_blocking(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` on the calling thread, as a bulk call (the retention thread's prune)."""
        return self._in_turn(False, method, args, kwargs)

    def _in_turn(self, urgent: bool, method: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        with self._turns.turn(urgent=urgent):
            return method(*args, **kwargs)
