"""The span processor: hands finished spans to a background writer that batches them into the store.

This is the only casebank code on the product's request path, so `on_end` does as little as
it can: one filter test, one length check and a deque append (atomic under the GIL). When the
queue is full the span is dropped and counted, never waited for. Two daemon threads do the
rest: a converter turns spans into rows, redacts them and prepares the statements; a writer,
which owns the only SQLite connection, runs each batch's statements in one transaction and
checkpoints the WAL when nothing is waiting. The shape follows OpenTelemetry's
BatchSpanProcessor: `force_flush(timeout)` returns whether everything queued before the call was
written; `shutdown()` is idempotent; after `fork` the child gets a fresh queue and its own writer.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from casebank.capture._attributes import SCOPE

logger = logging.getLogger("casebank")


MAX_QUEUE = 20_000
MAX_BATCH = 2_000
INTERVAL_S = 0.5
# Checkpoint the WAL once this many spans were written since the last one and nothing waits.
CHECKPOINT_EVERY_SPANS = 4_000


class StoreSpanProcessor(SpanProcessor):
    def __init__(
        self,
        db_path: Path,
        *,
        keep: Callable[[ReadableSpan], bool] | None = None,
        max_queue: int = MAX_QUEUE,
        max_batch: int = MAX_BATCH,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.db_path = db_path
        self._keep = keep
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._interval_s = interval_s
        self._dropped = 0  # spans dropped since the last write told the store
        self.dropped_total = 0
        self.failed_batches = 0
        self._open_error: str | None = None
        self._drop_lock = threading.Lock()
        self._setup_state()
        if hasattr(os, "register_at_fork"):
            # Weak, so that a processor that was shut down can be collected.
            child_hook = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=lambda: (hook := child_hook()) is not None and hook())

    def _setup_state(self) -> None:
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._flush_waiters: list[threading.Event] = []
        self._opened = threading.Event()
        self._shutdown = False
        # Converted batches on their way to SQLite; a flush marker (an Event) is set by the writer
        # once every batch before it is committed. Small, so the converter cannot run far ahead.
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=4)  # PreparedBatch | Event | None
        self._writer = threading.Thread(target=self._write_loop, name="casebank-writer", daemon=True)
        self._converter = threading.Thread(target=self._convert_loop, name="casebank-convert", daemon=True)
        self._writer.start()
        self._converter.start()

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and its connection must not be shared.
        if not self._shutdown:
            self._dropped = 0
            self._drop_lock = threading.Lock()
            self._setup_state()

    # -- the app's side ----------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown:
            return
        if self._keep is not None and not self._keep(span):
            return
        queue = self._queue
        if len(queue) >= self._max_queue:
            with self._drop_lock:
                self._dropped += 1
            return
        queue.append(span)
        if len(queue) >= self._max_batch:
            self._wake.set()

    def wait_until_open(self, timeout_s: float) -> str | None:
        """None once the writer has opened the store, else why it could not (or that it timed out)."""
        if not self._opened.wait(timeout_s):
            return (
                f"the store '{self.db_path}' did not open within {timeout_s:.0f} s - if this casebank is newer "
                "than the store, run `cases status` once to upgrade the store, then restart the app"
            )
        return self._open_error

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        if self._shutdown or not self._converter.is_alive():
            return not self._queue
        done = threading.Event()
        with self._flush_lock:
            self._flush_waiters.append(done)
        self._wake.set()
        return done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._wake.set()
        self._converter.join(timeout_s)
        self._writer.join(timeout_s)

    # -- the background threads ---------------------------------------------------------------------
    # Two threads, so that turning spans into rows (Python, holds the GIL) overlaps with SQLite
    # writing the previous batch (the sqlite3 module releases the GIL while it steps).

    def _write_loop(self) -> None:
        store = self._open_store()
        self._opened.set()
        if store is None:
            self._shutdown = True
            self._queue.clear()
            self._release_waiters()
            return
        unchecked = 0  # spans written since the last checkpoint
        try:
            store.defer_checkpoints()
            while (item := self._batches.get()) is not None:
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                self._write(store, item)
                unchecked += item.span_count
                if unchecked >= CHECKPOINT_EVERY_SPANS and self._batches.empty() and not self._queue:
                    unchecked = 0
                    self._checkpoint(store)
        finally:
            store.close()

    def _open_store(self) -> Any:
        try:
            from casebank.store import Store

            return Store(self.db_path)
        except Exception as exc:
            self._open_error = str(exc)
            return None

    def _write(self, store: Any, batch: Any) -> None:
        try:
            store.write_prepared(batch)
        except Exception as exc:  # never let one bad batch stop the writer
            self.failed_batches += 1
            with self._drop_lock:
                self._dropped += batch.span_count + batch.dropped
            if self.failed_batches == 1:
                logger.warning("casebank: could not write %d spans to '%s': %s", batch.span_count, self.db_path, exc)
        else:
            self.dropped_total += batch.dropped

    def _checkpoint(self, store: Any) -> None:
        # In a quiet moment, so that a burst's commits never wait for the copy; a failure here
        # loses nothing (the WAL keeps the rows) and SQLite retries at its cap.
        try:
            store.checkpoint()
        except Exception as exc:
            logger.debug("casebank: WAL checkpoint of '%s' failed: %s", self.db_path, exc)

    def _convert_loop(self) -> None:
        self._opened.wait()
        if self._open_error is not None:
            return
        try:
            while True:
                self._wake.wait(self._interval_s)
                self._wake.clear()
                with self._flush_lock:
                    waiters, self._flush_waiters = self._flush_waiters, []
                self._convert_queued()
                for done in waiters:
                    self._batches.put(done)
                if self._shutdown:
                    self._convert_queued()
                    break
        finally:
            self._batches.put(None)

    def _convert_queued(self) -> None:
        from casebank.capture._rows import rows_for
        from casebank.store import prepare_batch

        spans = self._queue
        while spans or self._dropped:
            batch = [spans.popleft() for _ in range(min(len(spans), self._max_batch))]
            with self._drop_lock:
                dropped, self._dropped = self._dropped, 0
            try:
                prepared = prepare_batch(*rows_for(batch), dropped)
            except Exception as exc:
                self.failed_batches += 1
                prepared = prepare_batch([], [], dropped + len(batch))
                if self.failed_batches == 1:
                    logger.warning("casebank: could not convert %d spans: %r", len(batch), exc)
            self._batches.put(prepared)
            if self.failed_batches > 3 and not prepared.span_count:  # the store is unusable; stop retrying
                return

    def _release_waiters(self) -> None:
        with self._flush_lock:
            waiters, self._flush_waiters = self._flush_waiters, []
        for done in waiters:
            done.set()


def keep_casebank_and_llm_spans(span: ReadableSpan) -> bool:
    """On a provider the app shares, keep casebank's spans and LLM spans, never the app's others."""
    scope = span.instrumentation_scope
    if scope is not None and scope.name == SCOPE:
        return True
    attrs = span.attributes or {}
    return any(key.startswith(("gen_ai.", "llm.", "traceloop.")) for key in attrs)
