"""`cases demo`: the whole loop on the bundled example bot. The script lives in `casebank._demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from casebank._demo import run_demo
from casebank.cli import app

__all__: list[str] = []


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo's temporary folder and print its path, to look around.")
    ] = False,
) -> None:
    """Run the whole loop - capture, flag, annotate, promote, replay - on a bundled example support bot.

    Everything happens in a fresh temporary folder, with a deterministic local stand-in for the
    model: no network, no key. Each step prints the command you would type and its real output.
    Exits 0 when every step behaved as expected, 1 otherwise.

    \b
    Example:
        cases demo --keep
    """
    raise typer.Exit(run_demo(keep=keep))
