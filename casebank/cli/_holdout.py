"""`cases holdout`: set or show the suite's held-out split (`casebank.audit._split`)."""

from __future__ import annotations

from typing import Annotated

import typer

from casebank.cli import app
from casebank.cli._common import SuiteOption, suite_folder

__all__ = ["holdout"]


@app.command()
def holdout(
    fraction: Annotated[
        float | None,
        typer.Option(
            "--fraction",
            metavar="F",
            help="Hold out this share of cases (0 < F < 1). Without it, show the split.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Change the fraction even though cases move.")] = False,
    suite: SuiteOption = None,
) -> None:
    """Hold out a stable share of the cases: chosen by a hash of each case's id, so the split never moves a
    case and new cases join by the same rule. Kept in holdout.toml in the suite folder (commit it).

    'cases run' then reports dev and holdout pass rates apart; 'cases run --exclude-holdout' leaves
    the held-out cases out (for a prompt-tuning loop).

    \b
    Examples:
        cases holdout --fraction 0.2
        cases holdout
    """
    from casebank.audit._split import read_split, write_split
    from casebank.errors import UsageError
    from casebank.replay._suite import load_suite

    folder = suite_folder(suite)
    ids = [case.id for case in load_suite(folder).cases]
    if fraction is not None:
        split = write_split(folder, fraction, ids, force=force)
    else:
        found = read_split(folder)
        if found is None:
            raise UsageError(
                f"suite folder '{folder}' has no held-out split - create one: cases holdout --fraction 0.2"
            )
        split = found
    held = split.holdout(ids)
    typer.echo(
        f"{len(held)} of {len(ids)} cases held out (fraction {split.fraction:g}), {len(ids) - len(held)} dev; "
        f"split kept in {split.path}"
    )
