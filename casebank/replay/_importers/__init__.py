"""Bringing existing eval sets in: JSONL, CSV, promptfoo and OpenAI-evals rows become frozen cases.

Every row becomes a case file exactly like a promoted one (`write_case`: same format, same hash),
with `source` saying where it came from: `{"kind": "imported", "file", "line", "format"}`.

**All or nothing.** Every row is read, its input checked against the entry point's signature and
its grader built in memory first (`_build`); if any row cannot be imported, they are all listed
(`ImportRejected.problems`, file and line each) and nothing is written.

**One module a format.** A format is a reader (`_base.ImportFormat`: a name, a `read` function
from the file's text to rows, and the file names it is guessed from) in a module of its own;
`IMPORT_FORMATS` below lists them in the order that help and errors name them. Readers only
read; checking, building and writing are shared, so a new format is one new module and one
line here.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from casebank.errors import CasebankError, InvalidInput
from casebank.replay._case import Case
from casebank.replay._importers import _csv, _jsonl, _openai_evals, _promptfoo
from casebank.replay._importers._base import ImportFormat, ImportRejected, ImportResult, Problem, RowError
from casebank.replay._importers._build import (
    SANITY_SKIPPED,
    Settings,
    build_case,
    display_name,
    read_file,
    signature_of,
    write_all,
)
from casebank.replay._suite import DEFAULT_SUITE
from casebank.replay.graders import make_grader

__all__ = [
    "FORMATS",
    "IMPORT_FORMATS",
    "SANITY_SKIPPED",
    "ImportFormat",
    "ImportRejected",
    "ImportResult",
    "Problem",
    "guess_format",
    "import_cases",
]

IMPORT_FORMATS: dict[str, ImportFormat] = {
    each.name: each for each in (_jsonl.FORMAT, _csv.FORMAT, _promptfoo.FORMAT, _openai_evals.FORMAT)
}
FORMATS = tuple(IMPORT_FORMATS)


def guess_format(path: Path) -> str:
    """The format that `path`'s name says (`.jsonl`, `.csv`, `promptfooconfig*.yaml`), or a usage error."""
    name = path.name.lower()
    for each in IMPORT_FORMATS.values():
        if any(fnmatchcase(name, pattern) for pattern in each.patterns):
            return each.name
    recognised = [each.shown_as for each in IMPORT_FORMATS.values() if each.shown_as]
    raise InvalidInput(
        f"cannot tell the format of '{path}' from its name - pass --format {'|'.join(FORMATS)}"
        f" ({', '.join(recognised[:-1])} and {recognised[-1]} are recognised)"
    )


def import_cases(
    path: Path,
    *,
    entrypoint: str,
    format: str | None = None,
    grader: str | None = None,
    options: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    suite_dir: Path = DEFAULT_SUITE,
) -> ImportResult:
    """Turn every row of `path` into a case file in `suite_dir`; all of them, or none (ImportRejected)."""
    fmt = format or guess_format(path)
    if fmt not in IMPORT_FORMATS:
        raise InvalidInput(f"--format '{fmt}' is not one of {', '.join(FORMATS)} - pick one")
    text = read_file(path)
    default = make_grader({"name": grader or "exact", "options": options or {}}, base_dir=suite_dir).spec()
    settings = Settings(
        format=fmt,
        file=display_name(path),
        entrypoint=entrypoint,
        signature=signature_of(entrypoint),
        default_grader=default,
        grader_given=grader is not None,
        tags=list(tags),
        suite_dir=suite_dir,
    )
    read = IMPORT_FORMATS[fmt].read(text, settings.file)
    result = ImportResult(file=settings.file, format=fmt)
    result.ignored_columns = [c for c in read.columns if c not in settings.signature.names]
    problems = list(read.problems)
    cases: list[Case] = []
    for row in read.rows:
        try:
            cases.append(build_case(row, settings))
        except (RowError, CasebankError) as exc:  # a grader's own message names the option and the fix
            problems.append(Problem(line=row.line, reason=str(exc)))
    if problems:
        problems.sort(key=lambda p: p.line)
        raise ImportRejected(
            f"cannot import '{settings.file}': {len(problems)} row(s) cannot be imported (listed above), so nothing "
            "was written - fix them and import again",
            file=settings.file,
            problems=problems,
        )
    if not cases:
        raise InvalidInput(f"'{settings.file}' holds no rows to import - check the file and --format")
    write_all(cases, suite_dir, result)
    return result
