"""The suite folder: every `*.json` case file in it (dotfiles aside), verified, in a stable order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from casebank.errors import SuiteError
from casebank.replay._case import Case, load_case

__all__ = ["DEFAULT_SUITE", "Suite", "case_paths", "count_cases", "is_case_file", "load_suite", "suite_hash"]

DEFAULT_SUITE = Path("evals")


@dataclass(kw_only=True)
class Suite:
    folder: Path
    cases: list[Case]

    @property
    def hash(self) -> str:
        """One hash for the whole suite: changes when any case is added, removed or replaced."""
        return suite_hash(case.hash for case in self.cases)


def suite_hash(case_hashes: Iterable[str]) -> str:
    """The hash of a suite of cases with these hashes, in any order (`Suite.hash`)."""
    joined = "\n".join(sorted(case_hashes))
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


def is_case_file(path: Path) -> bool:
    """Whether a file of a suite folder is a case: `*.json` but dotfiles (`cases run` and `cases
    verify` alike). A dotfile is never a case (`write_case` refuses a leading dot); one is an
    editor's or an interrupted write's leftover, and `Path.glob` would take it."""
    return path.suffix == ".json" and not path.name.startswith(".")


def case_paths(folder: Path) -> list[Path]:
    """The folder's case files, in name order."""
    return sorted(path for path in folder.glob("*.json") if is_case_file(path))


def count_cases(folder: Path) -> int:
    return len(case_paths(folder)) if folder.is_dir() else 0


def load_suite(folder: Path) -> Suite:
    if not folder.exists():
        raise SuiteError(f"suite folder '{folder}' does not exist - promote a case with 'cases promote ID'")
    if not folder.is_dir():
        raise SuiteError(f"suite path '{folder}' is not a folder - pass the folder that holds the case files")
    paths = case_paths(folder)
    if not paths:
        raise SuiteError(f"suite folder '{folder}' has no cases - promote one with 'cases promote ID'")
    cases = [load_case(path) for path in paths]
    seen: dict[str, Path] = {}
    for case in cases:
        if case.id in seen:
            raise SuiteError(f"case id '{case.id}' appears in both '{seen[case.id]}' and '{case.path}' - remove one")
        seen[case.id] = case.path or folder
    return Suite(folder=folder, cases=cases)
