"""The report formats: one registry that names them, renders with them and finds a team's own.

A format is a name, a renderer (`RunReport -> str`: the text of a file, or of stdout), the suffix
its file usually takes and one line of help. `cases report --format` takes its choices, its help
metavar and its error for an unknown name from here; `cases run --json/--junit/--markdown` take
their renderers and the help of each option from here. A new format of casebank's own is one
`register` call below and one module beside this one.

A team's own format is a callable in its own package, named in the entry point group
`casebank.reports`; e.g. in that package's pyproject.toml:

    [project.entry-points."casebank.reports"]
    csv = "my_reports:csv_report"

Its help is the first line of the callable's docstring, its suffix the callable's `suffix`
attribute (default `.NAME`). casebank's own names come first: a plug-in cannot replace `json`,
and of two plug-ins with one name the first found is used.

Nothing is imported before it is used. A built-in's renderer (rich, XML) is imported on its
first render; the entry points are listed only to look up a name that is not casebank's own or
to show every name (the `--format` help, the error for an unknown one); a plug-in's module is
imported only when its format is chosen. So `cases status` pays nothing, and a plug-in that
does not import breaks its own format, not `cases report --format json`.

A format may also say how to `show` itself on a terminal: the table is printed by rich at the
terminal's width and in colour, and its `render` is the same table as plain text for a file.
And a format that draws the run among the stored runs (the HTML page's pass-rate charts) says
how to `render_stored`, given the store the run came from; without a store, `render` draws the
run alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from casebank.errors import InvalidInput

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from rich.console import Console

    from casebank.replay._results import RunReport
    from casebank.store import Store

__all__ = [
    "BUILTIN_FORMATS",
    "ENTRY_POINT_GROUP",
    "FormatNames",
    "ReportFormat",
    "Renderer",
    "format_names",
    "get_format",
    "register",
]

ENTRY_POINT_GROUP = "casebank.reports"

Renderer = Callable[["RunReport"], str]


@dataclass(frozen=True, kw_only=True)
class ReportFormat:
    """One way to write a run down."""

    name: str
    render: Renderer
    suffix: str  # of the file it is usually written to, with its dot: ".json"
    help: str  # one line, a noun phrase: "a JUnit XML report" (`cases run` says "Also write ... here.")
    # How to print it to a terminal when that differs from writing `render`'s text (the table's colours).
    show: Callable[[RunReport, Console], None] | None = None
    # How to write it when the run's store is open: with what the store holds around the run (its history).
    render_stored: Callable[[RunReport, Store], str] | None = None


BUILTIN_FORMATS: dict[str, ReportFormat] = {}


def register(report_format: ReportFormat) -> ReportFormat:
    """Add one of casebank's own formats; a name is registered once."""
    if report_format.name in BUILTIN_FORMATS:
        raise ValueError(f"report format '{report_format.name}' is registered twice")
    BUILTIN_FORMATS[report_format.name] = report_format
    return report_format


def format_names() -> list[str]:
    """Every format's name: casebank's own in their order, then the plug-ins' (none of them imported)."""
    names = list(BUILTIN_FORMATS)
    for entry_point in _entry_points():
        if entry_point.name not in names:
            names.append(entry_point.name)
    return names


def get_format(name: str, *, option: str = "--format") -> ReportFormat:
    """The format called `name`; an unknown one is a usage error that lists every name, as `option` took it."""
    if name in BUILTIN_FORMATS:
        return BUILTIN_FORMATS[name]
    entry_point = next((ep for ep in _entry_points() if ep.name == name), None)
    if entry_point is None:
        raise InvalidInput(f"{option} '{name}' is not one of {', '.join(format_names())} - pick one")
    return _plugin(entry_point)


class FormatNames:
    """`table|json|junit|markdown|html` and any plug-in's name: the `--format` metavar, read when help is shown.

    typer formats a metavar into the help with an f-string, so this object stands in for the text
    until then: reading the entry points at every start of `cases` would cost each command."""

    def __str__(self) -> str:
        return "|".join(format_names())

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _plugin(entry_point: EntryPoint) -> ReportFormat:
    name, where = entry_point.name, f"{entry_point.value} in entry point group {ENTRY_POINT_GROUP}"
    try:
        loaded = entry_point.load()
    except Exception as exc:  # whatever a team's module raises on import, it is their format's problem alone
        raise InvalidInput(
            f"report format '{name}' ({where}) cannot be loaded: {type(exc).__name__}: {exc} - "
            "fix or uninstall the package that provides it"
        ) from None
    if not callable(loaded):
        raise InvalidInput(
            f"report format '{name}' ({where}) is an object of type {type(loaded).__name__}, not a function of a run - "
            "name a callable that takes a RunReport and returns text"
        )

    def render(report: RunReport) -> str:
        text = loaded(report)
        if not isinstance(text, str):
            raise InvalidInput(
                f"report format '{name}' ({where}) returned {type(text).__name__}, not text - return a str"
            )
        return text

    doc = (getattr(loaded, "__doc__", None) or "").strip()
    return ReportFormat(
        name=name,
        render=render,
        suffix=str(getattr(loaded, "suffix", f".{name}")),
        help=doc.splitlines()[0] if doc else f"the run as {name}",
    )


# -- casebank's own ---------------------------------------------------------------------------------
# Each renderer is imported on first use: these modules pull in rich and ElementTree.


def _table(report: RunReport) -> str:
    from casebank.replay._report_table import table_text

    return table_text(report)


def _show_table(report: RunReport, console: Console) -> None:
    from casebank.replay._report_table import render_table

    render_table(report, console)


def _json(report: RunReport) -> str:
    from casebank.replay._report_json import report_json

    return report_json(report)


def _junit(report: RunReport) -> str:
    from casebank.replay._report_junit import to_junit

    return to_junit(report)


def _markdown(report: RunReport) -> str:
    from casebank.replay._report_markdown import to_markdown

    return to_markdown(report)


def _html(report: RunReport) -> str:
    from casebank.replay._report_html import to_html

    return to_html(report)


def _html_stored(report: RunReport, store: Store) -> str:
    from casebank.replay._report_html import render_run_html, run_history

    return render_run_html(report, history=run_history(store, until=report.id))


register(
    ReportFormat(
        name="table",
        render=_table,
        suffix=".txt",
        help="a table of the cases that did not pass, and the pass rate",
        show=_show_table,
    )
)
register(ReportFormat(name="json", render=_json, suffix=".json", help="the whole run as JSON"))
register(ReportFormat(name="junit", render=_junit, suffix=".xml", help="a JUnit XML report"))
register(ReportFormat(name="markdown", render=_markdown, suffix=".md", help="a pull-request comment"))
register(
    ReportFormat(
        name="html",
        render=_html,
        suffix=".html",
        help="a self-contained HTML page with the pass-rate charts and a diff of each failure",
        render_stored=_html_stored,
    )
)
