"""Copying the capture writer's WAL into the database, on a thread of its own.

The writer only appends to the write-ahead log; a checkpoint copies the logged pages into the
database file and fsyncs it, so that the log can start over instead of growing. Run by the
writer's own connection, a checkpoint stops the writing for as long as the copy takes: SQLite's
automatic one fired mid-burst and cost a second per 256 MB of log (a third of bench_store's
time). Here a second connection, on its own thread, runs PASSIVE checkpoints when the writer
asks, while the writer goes on appending: SQLite lets one checkpoint run beside one writer, and
the sqlite3 module lets the GIL go while it copies. The writer's connection keeps an automatic
checkpoint at a high cap only as a backstop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from casebank.store._open import StoreURL

logger = logging.getLogger("casebank")


class Checkpointer:
    """A daemon thread that checkpoints the store at `store_url` after each `request()` (requests made while one
    runs are served by the next). Started by the first request; one thread calls `request`."""

    def __init__(self, store_url: StoreURL) -> None:
        self.store_url = store_url
        self._due = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._requested = 0
        self._served = 0  # requests that a finished (or failed) checkpoint answered
        self.checkpoints = 0  # completed

    def request(self) -> None:
        if self._stopping:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="casebank-checkpoint", daemon=True)
            self._thread.start()
        self._requested += 1
        self._due.set()

    def stop(self, timeout_s: float) -> None:
        """Serve what was requested (within `timeout_s`), then close the connection."""
        self._stopping = True
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        store: Any = None
        try:
            while True:
                self._due.wait()
                self._due.clear()
                while (requested := self._requested) > self._served:
                    try:
                        if store is None:
                            from casebank.store import open_store

                            store = open_store(self.store_url)
                        store.checkpoint()
                        self.checkpoints += 1
                    except Exception as exc:  # nothing is lost: the log keeps the rows, and the
                        # writer's automatic checkpoint still bounds it
                        logger.debug("casebank: WAL checkpoint of '%s' failed: %s", self.store_url.shown, exc)
                    self._served = requested
                if self._stopping:
                    return
        finally:
            if store is not None:
                store.close()
