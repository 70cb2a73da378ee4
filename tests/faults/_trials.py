"""The crash and concurrency trials, shared by the tests (a few rounds) and benchmarks/bench_faults.py (more).

`kill_trial`: an app writes hard while a flagger flags; the app is killed with SIGKILL mid-write,
the flagger goes on against the store the app left, then is killed too. The store must open,
pass its integrity check, and hold every flag the flagger saw return, with its snapshot.

`concurrent_trial`: several app processes write one store while a flagger flags it. No process
may see a sqlite3 error ("database is locked" above all), every flag must return, and every span
an app's writer reported written must be in the store, with none dropped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from casebank.store import open_store, parse_store_url
from tests.faults._apps import App, Flagger, Process

__all__ = [
    "ConcurrentTrial",
    "FaultTrial",
    "KillTrial",
    "concurrent_trial",
    "deletion_trial",
    "disk_fault_trial",
    "kill_trial",
]

# What a user must never see from casebank, in any process's stderr.
NEVER_SHOWN = ("database is locked", "OperationalError", "Traceback")


@dataclass
class KillTrial:
    flags_acknowledged: int  # over every round so far
    rounds: int = 0
    sound_rounds: int = 0  # after which the store was sound and held every flag acknowledged so far
    problems: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not self.problems


def _close(processes: list[Process]) -> None:
    for process in processes:
        process.close()


def store_problems(db: str | Path, acknowledged: list[str]) -> list[str]:
    """Why the store at `db` is not sound, or misses a flag of `acknowledged` (incident ids): none when all is well."""
    problems: list[str] = []
    where = parse_store_url(db)
    if where.path is not None:
        conn = sqlite3.connect(where.path)
        try:
            checked = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        if checked != ["ok"]:
            problems.append(f"integrity_check: {checked[:5]}")
    try:
        store = open_store(db, create=False)
    except Exception as exc:
        return [*problems, f"the store does not open: {exc}"]
    with store:
        check = getattr(store, "check_integrity", None)  # the Store protocol's own check, where it has one
        if check is not None:
            problems.extend(check())
        for incident_id in acknowledged:
            try:
                incident = store.get_incident(incident_id)
            except Exception as exc:
                problems.append(f"acknowledged flag {incident_id} is missing: {exc}")
                continue
            if not incident.spans:
                problems.append(f"acknowledged flag {incident_id} has no snapshot")
    return problems


def kill_trial(
    db: str | Path, folder: Path, rounds: int, *, flags_while_writing: int = 3, flags_after: int = 2
) -> KillTrial:
    """`rounds` rounds of kill -9 on one store; the problems found after each round (empty: all sound)."""
    acknowledged: list[str] = []
    trial = KillTrial(flags_acknowledged=0)
    for n in range(rounds):
        processes: list[Process] = []
        try:
            app = App(db, folder, f"app{n}")
            processes.append(app)
            app.wait_ready()
            app.send(f"busy round{n}")
            assert app.answer() == {"ready": True}  # its first spans are in: the flagger has traces
            flagger = Flagger(db, folder, f"flagger{n}")
            processes.append(flagger)
            flagger.wait_for(flags_while_writing)
            app.kill()  # SIGKILL, its writer mid-batch
            flagger.wait_for(flags_while_writing + flags_after)  # flags on the store as the crash left it
            flagger.kill()
            shown = [text for text in NEVER_SHOWN if text in flagger.stderr()]
            if shown:
                trial.problems.append(f"round {n}: the flagger saw {shown}: {flagger.stderr()[-1000:]}")
            acknowledged += flagger.recorded()
        finally:
            _close(processes)
        trial.flags_acknowledged = len(acknowledged)
        found = store_problems(db, acknowledged)
        trial.rounds += 1
        trial.sound_rounds += not found
        trial.problems += [f"round {n}: {problem}" for problem in found]
    return trial


@dataclass
class ConcurrentTrial:
    spans_reported_written: int
    spans_stored: int
    spans_dropped: int
    calls: int
    flags: int
    problems: list[str] = field(default_factory=list)

    @property
    def spans_lost(self) -> int:
        return self.spans_reported_written - self.spans_stored


def concurrent_trial(
    db: str | Path, folder: Path, *, writers: int = 3, rounds: int = 3, calls: int = 400
) -> ConcurrentTrial:
    """`writers` apps write `rounds` x `calls` traced calls each into `db` at once while a flagger flags."""
    processes: list[Process] = []
    problems: list[str] = []
    try:
        apps = [App(db, folder, f"writer{i}") for i in range(writers)]
        processes += apps
        for app in apps:
            app.wait_ready()
        flagger = Flagger(db, folder)
        processes.append(flagger)
        for r in range(rounds):
            for i, app in enumerate(apps):
                app.send(f"call {calls} 1000 w{i}r{r}")  # every writer at once
            for app in apps:
                if app.answer()["failed"]:
                    problems.append(f"{app.name}: an app call failed")
            flagger.wait_for(2 * (r + 1))  # flags made while the writers' spans go in
        finals = [app.quit() for app in apps]
        flagger.stop()
        for process in processes:
            shown = [text for text in NEVER_SHOWN if text in process.stderr()]
            warned = [line for line in process.stderr().splitlines() if line.startswith("WARNING")]
            if shown or warned:
                problems.append(f"{process.name} showed {shown or warned}: {process.stderr()[-1000:]}")
        flags = flagger.recorded()
    finally:
        _close(processes)
    problems += store_problems(db, flags)
    with open_store(db, create=False) as store:
        stored = store.counts().spans
    return ConcurrentTrial(
        spans_reported_written=sum(int(f["spans_written"]) for f in finals),
        spans_stored=stored,
        spans_dropped=sum(int(f["spans_dropped"]) for f in finals),
        calls=sum(int(f["calls"]) for f in finals),
        flags=len(flags),
        problems=problems,
    )


@dataclass
class FaultTrial:
    """What a running app went through under one fault: its calls, whether capture came back,
    what casebank logged, and what is wrong with the store or the counts (`problems`)."""

    calls: int
    calls_failed: int
    resumed: bool
    warnings: list[str]
    back: list[str]  # the INFO lines saying the store takes writes again
    problems: list[str] = field(default_factory=list)


def _labelled(db: str | Path, label: str) -> int:
    with open_store(db, create=False) as store:
        return sum(
            1 for t in store.recent_traces(100_000) if t.input and str(t.input.get("question", "")).startswith(label)
        )


def _finish(app: App, db: str | Path, resumed: bool, *, before: int) -> FaultTrial:
    """Quit the app and check its log and the store: every span stored or counted as dropped."""
    final = app.quit()
    trial = FaultTrial(
        calls=int(final["calls"]),
        calls_failed=int(final["failed"]),
        resumed=resumed,
        warnings=app.casebank_lines("WARNING"),
        back=[line for line in app.casebank_lines("INFO") if "is back" in line],
    )
    if "Traceback" in app.stderr():
        trial.problems.append(f"a traceback: {app.stderr()[-2000:]}")
    trial.problems += store_problems(db, [])
    with open_store(db, create=False) as store:
        counts = store.counts()
    if counts.spans != final["spans_written"] - before:  # `before`: spans that went with a deleted file
        trial.problems.append(f"{counts.spans} spans stored, the writer said {final['spans_written']} - {before}")
    if counts.spans + counts.dropped_spans != final["calls"] - before:
        trial.problems.append(f"{counts.spans} stored + {counts.dropped_spans} dropped != {final['calls']} calls")
    if _labelled(db, "after") < 1:
        trial.problems.append("no span after the fault was stored")
    return trial


def disk_fault_trial(app: App, put: Callable[[], None], mend: Callable[[], None], db: str | Path) -> FaultTrial:
    """Calls before, during and after a fault that `put` puts on the app's store and `mend` takes off."""
    before = app.call(20, 10, "before")
    assert before == {"calls": 20, "failed": 0}, before
    assert app.ask("flush")["spans_written"] == 20
    put()
    app.call(300, 20_000, "during")  # more than a full disk could take
    during = app.ask("flush")
    mend()
    after = app.until(lambda stats: stats["capturing"], "after")
    trial = _finish(app, db, resumed=after["capturing"], before=0)
    if during["capturing"] or not during["write_errors"]:
        trial.problems.append(f"the fault did not bite: {during}")
    if _labelled(db, "before") != 20:
        trial.problems.append("spans written before the fault are gone")
    return trial


def deletion_trial(app: App, db: Path, suffixes: tuple[str, ...]) -> FaultTrial:
    """The store's files (`db` + each suffix) deleted under the app: capture goes on in a new store at the path."""
    assert app.call(20, 10, "before")["failed"] == 0
    assert app.ask("flush")["spans_written"] == 20
    for suffix in suffixes:
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    app.call(30, 10, "after")
    after = app.ask("flush")
    trial = _finish(app, db, resumed=after["capturing"] and after["spans_written"] == 50, before=20)
    if _labelled(db, "after") != 30 or _labelled(db, "before") != 0:
        trial.problems.append("the new store does not hold exactly the spans after the deletion")
    return trial
