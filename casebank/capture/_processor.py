"""The span processor: hands finished spans to a background writer that batches them into the store.

This is the only casebank code on the product's request path, so `on_end` does as little as
it can: one filter test, one length check and a deque append (atomic under the GIL). When the
queue is full the span is dropped and counted, never waited for. One daemon thread, which owns
the writing connection, does the rest: it turns each batch of spans into rows, redacts them
and writes them in one transaction; a second thread copies the WAL into the database beside it
(`_checkpointer.py`). The shape follows OpenTelemetry's BatchSpanProcessor: `force_flush(timeout)`
returns whether everything queued before the call was written; `shutdown()` is idempotent;
after `fork` the child gets a fresh queue and its own writer.

A store on a server (PostgreSQL) may go away and come back. While it is unreachable the writer
keeps spans queued (up to the queue's bound; the rest are dropped and counted, as always) and
tries to reconnect with a capped exponential backoff - never in a tight loop - logging once when
the store is lost and once when it is back. A failed write is told apart from a lost store by
pinging the store: only a store that does not answer is reconnected. An app that starts while
its database is down starts capturing when the database comes up.

A SQLite file that refuses a write (its disk full, the file or its disk made read-only, an I/O
error) is reopened the same way, after the same backoff (capped lower: it is a local file): the
batch is dropped and counted, the queue waits, and a fresh connection is what picks up a file
that became writable again (one opened read-only stays so). A store file deleted or replaced
under the app goes on taking writes through the open handle into a file no one will read, so
before each batch the writer checks that the path still names the file it opened; when it does
not, it closes its connections (the last close removes the old log by its name, so it must come
first) and makes a new store at the path, as a first start would. Each outage is logged once
when it starts and once when writing works again, never per batch; `stats()` counts it.

One thread, not a converter feeding a writer: the two only overlapped while SQLite stepped
(the sqlite3 module lets the GIL go then), and each hand-back of the GIL cost more than the
overlap won - the writer waited for the converter's next pause after every statement. Measured
with benchmarks/bench_store.py on 2 vCPUs, one thread wrote 1.1-1.2x the spans a second of two on
a quiet machine, and 1.6x while other processes kept both vCPUs busy.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from casebank._words import count
from casebank.capture._attributes import SCOPE
from casebank.capture._checkpointer import Checkpointer
from casebank.errors import StoreError
from casebank.store._open import StoreURL, import_backend, parse_store_url

if TYPE_CHECKING:
    from casebank.store import Store

logger = logging.getLogger("casebank")


MAX_QUEUE = 20_000
MAX_BATCH = 2_000
INTERVAL_S = 0.5
# While this many batches wait, batches grow by as much: every batch rewrites each index page
# its traces' random ids land on, so at 200k stored traces a span cost 0.38 pages of 16 KB of
# WAL in batches of 2,000 and 0.22 in batches of 8,000 (0.15 is the data itself).
BACKLOG_BATCHES = 4
# Ask the checkpointer to copy the WAL into the database after this many spans (~12 MB of log).
CHECKPOINT_EVERY_SPANS = 4_000
# Reconnecting to a lost server store: first after RECONNECT_FIRST_S, doubling up to RECONNECT_MAX_S.
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0
REOPEN_MAX_S = 5.0  # for a SQLite file: nothing to wait out but the disk or its permissions
# Keys that mark a span as part of an LLM app, in the names of each instrumentation casebank reads.
_LLM_PREFIXES = ("gen_ai.", "llm.", "traceloop.", "openinference.")


class StoreSpanProcessor(SpanProcessor):
    def __init__(
        self,
        store_url: str | os.PathLike[str] | StoreURL,
        *,
        keep: Callable[[ReadableSpan], bool] | None = None,
        max_queue: int = MAX_QUEUE,
        max_batch: int = MAX_BATCH,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.store_url = parse_store_url(store_url)
        self._keep = keep
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._interval_s = interval_s
        self._dropped = 0  # spans dropped since the last write told the store
        self.dropped_total = 0
        self.failed_batches = 0
        self.batches_written = 0
        self._open_error: str | None = None
        # A server store is reconnected when it stops answering; a SQLite file is reopened when it
        # refuses a write or is deleted (see the module's docstring).
        self._reconnects = self.store_url.backend != "sqlite"
        self._dropped_before_outage = 0
        self.outages = 0  # times the store was lost (a server store unreachable, a SQLite file refusing writes)
        self.reconnect_attempts = 0
        self.write_errors = 0  # writes the store refused (each batch's spans counted as dropped)
        self.spans_written = 0
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the SQLite file opened
        self._drop_lock = threading.Lock()
        # What the writer thread runs is imported here, on the app's thread: a fork while that
        # thread was importing would leave the child a half-made module ("circular import").
        import casebank.capture._rows  # noqa: F401

        import_backend(self.store_url)
        self._setup_state()
        if hasattr(os, "register_at_fork"):
            # Weak, so that a processor that was shut down can be collected.
            child_hook = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=lambda: (hook := child_hook()) is not None and hook())

    def _setup_state(self) -> None:
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._flush_lock = threading.Lock()
        self._flush_waiters: list[threading.Event] = []
        self._opened = threading.Event()
        self._shutdown = False
        self._checkpointer = Checkpointer(self.store_url)
        self._unchecked = 0  # spans written since the checkpointer was last asked
        self._lost_at: float | None = None  # when the store was lost (monotonic); None once it takes writes again
        self._retry_at = 0.0
        self._backoff_s = RECONNECT_FIRST_S
        self._writer = threading.Thread(target=self._write_loop, name="casebank-writer", daemon=True)
        self._writer.start()

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
                f"the store '{self.store_url.shown}' did not open within {timeout_s:.0f} s - if this casebank is newer "
                "than the store, run `cases status` once to upgrade the store, then restart the app"
            )
        return self._open_error

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        if self._shutdown or not self._writer.is_alive():
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
        self._stopping.set()
        self._wake.set()
        self._writer.join(timeout_s)

    # -- the background thread ---------------------------------------------------------------------

    def _write_loop(self) -> None:
        store = self._open_store()
        if store is None and self._reconnects:
            self._lose(None, self._open_error or "")  # the app starts; capture waits for its database
            self._open_error = None
        self._opened.set()
        if store is None and not self._reconnects:
            self._shutdown = True
            self._queue.clear()
            self._release_waiters()
            return
        try:
            if store is not None:
                store.prepare_for_capture()
            while True:
                if store is None:
                    # Lost: the app's spans keep setting _wake, so wait out the backoff on
                    # _stopping instead (shutdown sets it), not in a loop that wakes per span.
                    self._stopping.wait(max(0.0, self._retry_at - time.monotonic()))
                else:
                    self._wake.wait(self._interval_s)
                self._wake.clear()
                with self._flush_lock:
                    waiters, self._flush_waiters = self._flush_waiters, []
                store = self._write_queued(store)
                for done in waiters:
                    done.set()
                if self._shutdown:
                    self._retry_at = 0.0  # one last try, however long the backoff
                    store = self._write_queued(store)
                    break
        finally:
            self._release_waiters()
            self._checkpointer.stop(timeout_s=5.0)
            if store is not None:
                store.close()  # the last connection to close checkpoints what is left

    def stats(self) -> dict[str, int | bool]:
        """What capture did so far: spans written and dropped (the queue full, or a batch the store
        refused), writes refused, outages, and whether the store takes writes now."""
        return {
            "spans_written": self.spans_written,
            "spans_dropped": self.dropped_total + self._dropped,
            "write_errors": self.write_errors,
            "failed_batches": self.failed_batches,
            "outages": self.outages,
            "capturing": self._lost_at is None and not self._shutdown,
        }

    def _open_store(self) -> Store | None:
        try:
            from casebank.store import open_store

            store = open_store(self.store_url)
        except Exception as exc:
            self._open_error = str(exc)
            return None
        self._file_id = self._current_file_id()
        return store

    def _current_file_id(self) -> tuple[int, int] | None:
        """(device, inode) of the file at the SQLite store's path; None when there is none (or no path)."""
        if self.store_url.path is None:
            return None
        try:
            found = os.stat(self.store_url.path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def _file_replaced(self) -> bool:
        """Whether the SQLite file opened is no longer the one at its path (deleted, or moved aside)."""
        return self._file_id is not None and self._current_file_id() != self._file_id

    def _connected(self, store: Store | None) -> Store | None:
        """`store`, or while it is lost a new one once the backoff has passed (None until then)."""
        if store is not None or time.monotonic() < self._retry_at:
            return store
        self.reconnect_attempts += 1
        store = self._open_store()
        if store is None:
            self._backoff_s = min(self._backoff_s * 2, RECONNECT_MAX_S if self._reconnects else REOPEN_MAX_S)
            self._retry_at = time.monotonic() + self._backoff_s
            return None
        self._open_error = None
        if not self._reconnects:
            self._checkpointer = Checkpointer(self.store_url)  # its own connection, to the file opened now
            try:
                store.prepare_for_capture()
            except Exception:  # only tuning: the store writes without it
                pass
        return store

    def _written_again(self) -> None:
        """A write went through after an outage: say so once, and start the backoff over."""
        lost_for = time.monotonic() - (self._lost_at or time.monotonic())
        self._lost_at, self._backoff_s = None, RECONNECT_FIRST_S
        logger.info(
            "casebank: store '%s' is back after %.0f s - writing spans again (%s dropped meanwhile, counted "
            "in the store)",
            self.store_url.shown,
            lost_for,
            count(self.dropped_total + self._dropped - self._dropped_before_outage, "span"),
        )

    def _lose(self, store: Store | None, why: str, *, lost: int = 0, retry_now: bool = False) -> None:
        """The store stopped answering (or taking writes; the `lost` spans of the batch it refused
        are counted as dropped already): close it, log once for this outage, retry after a backoff (at once with
        `retry_now`)."""
        if not self._reconnects:
            self._checkpointer.stop(timeout_s=5.0)  # its connection holds the old file too
        if store is not None:
            try:
                store.close()
            except Exception:  # a pool whose server is gone may complain on the way out
                pass
        now = time.monotonic()
        self._retry_at = now if retry_now else now + self._backoff_s
        if not self._reconnects:
            self._backoff_s = min(self._backoff_s * 2, REOPEN_MAX_S)
        if self._lost_at is not None:
            return  # the same outage: told already
        self.outages += 1
        self._lost_at = now
        self._dropped_before_outage = self.dropped_total + self._dropped - lost
        if self._reconnects:
            logger.warning(
                "casebank: cannot reach store '%s' (%s) - the app runs on; spans wait in memory (up to %d, the "
                "rest are dropped and counted) while casebank reconnects",
                self.store_url.shown,
                why,
                self._max_queue,
            )
        else:
            logger.warning(
                "casebank: %s - the app runs on; spans wait in memory (up to %d, the rest are dropped and "
                "counted) while casebank reopens the store",
                why,
                self._max_queue,
            )

    def _answers(self, store: Store) -> bool:
        try:
            store.ping()
            return True
        except Exception:
            return False

    def _write_queued(self, store: Store | None) -> Store | None:
        """Write what is queued, a batch at a time; returns the store to use next (None: lost)."""
        from casebank.capture._rows import rows_for

        store = self._connected(store)
        if store is None:
            return None
        if (self._queue or self._dropped) and self._file_replaced():
            self._lose(store, f"the store file '{self.store_url.shown}' was deleted or replaced", retry_now=True)
            store = self._connected(None)  # a new store at the path
            if store is None:
                return None
        spans = self._queue
        while spans or self._dropped:
            size = self._max_batch
            if len(spans) >= BACKLOG_BATCHES * size:
                size *= BACKLOG_BATCHES
            batch = [spans.popleft() for _ in range(min(len(spans), size))]
            with self._drop_lock:
                dropped, self._dropped = self._dropped, 0
            try:
                prepared = store.prepare_spans(*rows_for(batch, app_busy=self._spans_arriving()), dropped)
            except Exception as exc:  # never let one bad span stop the writer
                self._failed(f"could not convert {count(len(batch), 'span')}: {exc!r}", len(batch) + dropped)
                continue
            try:
                store.write_prepared(prepared)
            except Exception as exc:
                # A StoreError is the store saying it cannot reach its server, or that its file
                # refused the write; another error may be this batch's own (then a server store
                # still answers a ping).
                if isinstance(exc, StoreError) or (self._reconnects and not self._answers(store)):
                    self.write_errors += 1
                    with self._drop_lock:
                        self._dropped += len(batch) + dropped
                    self._lose(store, str(exc), lost=len(batch))
                    return None
                self._failed(
                    f"could not write {count(len(batch), 'span')} to '{self.store_url.shown}': {exc}",
                    len(batch) + dropped,
                )
                return store  # the store may be unusable: try again at the next wake, not in a loop
            self.dropped_total += dropped
            self.batches_written += 1
            self.spans_written += len(batch)
            if self._lost_at is not None:
                self._written_again()
            self._unchecked += len(batch)
            if self._unchecked >= CHECKPOINT_EVERY_SPANS and not self._reconnects:  # a server checkpoints itself
                self._unchecked = 0
                self._checkpointer.request()
        return store

    def _spans_arriving(self) -> Callable[[], bool]:
        """For rows_for's pauses: whether the app ended (or dropped) a span since it was last asked.

        Only this thread takes spans off the queue, and not while it converts, so a longer queue
        means the app is at work and wants the GIL now and then. When the app is quiet - idle, or
        its threads waiting on a model's reply - the writer keeps the GIL for its slices, and a
        thread that wakes in the middle waits once, for the interpreter's switch interval (5 ms)
        at the most, after which its spans make the writer pause again. The sleeps otherwise cost
        the writer a fifth of its speed (benchmarks/bench_store.py)."""
        queue = self._queue
        seen = len(queue) + self._dropped

        def arriving() -> bool:
            nonlocal seen
            now = len(queue) + self._dropped
            arrived, seen = now != seen, now
            return arrived

        return arriving

    def _failed(self, message: str, lost: int) -> None:
        """A batch was lost: count its spans as dropped (the next write records them); say so once."""
        self.failed_batches += 1
        with self._drop_lock:
            self._dropped += lost
        if self.failed_batches == 1:
            logger.warning("casebank: %s", message)

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
    return any(key.startswith(_LLM_PREFIXES) for key in attrs)
