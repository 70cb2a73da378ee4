"""`cases annotate`: what the answer should have been, and how a replay is judged against it.

`annotate` checks everything it was given - the expected output parses, the grader exists and
accepts its options, the expected value is one that grader can grade with (a pattern that
compiles, test code) - before it writes anything, so a typo never leaves a half-annotated
incident behind. Expected output comes from exactly one place: `--expected` (text),
`--expected-json`, `--expected-file`, or, on a terminal only, `$EDITOR` with a template that
shows what was flagged; a script that forgets the option gets a usage error, not a hung editor.

The graders part of `cases annotate --help` is generated from the grader registry when help is
asked for (`AnnotateCommand`), so a plug-in grader is listed and nothing is written down twice;
the registry is not consulted for a plain `cases annotate`. This module also holds what the
incident commands share (the ID argument, how a value is shown), because `_incidents` registers
`annotate` between `show` and `dismiss`, keeping the loop's order in `cases --help`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import click
import orjson
import typer
from typer.core import TyperCommand

from casebank.cli._common import DbOption, SuiteOption, is_interactive, open_store, parse_options, suite_folder
from casebank.cli._traces import preview
from casebank.errors import InvalidInput, InvalidTransition, UsageError
from casebank.replay._promote import FROZEN_TOOLS_KEY, sanity_check
from casebank.replay.graders import DEFAULT_GRADER, make_grader
from casebank.store import Incident, check_can_annotate

__all__ = ["AnnotateCommand", "IdArgument", "annotate", "indented", "readable"]

IdArgument = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="Incident id, or any unique prefix of it (or of its trace id).", show_default=False
    ),
]


def readable(value: Any) -> str:
    """A value as a person reads it: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def indented(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix.rstrip()


# -- the expected output ---------------------------------------------------------------------------


def _expected_from_options(expected: str | None, expected_json: str | None, expected_file: Path | None) -> Any:
    """The expected output from whichever one option was given; `...` when none was."""
    given = [
        name
        for name, v in (
            ("--expected", expected),
            ("--expected-json", expected_json),
            ("--expected-file", expected_file),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise UsageError(f"pass only one of {', '.join(given)} - each one sets the expected output")
    if expected is not None:
        return expected
    if expected_json is not None:
        try:
            return orjson.loads(expected_json)
        except orjson.JSONDecodeError as exc:
            shown = preview(expected_json, 60)
            raise InvalidInput(
                f"--expected-json '{shown}' is not valid JSON ({exc}) - a JSON string needs quotes: '\"text\"'"
            ) from None
    if expected_file is not None:
        return _read_expected_file(expected_file)
    return ...


def _read_expected_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read --expected-file '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--expected-file '{path}' is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"--expected-file '{path}' is not valid JSON ({exc}) - fix it, or use a .txt file"
            ) from None
    # An editor ends a file with a newline; the answer being described almost never does.
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


_TEMPLATE_HELP = """\
# Write the expected output for incident {id} below these comment lines.
# {kind}
# Lines starting with '#' are ignored; an empty result leaves the incident unchanged.
# (For an answer with lines starting with '#', use --expected-file instead.)
#"""


def _template(incident: Incident, structured: bool) -> str:
    kind = (
        "The flagged output was structured, so write the expected output as JSON."
        if structured
        else "It is taken as text; leading and trailing blank lines are dropped."
    )
    parts = [_TEMPLATE_HELP.format(id=incident.id, kind=kind), "# entry point: " + (incident.entrypoint or "?")]
    parts.append("# reasons:")
    # one line each: a line break in a reason must not leak into the expected output
    parts.extend(f"#   - {' '.join(str(r['reason']).split())}" for r in incident.reasons)
    parts.append("# input:")
    parts.append(indented(readable(incident.input), "#   "))
    parts.append("# bad output:")
    parts.append(indented(readable(incident.output), "#   "))
    if incident.has_expected:
        parts.append("# current expected output:")
        parts.append(indented(readable(incident.expected), "#   "))
    return "\n".join(parts) + "\n\n"


def _expected_from_editor(incident: Incident) -> Any:
    """Open $EDITOR on the template; `...` when the user left it empty."""
    structured = incident.output is not None and not isinstance(incident.output, str)
    edited = click.edit(
        _template(incident, structured), extension=".json" if structured else ".txt", require_save=False
    )
    if edited is None:
        return ...
    text = "\n".join(line for line in edited.splitlines() if not line.startswith("#")).strip("\n")
    if not text.strip():
        return ...
    if structured:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"the expected output from the editor is not valid JSON ({exc}) - run annotate again, "
                "or pass --expected TEXT for a text answer"
            ) from None
    return text


def annotate(
    incident_id: IdArgument,
    expected: Annotated[
        str | None, typer.Option("--expected", "-e", metavar="TEXT", help="The expected output, as text.")
    ] = None,
    expected_json: Annotated[
        str | None,
        typer.Option("--expected-json", metavar="JSON", help="The expected output as JSON (a structured answer)."),
    ] = None,
    expected_file: Annotated[
        Path | None,
        typer.Option(
            "--expected-file",
            metavar="PATH",
            help="Read the expected output from a file: JSON if it ends in .json, else text (final newline dropped).",
            dir_okay=False,
        ),
    ] = None,
    grader: Annotated[
        str,
        typer.Option(
            "--grader",
            "-g",
            metavar="NAME",
            help="How a replay is judged: one of the graders above, or MODULE:NAME of a grader of your own.",
        ),
    ] = DEFAULT_GRADER,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY=VALUE",
            help="A grader option KEY=VALUE, repeatable; VALUE is JSON if it parses, else text.",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", metavar="TAG", help="A tag for the case, repeatable.")
    ] = None,
    frozen_tools: Annotated[
        bool,
        typer.Option(
            "--frozen-tools",
            help="Always replay this case with its recorded tool calls answered from the case (as cases run "
            "--frozen-tools does), unless cases run says --live-tools.",
        ),
    ] = False,
    suite: SuiteOption = None,
    reopen: Annotated[
        bool, typer.Option("--reopen", help="Annotate a dismissed incident, reopening it (else refused).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Record what the answer should have been, and how to judge a replay against it.

    Give the expected output with exactly one of --expected, --expected-json or --expected-file.
    On a terminal, with none of them, $EDITOR opens on a template showing the input, the
    reasons and the bad output. What the expected output is depends on the grader (listed
    below): for most it is an example of a good output; for regex it is the pattern, for
    not_contains the forbidden text, for python_tests the test code. Annotating again replaces
    the annotation; a dismissed incident is annotated (and reopened) only with --reopen.

    A grader of your own: --grader MODULE:NAME names a Grader subclass or a function of
    (output, expected) that returns a bool, a score in [0, 1] or a Verdict; a package can also
    offer graders by name through the entry point group casebank.graders. The case file keeps
    the name or MODULE:NAME, so a run imports the same grader.

    \b
    Example:
        cases annotate 3f9a --expected "Refunds within 30 days." --tag refunds
        cases annotate 3f9a --grader regex --expected '\\b30 days\\b'
        cases annotate 3f9a -g not_contains --expected "14 days"
        cases annotate 3f9a -g contains --expected "14 days" --frozen-tools
        cases annotate 3f9a -g python_tests --expected-file tests.py \\
            -o solution_file=solution.py
        cases annotate 3f9a -g json_schema -o schema_file=refund.json \\
            --suite qa/ --expected-json '{"days": 30}'
    """
    suite = suite_folder(suite)
    value = _expected_from_options(expected, expected_json, expected_file)
    chosen = make_grader({"name": grader, "options": parse_options(option or [])}, base_dir=suite)
    if value is not ...:
        chosen.check_expected(value)
    spec = chosen.spec()
    if frozen_tools:
        spec[FROZEN_TOOLS_KEY] = True
    with open_store(db) as store:
        incident = store.resolve_incident(incident_id)
        check_can_annotate(incident)  # before an editor opens on it
        if incident.status == "dismissed" and not reopen:
            raise InvalidTransition(
                f"incident {incident.id} is dismissed ({incident.dismissed_reason}) - pass --reopen to annotate "
                "it and reopen it"
            )
        if value is ...:
            if not is_interactive():
                raise UsageError(
                    "give the expected output with --expected TEXT, --expected-json JSON or --expected-file PATH "
                    "(the editor opens only on a terminal)"
                )
            value = _expected_from_editor(incident)
            if value is ...:
                typer.echo(f"no expected output given - incident {incident.id} is unchanged")
                return
            chosen.check_expected(value)
        was_dismissed = incident.status == "dismissed"
        incident = store.annotate(incident.id, expected=value, grader=spec, tags=tag or [])
    reopened = " - reopened: it was dismissed" if was_dismissed else ""
    typer.echo(f"annotated incident {incident.id} (grader {spec['name']}){reopened}")
    check = sanity_check(incident, base_dir=suite)
    if check.holds:
        typer.echo(f"{check.passed_text()} - next: cases promote {incident.id}")
    else:
        typer.echo(f"warning: {check.problem()} - promote would refuse this case", err=True)


class AnnotateCommand(TyperCommand):
    """`cases annotate`, whose help lists the graders, generated from the registry when help is shown."""

    # Typed loosely: typer's Command is its own copy of click's, whose types are private to typer.
    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        if not getattr(self, "_graders_listed", False):
            self.help = with_graders(self.help or "")
            self._graders_listed = True
        super().format_help_text(ctx, formatter)


def with_graders(help_text: str) -> str:
    """The annotate help with the registry's graders block put before its examples."""
    from casebank.replay.graders._help import annotate_graders_help

    text = inspect.cleandoc(help_text)
    intro, marker, examples = text.partition("\n\b\nExample")
    return f"{intro.rstrip()}\n\n{annotate_graders_help()}\n{marker}{examples}"
