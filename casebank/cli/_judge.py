"""`cases label` and `cases judge calibrate`: people's labels, and how well a judge agrees with them.

`label` writes one row to the store's `labels` table; `judge calibrate` grades every labelled
output with a grader configuration file (`{"name": "llm_judge", "options": {...}}`), prints the
agreement and stores it under the configuration's hash, which `cases run` looks up to tell a
calibrated judge from one whose verdicts nobody has checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from casebank._words import count
from casebank.cli import app
from casebank.cli._common import DbOption, JsonFlag, open_store, print_json, project_config
from casebank.cli._traces import console, preview
from casebank.errors import InvalidInput, UsageError

__all__ = ["calibrate", "label"]

judge_app = typer.Typer(
    name="judge",
    help="Check an LLM judge against people's labels.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(judge_app, name="judge")


@app.command()
def label(
    trace_id: Annotated[str, typer.Argument(metavar="TRACE_ID", help="The trace whose output you judge (any prefix).")],
    good: Annotated[bool, typer.Option("--good", help="The output is right.")] = False,
    bad: Annotated[bool, typer.Option("--bad", help="The output is wrong.")] = False,
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help="Why, for whoever reads it.")] = None,
    db: DbOption = None,
) -> None:
    """Label a trace's output good or bad, for calibrating a judge; labelling again replaces it.

    \b
    Example:
        cases label 4bf92f3577b34da6 --bad --note "quotes the old 14-day policy"
    """
    if good == bad:
        raise UsageError("give exactly one of --good or --bad")
    with open_store(db) as store:
        record = store.add_label(trace_id, "good" if good else "bad", note=note)
    typer.echo(f"labelled trace {record['trace_id']} {record['label']}: {preview(record['output'], 60)}")


def _read_grader_file(path: Path) -> dict[str, Any]:
    try:
        spec = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read grader file '{path}': {exc.strerror} - pass a JSON grader spec") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f'grader file \'{path}\' is not JSON ({exc}) - write {{"name": ..., "options": {{...}}}}'
        ) from None
    if not isinstance(spec, dict) or "name" not in spec:
        raise InvalidInput(f'grader file \'{path}\' must be an object with a name, e.g. {{"name": "llm_judge", ...}}')
    return spec


def _rate(value: float | None, hits: int, of: int, what: str) -> str:
    return f"n/a  (no {what} outputs)" if value is None else f"{value:.2f}  ({hits} of {count(of, what + ' output')})"


@judge_app.command()
def calibrate(
    grader_file: Annotated[
        Path,
        typer.Option("--grader-file", metavar="PATH", help='A JSON grader spec: {"name": ..., "options": {...}}.'),
    ],
    suite: Annotated[
        Path | None,
        typer.Option(
            "--suite",
            metavar="DIR",
            help="Suite folder whose cases give labels (default: suite in the project config, else evals/ if it "
            "exists).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a judge over every labelled output and report how well it agrees with people.

    Labels: each promoted case's flagged output (bad) and expected output (good), plus every
    'cases label'. Reports accuracy, Cohen's kappa, true-pass and true-fail rates, the confusion
    matrix and the disagreements, and stores the result under the configuration's hash; 'cases
    run' treats a judge without a calibration, or with kappa below 0.6, as unreliable.

    \b
    Example:
        cases judge calibrate --grader-file judge.json --suite evals/
    """
    spec = _read_grader_file(grader_file)
    from casebank.replay._calibrate import RELIABLE_KAPPA
    from casebank.replay._calibrate import calibrate as run_calibration
    from casebank.replay._suite import DEFAULT_SUITE
    from casebank.replay.graders import make_grader

    if suite is None:
        config = project_config()
        suite = config.suite if config.source("suite") != "default" else None
    make_grader(spec, base_dir=suite if suite is not None else DEFAULT_SUITE)  # a bad spec is refused first
    with open_store(db, create=True) as store:  # the result is stored, so a store is made if need be
        result = run_calibration(store, spec, suite_dir=suite)
    if as_json:
        print_json(result.to_dict())
        return
    c = result.confusion
    good, bad = c["good_passed"] + c["good_failed"], c["bad_passed"] + c["bad_failed"]
    kappa = (
        "n/a (needs good and bad labels, and a judge that says both)" if result.kappa is None else f"{result.kappa:.2f}"
    )
    verdict = "reliable" if result.reliable else f"UNRELIABLE: below {RELIABLE_KAPPA}"
    out = console()
    out.print(
        f"calibrated {result.grader['name']} {result.config_hash[:19]} on {count(result.total, 'labelled output')}"
        + (f" (suite {result.suite})" if result.suite else "")
    )
    out.print(f"accuracy        {result.accuracy:.2f}")
    out.print(f"Cohen's kappa   {kappa}  ({verdict})")
    out.print(f"true-pass rate  {_rate(result.true_pass_rate, c['good_passed'], good, 'good')}")
    out.print(f"true-fail rate  {_rate(result.true_fail_rate, c['bad_failed'], bad, 'bad')}")
    out.print("")
    out.print("               judge PASS  judge FAIL")
    out.print(f"labelled good  {c['good_passed']:>10}  {c['good_failed']:>10}")
    out.print(f"labelled bad   {c['bad_passed']:>10}  {c['bad_failed']:>10}")
    if result.disagreements:
        out.print("")
        out.print(f"disagreements ({len(result.disagreements)}):")
        for d in result.disagreements:
            said = "PASS" if d.passed else "FAIL"
            out.print(f"  {d.source}: people said {d.label}, judge {said} - {preview(d.output, 50)}")
            out.print(f"    {d.reason}")
