"""`cases run`: replay the suite against the code as it is now, grade it, record it, report it.

The exit code is the CI gate (`--fail-on`): with `any` (the default without a baseline) 1 when
any case failed or raised; with `regression` (the default with `--baseline`) 1 only when a case
that passed in the baseline does not pass now; with `significant` 1 only when the drop passes
the exact McNemar test. 2 when the suite, a target or an option could not be used (a tampered
case, an unimportable entry point, a baseline that does not exist), 130 when Ctrl-C cut the run
short - the partial run is stored, marked interrupted, and its partial report printed.

Everything that can be checked before the run is: the suite is loaded, verified and selected,
the store is opened (created if missing, as on a fresh CI machine), the baseline is read, and
only then does any case run, so a bad --db or --baseline does not cost a whole replay. The
store is also where the run caches embeddings and judge verdicts, and where it finds the judge
calibrations that decide which verdicts the report marks unreliable (†). The replay package
is imported inside the command so that `cases --help` does not pay for it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from casebank.cli import app
from casebank.cli._common import DbOption, SuiteOption, open_store, output_width, project_config
from casebank.cli._progress import progress
from casebank.errors import InvalidInput
from casebank.replay._report_formats import BUILTIN_FORMATS

if TYPE_CHECKING:
    from casebank.replay._results import RunReport
    from casebank.store import Store

__all__ = ["run", "write_file"]

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="MODULE:FUNC",
        help="Call this function for every case instead of each case's recorded entry point.",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        metavar="N",
        help="Cases in flight at once. Default: the project config's, else 8.",
        show_default=False,
    ),
]
FailOnOption = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        metavar="any|regression|significant",
        help="Exit 1 when any case fails; when a case that passed in the baseline fails; or only when the drop "
        "is statistically significant (McNemar). Default: the project config's, else regression with --baseline, "
        "else any.",
        show_default=False,
    ),
]
INTERRUPTED_EXIT = 130
# Each file option of `cases run` and the report format it writes.
FILE_OPTIONS = {"--json": "json", "--junit": "junit", "--markdown": "markdown", "--html": "html"}


def _also_write(option: str) -> str:
    return f"Also write {BUILTIN_FORMATS[FILE_OPTIONS[option]].help} here."


@app.command()
def run(
    suite: SuiteOption = None,
    target: TargetOption = None,
    concurrency: ConcurrencyOption = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            "--epochs",
            min=1,
            metavar="K",
            help="Run each case K times; report flaky cases. Default: the project config's, else 1.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Fail a case that runs longer ('timed out'). Default: the project config's, else no limit.",
            show_default=False,
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, metavar="N", help="Retry transient errors (rate limits, timeouts, 5xx) N times."
        ),
    ] = 0,
    retry_on: Annotated[
        list[str] | None,
        typer.Option(
            "--retry-on",
            metavar="CLASS",
            help="Also retry exceptions of this class: a name the entry points' modules define, a built-in "
            "exception, or MODULE:CLASS (repeatable).",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG", help="Run only cases with this tag (repeatable).", show_default=False),
    ] = None,
    case: Annotated[
        list[str] | None,
        typer.Option(
            "--case", metavar="ID", help="Run only this case (id or unique prefix; repeatable).", show_default=False
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="I/N", help="Run a stable 1/N of the suite: shard I of N.", show_default=False),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", metavar="RUN|latest|PATH.json", help="Compare case by case with this run.", show_default=False
        ),
    ] = None,
    fail_on: FailOnOption = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", metavar="PATH", dir_okay=False, show_default=False, help=_also_write("--json")),
    ] = None,
    junit_path: Annotated[
        Path | None,
        typer.Option("--junit", metavar="PATH", dir_okay=False, show_default=False, help=_also_write("--junit")),
    ] = None,
    markdown_path: Annotated[
        Path | None,
        typer.Option("--markdown", metavar="PATH", dir_okay=False, show_default=False, help=_also_write("--markdown")),
    ] = None,
    html_path: Annotated[
        Path | None,
        typer.Option("--html", metavar="PATH", dir_okay=False, show_default=False, help=_also_write("--html")),
    ] = None,
    frozen_tools: Annotated[
        bool | None,
        typer.Option(
            "--frozen-tools/--live-tools",
            help="Answer every case's @casebank.tool calls from its recorded fixtures, or run every tool live. "
            "Default: as each case says (cases annotate --frozen-tools), else live.",
            show_default=False,
        ),
    ] = None,
    on_missing_fixture: Annotated[
        str,
        typer.Option(
            "--on-missing-fixture",
            metavar="fail|live",
            help="A frozen tool call with no recorded answer fails its case, or runs the tool live.",
        ),
    ] = "fail",
    exclude_holdout: Annotated[
        bool,
        typer.Option("--exclude-holdout", help="Leave out the held-out cases ('cases holdout'), e.g. while tuning."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Replay every case in the suite against the current code and grade it; exit 1 if the gate fails.

    Each case's entry point is imported from the current folder (as `python -m` does) and called
    with the case's recorded input. The run and every result are stored. --suite, --concurrency,
    --epochs, --timeout, --fail-on and --db default to the project config ('cases config').
    When stdout is not a terminal (CI), a progress line goes to stderr at every tenth of the run
    and after any 10 seconds without one. With --frozen-tools (or frozen_tools = true in the
    config), each @casebank.tool call is answered from the case's recorded fixtures (LLM calls
    always run live); a call with no recorded answer fails the case unless --on-missing-fixture live.
    With a held-out split ('cases holdout'), dev and holdout pass rates are reported apart. The run
    ends with one line from the cheap audits (freshness, size, graders; 'cases audit' for the rest).

    \b
    Examples:
        cases run --suite evals/ --concurrency 16 --junit reports/cases.xml
        cases run --baseline latest --epochs 3 --markdown comment.md
        cases run --html reports/cases.html
        cases run --shard 2/4 --timeout 30 --retries 3
        cases run --frozen-tools --on-missing-fixture live
        cases run --exclude-holdout
    """
    from rich.console import Console

    from casebank.audit._split import read_split, split_lines
    from casebank.cli._audit import summary_line
    from casebank.replay._api import run_suite
    from casebank.replay._compare import FAIL_ON, comparison_lines, comparison_markdown, exit_code
    from casebank.replay._report_table import render_table
    from casebank.replay._select import parse_shard, select
    from casebank.replay._stats import outcomes
    from casebank.replay._suite import load_suite

    config = project_config(suite=suite, concurrency=concurrency, epochs=epochs, timeout=timeout, fail_on=fail_on)
    suite, concurrency, epochs, timeout = config.suite, config.concurrency, config.epochs, config.timeout
    gate = config.fail_on or ("regression" if baseline else "any")
    if gate not in FAIL_ON:
        raise InvalidInput(f"--fail-on '{gate}' is not one of {', '.join(FAIL_ON)} - pick one")
    if gate != "any" and baseline is None:
        if fail_on is not None:
            raise InvalidInput(f"--fail-on {gate} needs a baseline - pass --baseline RUN|latest|PATH.json")
        gate = "any"  # the file's gate is for runs against a baseline; a run without one fails on any failure
    whole = load_suite(suite)
    split = read_split(suite)
    loaded = select(whole, tags=tag or (), case_ids=case or (), shard=parse_shard(shard) if shard else None)
    holdout = split.holdout(case.id for case in whole.cases) if split is not None else set()
    if exclude_holdout:
        if split is None:
            raise InvalidInput(
                f"suite folder '{suite}' has no held-out split - create one: cases holdout --fraction 0.2"
            )
        loaded = replace(loaded, cases=[case for case in loaded.cases if case.id not in holdout])
        holdout = set()
    with open_store(db, create=True) as store:
        with progress(len(loaded.cases) * epochs) as on_result:  # selected here: the bar needs the count
            report = run_suite(
                loaded,
                target=target,
                concurrency=concurrency,
                epochs=epochs,
                baseline=baseline,
                timeout=timeout,
                retries=retries,
                retry_on=retry_on or (),
                on_result=on_result,
                handle_sigint=True,
                store=store,
                origin="cli",
                # the config's frozen_tools = true freezes every case; unset, each case says
                frozen_tools=frozen_tools if frozen_tools is not None else (True if config.frozen_tools else None),
                on_missing_fixture=on_missing_fixture,
                factories=config.factories,
                redact=config.redact,  # with the secret nets, on what results and reports keep of outputs and errors
            )
        store_path = store.location
        # The HTML page draws this run among the stored ones (its charts): rendered while the store is open.
        html_text = _stored_html(report, store) if html_path is not None else None
        audit_line = None if report.status == "interrupted" else summary_line(whole, store)
    console = Console(markup=False, highlight=False, emoji=False, width=output_width())
    render_table(report, console)
    for line in split_lines(outcomes(report.results), holdout):
        console.print(line, soft_wrap=True)
    comparison = report.comparison
    if comparison is not None:
        for line in comparison_lines(comparison):
            console.print(line, soft_wrap=True)
    console.print(f"run {report.id} recorded in {store_path}", soft_wrap=True)
    files = (("--json", json_path), ("--junit", junit_path), ("--markdown", markdown_path), ("--html", html_path))
    for option, path in files:
        if path is not None:
            text = (
                html_text
                if option == "--html" and html_text is not None
                else BUILTIN_FORMATS[FILE_OPTIONS[option]].render(report)
            )
            if option == "--markdown" and comparison is not None:  # the comment also says what changed
                text += "\n" + comparison_markdown(comparison)
            write_file(option, path, text)
            console.print(f"wrote {path}", soft_wrap=True)
    if audit_line is not None:
        console.print(audit_line, soft_wrap=True)
    code = INTERRUPTED_EXIT if report.status == "interrupted" else exit_code(report, comparison, gate)
    if report.status == "interrupted" or any(result.timed_out for result in report.results):
        # A sync target abandoned in its thread (Ctrl-C, --timeout) would hold the interpreter's exit
        # until it returns; everything is recorded and written, so leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def _stored_html(report: RunReport, store: Store) -> str:
    render_stored = BUILTIN_FORMATS["html"].render_stored
    return render_stored(report, store) if render_stored is not None else BUILTIN_FORMATS["html"].render(report)


def write_file(option: str, path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {option} file '{path}': {exc.strerror} - pass a writable path") from None
