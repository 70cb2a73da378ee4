"""Runs kept for later: storing a run, reading one back, and joining the runs of a sharded suite.

A run is stored as one `runs` row and one `results` row per case and epoch (`record`, one
transaction), and read back by id, unique prefix or `latest` (`load_run`) in suite order, so a
stored run re-renders in any report format and serves as a baseline. A run from another machine
comes as the JSON file `cases run --json` wrote (`report_from_dict`); a file that is not such a
run is a usage error that names the file, not a traceback. What is read back goes through the
secret nets again (`read_back`): a run that an older casebank stored, or a file it wrote, may
hold a secret the code returned or raised, and no report or page may show it.

`merge_reports` joins the runs of disjoint shards (`--shard I/N`) into one run with a new id: a
case in two of them, or a run given twice, is refused rather than counted twice. The merged
suite hash is a hash of the shards' hashes (sorted), so the same shards give the same hash
whatever order they are named in. `git_commit` records which code a run replayed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence

from casebank._words import a
from casebank.errors import InvalidInput, NotFound
from casebank.replay._redaction import read_back
from casebank.replay._results import RunReport
from casebank.store import Store

__all__ = ["git_commit", "load_run", "merge_reports", "record", "report_from_dict", "stored_baseline"]


def record(store: Store, report: RunReport) -> None:
    """Store the run and every result in one transaction."""
    store.record_run(report.row(), [result.row(report.id) for result in report.results])


def load_run(store: Store, ref: str) -> RunReport:
    """A stored run by id, unique id prefix or `latest`."""
    run = store.resolve_run(ref)
    rows = store.run_results(run["id"], suite_order=True)
    return read_back(RunReport.from_dict({**run, "results": rows}))


def stored_baseline(store: Store, report: RunReport) -> RunReport | None:
    """The run `report` was compared with when it ran (`cases run --baseline`), if the store still
    holds it; None for a run without one (or whose baseline was a file, or has been pruned)."""
    if not report.baseline_id or report.baseline_id == report.id:
        return None
    try:
        return load_run(store, report.baseline_id)
    except NotFound:
        return None


def report_from_dict(data: object, source: str) -> RunReport:
    """A run from the JSON that `--json` writes (`report_dict`); `source` names the file in errors."""
    try:
        if not isinstance(data, Mapping):
            raise TypeError(f"a run is a JSON object, not {a(type(data).__name__)}")
        report = RunReport.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(
            f"'{source}' is not a run written by 'cases run --json' ({type(exc).__name__}: {exc}) - pass such a file"
        ) from None
    return read_back(report)


def merge_reports(reports: Sequence[RunReport]) -> RunReport:
    """One run from several that ran disjoint parts of a suite (`--shard`): results joined, a new id."""
    runs = [report.id for report in reports]
    if len(set(runs)) < len(runs):
        again = next(run for run in runs if runs.count(run) > 1)
        raise InvalidInput(f"run {again} is given twice - merge each shard's run once")
    seen: dict[str, str] = {}
    for report in reports:
        for case_id in dict.fromkeys(r.case_id for r in report.results):
            if case_id in seen and seen[case_id] != report.id:
                raise InvalidInput(
                    f"case '{case_id}' is in both run {seen[case_id]} and run {report.id} - merge disjoint shards only"
                )
            seen[case_id] = report.id
    first = reports[0]
    hashes = "\n".join(sorted(report.suite_hash for report in reports))
    return RunReport(
        id=secrets.token_hex(6),
        started_at=min(report.started_at for report in reports),
        finished_at=max(report.finished_at for report in reports),
        suite=first.suite,
        suite_hash="sha256:" + hashlib.sha256(hashes.encode()).hexdigest() if len(reports) > 1 else first.suite_hash,
        target=first.target,
        concurrency=first.concurrency,
        results=[result for report in reports for result in report.results],
        epochs=max(report.epochs for report in reports),
        git_commit=first.git_commit,
        status="interrupted" if any(r.status == "interrupted" for r in reports) else "finished",
        origin=first.origin if all(report.origin == first.origin for report in reports) else None,
    )


def git_commit(folder: str | os.PathLike[str] | None = None) -> str | None:
    """`git rev-parse HEAD` in `folder`, or None outside a repository, without git, or if git hangs."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else None
