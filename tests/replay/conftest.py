"""A throwaway project for replay tests: a module written into tmp_path and cases that call it.

Each test gets a module with a unique name, because the runner imports targets into this very
process and `sys.modules` outlives a test; the module is forgotten again afterwards.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from casebank.replay import Case, Suite, load_suite, write_case


@dataclass(kw_only=True)
class Project:
    root: Path
    module: str
    suite: Path

    def write_module(self, source: str) -> None:
        (self.root / f"{self.module}.py").write_text(textwrap.dedent(source))

    def add_case(
        self,
        case_id: str,
        function: str,
        input: dict[str, Any],
        expected: Any,
        *,
        grader: str = "exact",
        options: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        input_types: dict[str, Any] | None = None,
    ) -> Case:
        case = Case(
            id=case_id,
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint=f"{self.module}:{function}",
            input=input,
            expected=expected,
            grader={"name": grader, "options": options or {}},
            tags=tags or [],
            input_types=input_types or {},
        )
        write_case(case, self.suite)
        return case

    def load(self) -> Suite:
        return load_suite(self.suite)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.chdir(tmp_path)
    name = f"replay_target_{uuid.uuid4().hex[:8]}"
    yield Project(root=tmp_path, module=name, suite=Path("evals"))  # relative, as `cases run` sees it
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
