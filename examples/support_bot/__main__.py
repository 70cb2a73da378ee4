"""`python -m support_bot tickets.jsonl`: answer each ticket, one JSON line per answer.

Each line carries the trace id of the answer, as a support tool would show it next to the
reply, so that a wrong reply can be flagged with `cases flag TRACE_ID --reason ...`. The store
is `$CASEBANK_DB`, else `.casebank/casebank.db` in the current folder.
"""

from __future__ import annotations

import json
import sys

import casebank

from .bot import answer_with_trace_id


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write('usage: python -m support_bot TICKETS.jsonl  (one {"ticket": "..."} object a line)\n')
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        tickets = [json.loads(line)["ticket"] for line in fh if line.strip()]
    casebank.init(service_name="support-bot")
    try:
        for ticket in tickets:
            reply, trace_id = answer_with_trace_id(ticket)
            print(json.dumps({"ticket": ticket, "answer": reply, "trace_id": trace_id}), flush=True)
    finally:
        # Traces are written by a background thread; make sure they are in the store before exit.
        casebank.flush()
        casebank.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
