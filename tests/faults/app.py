"""A product under test: `casebank.init()` into a store, then traced calls on command.

Run as a process of its own (`tests/faults/_apps.py` starts it), so that a fault can be put on it
from outside - a full disk, a file-size limit, a store made read-only or deleted, its database
restarted, `kill -9`. It reads one command a line on stdin and answers each with one JSON line on
stdout, which is how a test keeps in step with it (never by sleeping):

    call N [SIZE] [LABEL]  N calls of a traced function (answers of SIZE characters); answers
                           {"calls", "failed"}: calls that raised into the app (never any)
    flush                  casebank.flush(), then the stats
    stats                  capture's stats (`StoreSpanProcessor.stats()`) and the calls so far
    busy LABEL             traced calls without end, printing {"ready": true} after the first
                           flushed batch, for a test that kills the process mid-write
    quit                   casebank.shutdown(), the stats, exit 0

casebank logs to stderr (INFO and up), where the test counts its warnings. The backoffs are cut
to a few tens of milliseconds (module constants, the one knob), so that a test waits briefly.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

import casebank
import casebank.capture._processor as processor_module
from casebank._runtime import state

calls = 0
failed = 0


@casebank.trace
def answer(question: str, size: int) -> str:
    return (question + " ") * max(1, size // (len(question) + 1))


def _call(n: int, size: int, label: str) -> None:
    global calls, failed
    for i in range(n):
        calls += 1
        try:
            answer(f"{label} {calls} {i}", size)
        except Exception:
            failed += 1


def _stats() -> dict[str, Any]:
    processor: Any = state.processor
    stats = processor.stats() if processor is not None else {}
    return {**stats, "calls": calls, "failed": failed}


def _say(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main() -> None:
    # A file-size limit must refuse the write (EFBIG), not kill the process (SIGXFSZ's default).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    processor_module.RECONNECT_FIRST_S = 0.02
    processor_module.REOPEN_MAX_S = 0.1
    processor_module.RECONNECT_MAX_S = 0.2
    casebank.init(db=os.environ["CASEBANK_DB"], instrument=False)
    _say({"ready": state.processor is not None})
    for line in sys.stdin:
        command, *args = line.split()
        if command == "call":
            _call(int(args[0]), int(args[1]) if len(args) > 1 else 10, args[2] if len(args) > 2 else "call")
            _say({"calls": calls, "failed": failed})
        elif command == "flush":
            casebank.flush(30)
            _say(_stats())
        elif command == "stats":
            _say(_stats())
        elif command == "busy":
            _call(200, 2000, args[0])
            casebank.flush(30)
            _say({"ready": True})
            while True:
                _call(200, 2000, args[0])
        elif command == "quit":
            processor: Any = state.processor
            casebank.shutdown()
            _say({**processor.stats(), "calls": calls, "failed": failed})
            return


if __name__ == "__main__":
    main()
