"""How `cases run` shows its progress: a bar for a person, plain lines for a CI log.

On a terminal (stdout and stderr both, and no `CI` variable) a rich progress bar on stderr, gone
when the run ends. Anywhere else - a CI job, `cases run > log.txt` - the output is a log that
someone reads later, and a bar would be noise or nothing; stderr gets a line such as

    progress: 12/20 done, 1 failed, 0:00:04 elapsed

at every tenth of the run (so 10 lines, whatever the suite's size) and, between those, whenever
10 seconds have passed since the last line, so that a long run never goes silent: a timer thread
checks every second, because a slow case produces no result to print on. The lines go to stderr,
as the bar does, so that stdout stays the report (`cases run > report.txt` holds the table alone).
The clock is injected, so the 10-second rule is tested without waiting.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casebank.replay._results import CaseResult

__all__ = ["HEARTBEAT_S", "LogProgress", "progress"]

HEARTBEAT_S = 10.0  # the longest a CI log goes without a line while a run goes on
_TICK_S = 1.0  # how often the timer thread looks at the clock


class LogProgress:
    """Progress as lines: at each tenth of `total` results, and after `HEARTBEAT_S` without a line."""

    def __init__(self, total: int, write: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.write = write
        self.clock = clock
        self.started = self.last_line = clock()
        self.done = self.failed = 0
        self.tenths = 0  # tenths of the run already announced
        self.lock = threading.Lock()  # results arrive on the run's loop, ticks on the timer thread

    def on_result(self, result: CaseResult) -> None:
        with self.lock:
            self.done += 1
            self.failed += not result.passed
            tenths = self.done * 10 // self.total if self.total else 10
            if tenths > self.tenths:
                self.tenths = tenths
                self._line()
            else:
                self._line_if_quiet()

    def tick(self) -> None:
        """Write a line if none was written for `HEARTBEAT_S` (the timer thread calls this)."""
        with self.lock:
            self._line_if_quiet()

    def _line_if_quiet(self) -> None:
        if self.clock() - self.last_line >= HEARTBEAT_S:
            self._line()

    def _line(self) -> None:
        now = self.clock()
        self.last_line = now
        elapsed = int(now - self.started)
        hours, rest = divmod(elapsed, 3600)
        self.write(
            f"progress: {self.done}/{self.total} done, {self.failed} failed, "
            f"{hours}:{rest // 60:02d}:{rest % 60:02d} elapsed"
        )


class progress:
    """`with progress(total) as on_result:` the right progress for where stdout goes (or None)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None
        self.stop = threading.Event()
        self.timer: threading.Thread | None = None

    def __enter__(self) -> Callable[[CaseResult], None] | None:
        if not sys.stdout.isatty() or os.environ.get("CI"):
            return self._lines()
        if not sys.stderr.isatty() or self.total < 2:
            return None
        return self._bar()

    def _lines(self) -> Callable[[CaseResult], None]:
        def write(line: str) -> None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()  # a CI log shows the line now, not when a buffer fills

        log = LogProgress(self.total, write)

        def tick() -> None:
            while not self.stop.wait(_TICK_S):
                log.tick()

        self.timer = threading.Thread(target=tick, name="casebank-progress", daemon=True)
        self.timer.start()
        return log.on_result

    def _bar(self) -> Callable[[CaseResult], None]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} not passed"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("run", total=self.total, failed=0)
        failed = 0

        def on_result(result: CaseResult) -> None:
            nonlocal failed
            failed += not result.passed
            self.bar.update(task, advance=1, failed=failed)

        return on_result

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.timer is not None:
            self.timer.join()
        if self.bar is not None:
            self.bar.stop()
