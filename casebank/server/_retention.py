"""`retention_days`: a background thread of `cases serve` that prunes the store once a day.

It prunes at start and then every 24 hours, deleting traces older than `retention_days` that no
incident references (`Store.prune`). With several servers on one store each prunes; prune is one
transaction and deleting what is already gone deletes nothing, so that is only repeated work.
A failed prune is logged and tried again at the next turn; it never stops the server.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from casebank.server._calls import StoreCalls

__all__ = ["PRUNE_EVERY_S", "Retention"]

logger = logging.getLogger("casebank.server")

PRUNE_EVERY_S = 24 * 3600.0


class Retention:
    def __init__(self, calls: StoreCalls, days: int, every_s: float = PRUNE_EVERY_S) -> None:
        self._calls, self._days, self._every_s = calls, days, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="casebank-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def prune_once(self) -> dict[str, int] | None:
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self._days)
        older_than = cutoff.isoformat(timespec="milliseconds")
        try:
            pruned = self._calls.call_blocking(self._calls.store.prune, older_than)
        except Exception as exc:
            logger.warning("casebank: pruning traces older than %s failed (tried again later): %s", older_than, exc)
            return None
        logger.info(
            "casebank: pruned %d trace(s), %d span(s) older than %s (retention_days = %d)",
            pruned.get("traces", 0),
            pruned.get("spans", 0),
            older_than,
            self._days,
        )
        return pruned

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.prune_once()
            self._stop.wait(self._every_s)
