"""The world as it was, through the real `cases` command: a retrieval-backed bot whose index changes
after its case was promoted. Replayed live, the case tests the drift; frozen, the change under review."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT, Cases

BOT_V1 = """
    import dataclasses
    import json
    import pathlib

    import casebank

    @dataclasses.dataclass
    class Passage:
        topic: str
        text: str

    @casebank.tool
    def search_index(query: str) -> list[Passage]:
        index = json.loads(pathlib.Path("index.json").read_text())
        return [Passage(**entry) for entry in index if query in entry["topic"]]

    @casebank.trace
    def answer(question: str) -> str:
        search_index("refund")
        return "Please contact support."  # the bug: it never reads what it retrieved
"""

BOT_V2 = """
    import dataclasses
    import json
    import pathlib

    import casebank

    @dataclasses.dataclass
    class Passage:
        topic: str
        text: str

    @casebank.tool
    def search_index(query: str) -> list[Passage]:
        index = json.loads(pathlib.Path("index.json").read_text())
        return [Passage(**entry) for entry in index if query in entry["topic"]]

    @casebank.trace
    def answer(question: str) -> str:
        passages = search_index("refund")
        # The fix under review: answer from what was retrieved (as Passage objects, frozen or live).
        return " ".join(passage.text for passage in passages) or "I don't know."
"""


def _write(tmp_path: Path, bot: str, index: list[dict[str, str]]) -> None:
    (tmp_path / "support_rag.py").write_text(textwrap.dedent(bot))
    (tmp_path / "index.json").write_text(orjson.dumps(index).decode())


def _capture(tmp_path: Path, db: Path) -> str:
    """The app in its own process, as in production: casebank.init(), one question; the trace's id."""
    env = dict(os.environ, CASEBANK_DB=str(db), PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), str(tmp_path)]))
    env.pop("CASEBANK_REPLAY", None)
    code = (
        "import casebank, support_rag\n"
        "casebank.init()\n"
        "print(support_rag.answer('How long do I have to ask for a refund?'))\n"
        "casebank.shutdown()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    with open_store(db) as store:
        (trace,) = store.recent_traces(limit=10)
        return trace.trace_id


def test_a_retrieval_bot_whose_index_changed_fails_live_and_passes_frozen(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    _write(tmp_path, BOT_V1, [{"topic": "refund", "text": "Refunds within 14 days."}])
    trace_id = _capture(tmp_path, db)

    flagged = cases("flag", trace_id, "--reason", "did not answer from the policy")
    assert flagged.code == 0, flagged.err
    with open_store(db) as store:
        incident_id = store.list_incidents()[0].id
    annotated = cases("annotate", incident_id, "--grader", "contains", "--expected", "14 days")
    assert annotated.code == 0, annotated.err
    promoted = cases("promote", incident_id)
    assert promoted.code == 0, promoted.err
    (case_file,) = (tmp_path / "evals").glob("*.json")
    case = orjson.loads(case_file.read_bytes())
    assert case["fixtures"] == [
        {
            "order": 0,
            "name": "search_index",
            "function": "support_rag:search_index",
            "arguments": {"query": "refund"},
            "result": [{"topic": "refund", "text": "Refunds within 14 days."}],
        }
    ]
    assert "frozen_tools" not in case

    # Weeks later: the bot is fixed, and the index has moved on.
    _write(tmp_path, BOT_V2, [{"topic": "refund", "text": "Refunds within 30 days."}])

    live = cases("run")
    assert live.code == 1, live.out
    assert "tool calls: 0 from fixtures, 1 live" in live.out

    frozen = cases("run", "--frozen-tools", "--json", "run.json")
    assert frozen.code == 0, frozen.out + frozen.err
    assert "1/1 passed" in frozen.out
    assert "tool calls: 1 from fixtures, 0 live" in frozen.out
    (result,) = orjson.loads((tmp_path / "run.json").read_bytes())["results"]
    assert (result["output"], result["tools_frozen"], result["tools_live"]) == ("Refunds within 14 days.", 1, 0)

    with open_store(db) as store:
        assert len(store.recent_traces(limit=10)) == 1  # the replays wrote no traces


def test_a_case_annotated_with_frozen_tools_replays_frozen_by_default(cases: Cases, tmp_path: Path, db: Path) -> None:
    _write(tmp_path, BOT_V1, [{"topic": "refund", "text": "Refunds within 14 days."}])
    trace_id = _capture(tmp_path, db)
    assert cases("flag", trace_id, "--reason", "did not answer from the policy").code == 0
    with open_store(db) as store:
        incident_id = store.list_incidents()[0].id
    annotated = cases("annotate", incident_id, "-g", "contains", "--expected", "14 days", "--frozen-tools")
    assert annotated.code == 0, annotated.err
    assert cases("promote", incident_id).code == 0
    (case_file,) = (tmp_path / "evals").glob("*.json")
    case = orjson.loads(case_file.read_bytes())
    assert case["frozen_tools"] is True
    assert case["grader"] == {"name": "contains", "options": {}}

    _write(tmp_path, BOT_V2, [{"topic": "refund", "text": "Refunds within 30 days."}])

    assert cases("run").code == 0
    assert cases("run", "--live-tools").code == 1


def test_a_missing_fixture_fails_the_case_or_runs_live(cases: Cases, tmp_path: Path, db: Path) -> None:
    _write(tmp_path, BOT_V1, [{"topic": "refund", "text": "Refunds within 14 days."}])
    trace_id = _capture(tmp_path, db)
    assert cases("flag", trace_id, "--reason", "did not answer from the policy").code == 0
    with open_store(db) as store:
        incident_id = store.list_incidents()[0].id
    assert cases("annotate", incident_id, "-g", "contains", "--expected", "14 days").code == 0
    assert cases("promote", incident_id).code == 0
    # Today's bot asks the index a different question than the recorded trace did.
    _write(
        tmp_path,
        BOT_V2.replace('search_index("refund")', 'search_index("refunds")'),
        [{"topic": "refunds", "text": "Refunds within 14 days."}],
    )

    failed = cases("run", "--frozen-tools", "--json", "failed.json")
    assert failed.code == 1
    (result,) = orjson.loads((tmp_path / "failed.json").read_bytes())["results"]
    assert result["reason"] == 'frozen tools: no recorded answer for tool call search_index({"query":"refunds"})'
    live = cases("run", "--frozen-tools", "--on-missing-fixture", "live", "--json", "run.json")
    assert live.code == 0, live.out
    (result,) = orjson.loads((tmp_path / "run.json").read_bytes())["results"]
    assert (result["tools_frozen"], result["tools_live"]) == (0, 1)
    assert result["unused_fixtures"] == ['search_index({"query":"refund"})']

    bad = cases("run", "--on-missing-fixture", "skip")
    assert bad.code == 2
    assert bad.err.strip() == "error: --on-missing-fixture 'skip' is not one of fail, live - pick one"
