"""`cases verify`'s look at the suite folder: every file in it, each problem one line.

Unlike `load_suite`, which stops at the first bad case (a run must not start on a suite it cannot
trust), this goes on and lists them all: each case file's schema and hash (`load_case`), ids that
two files share, files that are not case files (a stray file, a temporary file an interrupted
write left), and symlinks that lead out of the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from casebank.errors import CasebankError
from casebank.replay._case import load_case
from casebank.replay._suite import is_case_file

__all__ = ["SuiteCheck", "check_suite"]

# Files a suite folder holds besides its cases: the held-out split (`cases holdout`) and notes.
_KNOWN = ("holdout.toml",)
_NOTES = ("readme",)


@dataclass(kw_only=True)
class SuiteCheck:
    folder: Path
    exists: bool
    cases: int = 0  # case files that are sound
    problems: list[str] = field(default_factory=list)


def check_suite(folder: Path) -> SuiteCheck:
    """Every problem of the suite folder's files; a missing folder is no problem here (the caller decides)."""
    if not folder.is_dir():
        check = SuiteCheck(folder=folder, exists=False)
        if folder.exists():
            check.problems.append(f"suite path '{folder}' is not a folder - pass the folder that holds the case files")
        return check
    check = SuiteCheck(folder=folder, exists=True)
    inside = folder.resolve()
    seen: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        problem = _stray(path, inside)
        if problem:
            check.problems.append(problem)
            continue
        if not is_case_file(path):
            continue
        try:
            case = load_case(path)
        except CasebankError as exc:
            check.problems.append(str(exc))
            continue
        if case.id in seen:
            check.problems.append(
                f"case id '{case.id}' appears in both '{seen[case.id]}' and '{path}' - remove one "
                "(git log shows which came first)"
            )
            continue
        seen[case.id] = path
        check.cases += 1
    return check


def _stray(path: Path, inside: Path) -> str:
    """Why `path` does not belong in the suite folder, or ''."""
    name = path.name
    if path.is_symlink():
        target = path.resolve()
        if target.parent != inside:
            return f"'{path}' is a symlink to '{target}', outside the suite folder - replace it with the file itself"
    if name.startswith(".") and name.endswith(".json.tmp"):
        return f"'{path}' was left by an interrupted write - delete it"
    if name.startswith(".") or path.is_dir() or name in _KNOWN or name.lower().startswith(_NOTES):
        return ""
    if path.suffix != ".json":
        return f"'{path}' is not a case file ('cases run' reads *.json only) - move it out of the suite folder"
    return ""
