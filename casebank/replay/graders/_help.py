"""What people read about the graders, generated from the registry: annotate's help and the README table.

Every word comes from a grader's class - its `summary`, its `expected_help` (code marked as in
Markdown), its declared options (name, type, default, one-line help) and its `exactly_one` pairs -
so a new option, or a team's own grader installed as a plug-in, shows up in `cases annotate
--help` without anyone writing it down. The README's table holds the built-ins only and sits
between two marker comments; `python -m casebank.replay.graders --write README.md` rewrites it
there, and a test fails, saying so, when the README and the registry disagree.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from casebank.errors import UsageError
from casebank.replay.graders._base import Grader
from casebank.replay.graders._registry import BUILTIN, DEFAULT_GRADER, registry

__all__ = [
    "README_END",
    "README_START",
    "GraderHelp",
    "OptionHelp",
    "annotate_graders_help",
    "describe",
    "graders_help",
    "readme_table",
    "with_readme_table",
]

README_START = (
    "<!-- graders: generated from the registry by `python -m casebank.replay.graders --write README.md`;"
    " change a grader's class, not this table -->"
)
README_END = "<!-- end of graders -->"
WIDTH = 76  # click indents help by 2 columns: this keeps `cases annotate --help` within 80


@dataclass(kw_only=True, frozen=True)
class OptionHelp:
    name: str
    kind: str
    default: str | None
    help: str
    usage: str  # `name=PLACEHOLDER`, as typed after --option
    required: bool


@dataclass(kw_only=True, frozen=True)
class GraderHelp:
    name: str
    summary: str
    expected: str
    options: tuple[OptionHelp, ...] = ()
    exactly_one: tuple[tuple[str, str], ...] = ()
    problem: str = ""  # why a plug-in cannot be loaded; nothing else is known then


def describe(name: str, cls: type[Grader]) -> GraderHelp:
    options = tuple(
        OptionHelp(
            name=option.option,
            kind=option.kind,
            default=option.default_text(),
            help=option.help,
            usage=option.usage(),
            required=option.required,
        )
        for option in cls.declared_options
    )
    undeclared = sorted(cls.known_options - {option.name for option in options})  # a grader's hand-made list
    options += tuple(
        OptionHelp(name=o, kind="value", default=None, help="", usage=f"{o}=VALUE", required=False) for o in undeclared
    )
    summary = cls.summary or f"{name} passes the output"
    return GraderHelp(
        name=name, summary=summary, expected=cls.expected_help, options=options, exactly_one=cls.exactly_one
    )


def graders_help(*, plugins: bool = True) -> list[GraderHelp]:
    """Every grader's help: the built-ins, then (with `plugins`) the installed and registered ones."""
    listed = registry.listing() if plugins else [(name, registry.get(name)) for name in BUILTIN]
    return [
        describe(name, found)
        if not isinstance(found, str)
        else GraderHelp(name=name, summary="", expected="", problem=found)
        for name, found in listed
    ]


# -- cases annotate --help ------------------------------------------------------------------------

_USAGE_COLUMN = 20


def annotate_graders_help() -> str:
    """The graders block of `cases annotate --help`: a `\\b` paragraph click keeps as it is."""
    header = (
        "Graders (--grader NAME), what --expected is to each, and their options (--option KEY=VALUE; "
        "a PATH is relative to the suite folder):"
    )
    lines = ["\b", *_wrapped(header, "", "")]
    for grader in graders_help():
        lines.extend(_grader_lines(grader))
    return "\n".join(lines)


def _grader_lines(grader: GraderHelp) -> list[str]:
    title = grader.name + (" (the default)" if grader.name == DEFAULT_GRADER else "")
    if grader.problem:
        return _wrapped(f"{title}: {grader.problem}", "", "    ")
    lines = _wrapped(f"{title}: {_plain(grader.summary)}", "", "    ")
    lines += _column("  --expected", _plain(grader.expected))
    for option in grader.options:
        said = _plain(option.help) + (" (required)" if option.required else "")
        if option.default is not None:
            said += f" (default {option.default})"
        lines += _column("  " + option.usage, said)
    for first, second in grader.exactly_one:
        lines += _wrapped(f"exactly one of {first}= and {second}=", "  ", "  ")
    return lines


def _plain(text: str) -> str:
    # Help text marks code as Markdown does (`--expected-json 120.5`); a terminal shows it bare.
    return text.replace("`", "")


def _column(left: str, text: str) -> list[str]:
    if len(left) > _USAGE_COLUMN - 2:  # at least two spaces between an option and its help
        return [left, *_wrapped(text, " " * _USAGE_COLUMN, " " * _USAGE_COLUMN)]
    return _wrapped(text, left.ljust(_USAGE_COLUMN), " " * _USAGE_COLUMN)


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False
    ) or [first.rstrip()]


# -- the README table -----------------------------------------------------------------------------


def readme_table() -> str:
    """The README's grader table (built-ins only: it documents casebank, not this machine)."""
    rows = ["| grader | passes when | `--expected` is | options |", "|---|---|---|---|"]
    for grader in graders_help(plugins=False):
        name = f"`{grader.name}`" + (" (default)" if grader.name == DEFAULT_GRADER else "")
        options = [_option_cell(option) for option in grader.options]
        options += [f"exactly one of `{a}` and `{b}`" for a, b in grader.exactly_one]
        cells = [name, grader.summary, grader.expected, "<br>".join(options)]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def _option_cell(option: OptionHelp) -> str:
    text = f"`{option.usage}`: {option.help}"
    if option.required:
        text += " (required)"
    if option.default is not None:
        text += f" (default `{option.default}`)"
    return text


def with_readme_table(readme: str) -> str:
    """`readme` with the text between the graders markers replaced by `readme_table()`."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise UsageError(
            f"the README has no graders markers - put {README_START!r} and {README_END!r} around the table"
        )
    return readme[: start + len(README_START)] + "\n" + readme_table() + "\n" + readme[end:]


def write_readme_table(path: Path) -> bool:
    """Put the current table into the README at `path`; whether anything changed."""
    before = path.read_text(encoding="utf-8")
    after = with_readme_table(before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before
