"""A support tool flagging a store's traces, in a process of its own, until told to stop.

`python flagger.py DB RECORD STOP`: flags recent traces one by one with `casebank.flag`, and after
each flag that returned appends the incident's id to RECORD and fsyncs it - so RECORD lists only
flags that were acknowledged, whenever this process is killed. Prints `flagged N` after each, for
the test to keep in step; an error from a flag goes to stderr (the test asserts there are none of
the kinds a user must never see). Stops when the file STOP exists.
"""

from __future__ import annotations

import os
import sys
import traceback

import casebank
from casebank.errors import CasebankError
from casebank.store import open_store


def main() -> None:
    db, record, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    flagged: set[str] = set()
    done = 0
    with open(record, "a") as out:
        while not os.path.exists(stop):
            try:
                with open_store(db, create=False) as store:
                    candidates = [t.trace_id for t in store.recent_traces(50) if t.trace_id not in flagged]
            except CasebankError as exc:  # no store yet: the app has not written
                sys.stderr.write(f"not yet: {exc}\n")
                continue
            for trace_id in candidates[:5]:
                try:
                    incident_id = casebank.flag(trace_id, reason="wrong answer", flagged_by="support", db=db)
                except Exception:
                    sys.stderr.write(traceback.format_exc())
                    continue
                out.write(f"{incident_id}\n")
                out.flush()
                os.fsync(out.fileno())
                flagged.add(trace_id)
                done += 1
                sys.stdout.write(f"flagged {done}\n")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
