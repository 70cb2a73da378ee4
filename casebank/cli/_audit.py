"""`cases audit`: is the suite still worth trusting? Runs the audits of `casebank.audit`.

Every audit runs when none is named, in `AUDIT_NAMES` order. Each prints a verdict line and its
findings (an audit module may shape its own lines with `lines(result)`), or with --json the list
of `AuditResult.as_dict()`. The exit code is 0 whatever the audits found, unless --strict: then
1 when any audit failed, so that a team can put it in CI; 2 for a usage error, as everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, SuiteOption, open_store, print_json, suite_folder
from casebank.errors import CasebankError, InvalidInput

if TYPE_CHECKING:
    from casebank.audit import AuditResult
    from casebank.replay import Case
    from casebank.replay._suite import Suite
    from casebank.store import Store

__all__ = ["audit", "cheap_results", "promote_warnings", "result_lines", "summary_line"]

SIMILARITIES = ("shingles", "embeddings")  # how the coverage audit compares traffic with cases

_MARK = {True: "ok  ", False: "FAIL"}


@app.command()
def audit(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[leakage|coverage|freshness|size|graders|duplicates]...",
            help="The audits to run. Default: all.",
            show_default=False,
        ),
    ] = None,
    suite: SuiteOption = None,
    prompts: Annotated[
        str | None,
        typer.Option(
            "--prompts", metavar="GLOB", help="Prompt files to search for leaked cases (leakage).", show_default=False
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, metavar="N", help="Traffic of the last N days to cover (coverage).")
    ] = 7,
    stale_days: Annotated[
        int, typer.Option("--stale-days", min=1, metavar="N", help="Fail when no case was added in N days (freshness).")
    ] = 60,
    similarity: Annotated[
        str,
        typer.Option(
            "--similarity",
            metavar="shingles|embeddings",
            help="How coverage compares traffic with cases: shared words, or meaning (the embeddings extra).",
        ),
    ] = "shingles",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of the audits' results.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any audit fails (for CI).")] = False,
    db: DbOption = None,
) -> None:
    """Check the suite against its own traps: leaked cases, uncovered traffic, staleness, too few cases,
    graders that judge the wrong thing, near-duplicates.

    \b
    Examples:
        cases audit
        cases audit size graders --strict
        cases audit leakage --prompts 'prompts/**/*.txt' --json
        cases audit freshness --stale-days 30
        cases audit coverage --similarity embeddings
    """
    from casebank.audit import AUDIT_NAMES, AuditContext, run_audit
    from casebank.replay._suite import load_suite
    from casebank.store import utc_now

    chosen = list(dict.fromkeys(names or AUDIT_NAMES))
    unknown = [name for name in chosen if name not in AUDIT_NAMES]
    if unknown:
        raise InvalidInput(f"no audit '{unknown[0]}' - choose from {', '.join(AUDIT_NAMES)}")
    if similarity not in SIMILARITIES:
        raise InvalidInput(f"--similarity '{similarity}' is not known - choose {' or '.join(SIMILARITIES)}")
    folder = suite_folder(suite)
    loaded = load_suite(folder)
    options: dict[str, Any] = {"prompts": prompts, "days": days, "stale_days": stale_days, "similarity": similarity}
    store = _store(db)
    try:
        context = AuditContext(suite_dir=folder, cases=loaded.cases, store=store, now=utc_now(), options=options)
        results = [run_audit(name, context) for name in chosen]
    finally:
        if store is not None:
            store.close()
    if as_json:
        print_json([result.as_dict() for result in results])
    else:
        for result in results:
            for line in result_lines(result):
                typer.echo(line)
    raise typer.Exit(1 if strict and not all(result.ok for result in results) else 0)


def _store(db: str | None) -> Store | None:
    """The store, or None when there is none yet and none was named (audits of the suite alone still run)."""
    try:
        return open_store(db)
    except CasebankError:
        if db is not None:
            raise
        return None


def result_lines(result: AuditResult) -> list[str]:
    """The verdict line and the findings, as `cases audit` prints them."""
    if result.skipped is not None:
        return [f"skip {result.name}: {result.skipped}"]
    lines = [f"{_MARK[result.ok]} {result.name}: {result.summary}"]
    module = importlib.import_module(f"casebank.audit._{result.name}")
    shape = getattr(module, "lines", None)
    body = shape(result) if callable(shape) else [_generic(finding) for finding in result.findings]
    return lines + [f"     {line}" for line in body]


def _generic(finding: dict[str, Any]) -> str:
    if "problem" in finding:
        who = finding.get("case_id") or ", ".join(finding.get("case_ids") or [])
        return f"{who + ': ' if who else ''}{finding['problem']} - {finding.get('fix', '')}".rstrip(" -")
    return ", ".join(f"{key} {value}" for key, value in finding.items())


def cheap_results(
    suite_dir: Path, cases: Sequence[Case], store: Store | None, focus: Sequence[str] = ()
) -> list[AuditResult]:
    """The cheap audits (`CHEAP_AUDITS`), with nothing that waits; `focus`: only what concerns these cases."""
    from casebank.audit import CHEAP_AUDITS, AuditContext, run_audit
    from casebank.store import utc_now

    options: dict[str, Any] = {"cheap": True, "focus": list(focus)}
    context = AuditContext(suite_dir=suite_dir, cases=cases, store=store, now=utc_now(), options=options)
    return [run_audit(name, context) for name in CHEAP_AUDITS]


def summary_line(suite: Suite, store: Store | None) -> str:
    """`cases run`'s last line: each cheap audit's verdict, and where to see more."""
    try:
        results = cheap_results(suite.folder, suite.cases, store)
    except CasebankError as exc:  # the audit line never changes a run's outcome
        return f"audit: could not run ({exc})"
    verdicts = ", ".join(f"{result.name} {'ok' if result.ok else 'FAIL'}" for result in results)
    failed = [result.name for result in results if not result.ok]
    more = f" - see 'cases audit {' '.join(failed)}'" if failed else " ('cases audit' runs every audit)"
    return f"audit: {verdicts}{more}"


def promote_warnings(suite_dir: Path, case_id: str, store: Store | None) -> list[str]:
    """What the cheap audits find about a newly promoted case, as warning lines (never a refusal)."""
    from casebank._words import count
    from casebank.replay._stats import points
    from casebank.replay._suite import load_suite

    try:
        suite = load_suite(suite_dir)
        results = cheap_results(suite_dir, suite.cases, store, focus=[case_id])
    except CasebankError as exc:  # another case file being broken is `cases run`'s to report, not promote's
        return [f"the audits could not look at the new case: {exc}"]
    warnings = []
    for result in results:
        if result.name == "size":
            for row in result.findings[1:]:
                if row["too_small"]:
                    drop = row["detectable_drop"]
                    sees = "no regression at all" if drop is None else f"no regression under {points(drop)}"
                    warnings.append(
                        f"tag '{row['tag']}' has {count(row['cases'], 'case')}, under 20: alone it shows {sees}"
                    )
        elif result.name == "graders":
            warnings += [f"grader: {finding['problem']} - {finding['fix']}" for finding in result.findings]
    return warnings
