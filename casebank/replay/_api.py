"""`casebank.replay.run_suite`: a suite replayed as `cases run` replays it, for Python callers.

`cases run` calls it, and so can a notebook, a script or a CI step written in Python: load the
suite folder (or take a `Suite` already loaded), keep the cases `tags`/`cases`/`shard` choose,
read the baseline, replay (`_runner.replay_cases`), record the run and compare it with the
baseline. The returned `RunReport` carries what `cases run` prints: `report.stats` (the pass
rate with its 95% interval, each tag, flaky cases, power) and `report.comparison` (regressions,
fixes and the McNemar test against the baseline).

Everything that can fail before a case runs does so first (a missing suite, an unknown case id,
a baseline that does not exist), so that a typo does not cost a whole replay.

A store is used only when one is given, as an open `Store` (left open) or a path/URL (opened,
created if missing, and closed): then the run is recorded in it, a baseline may be a stored run,
and graders cache embeddings and judge verdicts in it. Without one, nothing is written anywhere:
a Python caller that only wants the numbers leaves no trace.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from casebank.errors import InvalidInput
from casebank.replay._compare import compare, load_baseline
from casebank.replay._records import git_commit, record
from casebank.replay._results import CaseResult, RunReport
from casebank.replay._retries import RETRY_WAIT_S
from casebank.replay._runner import DEFAULT_CONCURRENCY, replay_cases
from casebank.replay._select import parse_shard, select
from casebank.replay._suite import Suite, load_suite
from casebank.store import Store, open_store

__all__ = ["run_suite"]


def run_suite(
    suite: str | os.PathLike[str] | Suite,
    *,
    target: str | None = None,
    tags: str | Sequence[str] | None = None,
    cases: str | Sequence[str] | None = None,
    epochs: int = 1,
    concurrency: int = DEFAULT_CONCURRENCY,
    frozen_tools: bool | None = None,
    baseline: str | os.PathLike[str] | RunReport | None = None,
    shard: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    retry_on: Iterable[str] = (),
    retry_wait: float = RETRY_WAIT_S,
    on_result: Callable[[CaseResult], None] | None = None,
    handle_sigint: bool = False,
    store: Store | str | os.PathLike[str] | None = None,
    origin: str = "api",
    on_missing_fixture: str = "fail",
    factories: Mapping[str, str] | None = None,
    redact: Iterable[str | Callable[[str], str]] | None = None,
) -> RunReport:
    """Replay the suite against today's code, grade each case, and return the run.

    - `suite`: the suite folder (`"evals"`), or a `Suite` from `load_suite`.
    - `target`: call this `module:function` for every case instead of each case's entry point.
    - `tags`: keep the cases that carry any of these tags; `cases`: those whose id starts with
      one of these (a unique prefix); `shard`: `"I/N"`, a stable I-th of N parts of the suite.
    - `epochs`: replay each case this many times; `concurrency`: cases in flight at once.
    - `frozen_tools`: answer `@casebank.tool` calls from the case's recorded fixtures (None: as
      each case says); `on_missing_fixture`: a frozen call with no recorded answer fails its case
      (`"fail"`) or runs the tool (`"live"`).
    - `factories`: `{"module:Class": "module:function"}`, what makes the instance a method's case
      replays on (else `Class()`), as the project config's `factories`.
    - `baseline`: a `RunReport`, a `cases run --json` file, or a stored run (`"latest"`, an id
      or a unique prefix; needs `store`). The comparison is `report.comparison`.
    - `timeout`, `retries`, `retry_on`, `retry_wait`: per attempt, as `cases run`'s options.
    - `on_result`: called with each result as it arrives; `handle_sigint`: Ctrl-C stops the run
      and returns what finished (main thread only).
    - `redact`: PII redactors by name (`"email"`, `"phone"`, `"card"`, `"iban"`, `"pii"`) and
      callables (`str -> str`) for what the results keep of each output, error and traceback,
      after the secret nets capture uses (None: the project config's `redact`). Graders see the
      raw output.
    - `store`: where the run is recorded (see the module docstring); `origin` says, in the
      store, what ran it (`cases runs` shows it): "api" here, "cli" for `cases run`.

    Raises a `casebank.errors.CasebankError` subclass, naming the thing and the fix, when the
    suite, a case id, a tag, the baseline or a target cannot be used; a case whose target raises
    fails in the report instead.
    """
    chosen = _chosen(suite, tags=tags, cases=cases, shard=shard)
    with _opened(store) as opened:
        before = _baseline(opened, baseline)
        report = replay_cases(
            chosen,
            target=target,
            concurrency=concurrency,
            epochs=epochs,
            timeout=timeout,
            retries=retries,
            retry_on=retry_on,
            retry_wait=retry_wait,
            on_result=on_result,
            handle_sigint=handle_sigint,
            store=opened,
            frozen_tools=frozen_tools,
            on_missing_fixture=on_missing_fixture,
            factories=factories,
            redact=redact,
        )
        report.git_commit = git_commit()
        report.origin = origin
        report.baseline_id = before.id if before is not None else None
        if opened is not None:
            record(opened, report)
    if before is not None:
        report.comparison = compare(before, report)
    return report


def _one_or_many(value: str | Sequence[str] | None) -> list[str]:
    # `tags="refunds"` means one tag, not the tags r, e, f, u, n, d, s.
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _chosen(
    suite: str | os.PathLike[str] | Suite,
    *,
    tags: str | Sequence[str] | None,
    cases: str | Sequence[str] | None,
    shard: str | None,
) -> Suite:
    loaded = suite if isinstance(suite, Suite) else load_suite(Path(suite))
    return select(
        loaded,
        tags=_one_or_many(tags),
        case_ids=_one_or_many(cases),
        shard=parse_shard(shard) if shard is not None else None,
    )


@contextlib.contextmanager
def _opened(store: Store | str | os.PathLike[str] | None) -> Iterator[Store | None]:
    """The store given, left open; one named by a path or URL, opened (created) for the call and closed."""
    if not isinstance(store, (str, os.PathLike)):
        yield store
        return
    with open_store(store, create=True) as opened:
        yield opened


def _baseline(store: Store | None, baseline: str | os.PathLike[str] | RunReport | None) -> RunReport | None:
    if baseline is None or isinstance(baseline, RunReport):
        return baseline
    ref = os.fspath(baseline)
    if store is None and not (ref.endswith(".json") or Path(ref).exists()):
        raise InvalidInput(
            f"baseline '{ref}' is a stored run but no store was given - pass store=PATH, or a 'cases run --json' file"
        )
    return load_baseline(store, ref)
