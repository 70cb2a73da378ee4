"""The plugin at work in one pytest session: collect the cases, replay each, record the run.

Collection: the cases are added to the session's items once, at the start of
`pytest_collection_modifyitems` (tryfirst), so that every selection pytest makes afterwards
applies to them as to any test: `-k`, `-m`, `--deselect`, `--lf`. With `pytest = true` in the
project configuration (and no `--casebank`), they are added when pytest collects by default
(no path given: `testpaths` or the current folder) or when a path given holds the suite folder
or lies in it; `pytest tests/test_x.py` does not replay the suite.

Running: each item replays its own case through the runner (`replay_cases`, one case at a
time: pytest runs one test at a time per process, and pytest-xdist's `-n` is the concurrency),
graded, with the store for the graders' caches and judge calibrations, as `cases run` does.

Recording: a pytest session is one run in the store, marked `origin = "pytest"`. Each item's
result travels on its test report (the attribute `casebank`, plain values), so under
pytest-xdist the workers' results reach the controller with their reports, and the controller
alone records one run for the whole session at its end (`concurrency` is then the number of
workers that ran cases). A session in which no case ran records nothing. Ctrl-C records what
finished, marked interrupted, as `cases run` does; `-x` and `-k` record the cases that ran.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import CasebankError
from casebank.pytest_plugin._items import CaseFile, CaseItem
from casebank.replay._case import Case
from casebank.replay._records import git_commit, record
from casebank.replay._results import CaseResult, RunReport
from casebank.replay._runner import replay_cases
from casebank.replay._suite import Suite, load_suite, suite_hash
from casebank.store import Store, StoreURL, open_store, parse_store_url, utc_now

__all__ = ["CasebankSession"]

ORIGIN = "pytest"


class CasebankSession:
    """The hooks of an active plugin; registered by `casebank.pytest_plugin` only when asked."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        folder: Path,
        db: str | None,
        always: bool,
        replay_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.replay_options = dict(replay_options or {})  # the project config's, for the runner
        self.folder = folder  # absolute
        self.always = always  # --casebank: add the cases whatever pytest collects
        # CASEBANK_DB wins over the configuration file, which wins over .casebank/casebank.db here;
        # made absolute now, so that a test that changes folder does not move the store.
        self.db: StoreURL = parse_store_url(os.environ.get("CASEBANK_DB") or db).absolute()
        self.suite: Suite | None = None  # loaded at the session's start when this session replays it
        self.store: Store | None = None  # the graders' caches while replaying; the run, at the end
        self.results: dict[str, dict[str, Any]] = {}  # case id -> the `casebank` attribute of its report
        self.started_at = utc_now()
        self.summary: list[str] = []  # said after pytest's own summary

    # -- collection --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Before pytest-xdist starts its workers: a suite or a store that cannot be used is one
        # line and exit 4 in the process the user watches, not a crash in each worker.
        if not self._wanted():
            return
        try:
            self.suite = load_suite(Path(_shown(self.folder)))
            self.store = open_store(self.db, create=True)
        except CasebankError as exc:
            raise pytest.UsageError(f"casebank: {exc}") from None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        if self.suite is None:
            return
        for case in self.suite.cases:
            assert case.path is not None
            node = CaseFile.from_parent(session, path=Path(os.path.abspath(case.path)), case=case, runner=self)
            # Through pytest's own collection step: its reports count the items ("collected 5
            # items") and --lf sees the case files as it sees test files.
            items.extend(session.genitems(node))

    def _wanted(self) -> bool:
        """Whether this session replays the suite (see the module docstring)."""
        return self.always or self._suite_is_collected()

    def _suite_is_collected(self) -> bool:
        if self.config.args_source != pytest.Config.ArgsSource.ARGS:
            return True
        for arg in self.config.args:
            path = Path(os.path.abspath(self.config.invocation_params.dir / arg.split("::")[0]))
            if path == self.folder or path in self.folder.parents or self.folder in path.parents:
                return True
        return False

    # -- running -----------------------------------------------------------------------------------

    def replay(self, case: Case) -> CaseResult:
        """The case replayed and graded; a case whose entry point or grader cannot be used is errored."""
        try:
            report = replay_cases(
                Suite(folder=Path(_shown(self.folder)), cases=[case]),
                concurrency=1,
                store=self.store,
                **self.replay_options,
            )
        except CasebankError as exc:
            return CaseResult(
                case_id=case.id,
                case_file=str(case.path or ""),
                entrypoint=case.entrypoint,
                grader=case.grader_name,
                expected=case.expected,
                output=None,
                passed=False,
                reason=str(exc),
                error=f"{type(exc).__name__}: {exc}",
                tags=list(case.tags),
            )
        [result] = report.results
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if isinstance(item, CaseItem) and call.when == "call" and item.result is not None:
            # Plain values: pytest-xdist carries them to the controller with the report.
            report.casebank = {
                "result": dataclasses.asdict(item.result),
                "case_hash": item.case.hash,
                "worker": _worker_id(self.config),
            }
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = getattr(report, "casebank", None)
        if isinstance(found, dict) and report.when == "call":
            self.results[found["result"]["case_id"]] = found

    # -- recording ---------------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        store, self.store = self.store, None
        if store is None:
            return
        with store:
            # A worker's results are the controller's to record.
            if _worker_id(self.config) is not None or not self.results:
                return
            report = self._report(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
            try:
                record(store, report)
            except CasebankError as exc:
                self.summary.append(f"casebank: the run could not be recorded: {exc}")
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
                return
            where = store.location
        stats = report.stats
        self.summary.append(
            f"casebank: run {report.id} recorded in {where}: {report.passed}/{report.total} cases passed, "
            f"pass rate {stats.overall.text()}"
        )

    def _report(self, *, interrupted: bool) -> RunReport:
        found = sorted(self.results.values(), key=lambda f: (f["result"]["case_file"], f["result"]["case_id"]))
        workers = {f["worker"] for f in found}
        return RunReport(
            id=secrets.token_hex(6),
            started_at=self.started_at,
            finished_at=utc_now(),
            suite=_shown(self.folder),
            suite_hash=suite_hash(f["case_hash"] for f in found),
            target=None,
            concurrency=len(workers),
            results=[CaseResult.from_dict(f["result"]) for f in found],
            git_commit=git_commit(self.config.rootpath),
            status="interrupted" if interrupted else "finished",
            origin=ORIGIN,
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for line in self.summary:
            terminalreporter.write_line(line)


def _worker_id(config: pytest.Config) -> str | None:
    """This process's pytest-xdist worker id (`gw0`), or None in the controller or without xdist."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def _shown(folder: Path) -> str:
    """The folder as `cases run` names it: relative to the current folder when inside it."""
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)
