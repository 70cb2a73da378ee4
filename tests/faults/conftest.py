"""Fixtures of the fault tests: the processes a test starts are killed when it ends, whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults._apps import App, Flagger, Process


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.close()


@pytest.fixture
def start_app(tmp_path: Path, processes: list[Process]) -> Callable[..., App]:
    def start(db: str | Path, name: str = "app") -> App:
        app = App(db, tmp_path, name)
        processes.append(app)
        app.wait_ready()
        return app

    return start


@pytest.fixture
def start_flagger(tmp_path: Path, processes: list[Process]) -> Callable[..., Flagger]:
    def start(db: str | Path, name: str = "flagger") -> Flagger:
        flagger = Flagger(db, tmp_path, name)
        processes.append(flagger)
        return flagger

    return start
