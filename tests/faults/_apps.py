"""Processes for the fault tests: the app (`app.py`) and the flagger (`flagger.py`), driven by pipes.

A test keeps in step with a process by reading what it prints, never by sleeping: the app answers
each command with one JSON line, the flagger prints a line after each acknowledged flag. A line
that does not come within the timeout fails the test with the process's stderr.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casebank.store import open_store

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
TIMEOUT_S = 60.0


def environment(db: str | Path) -> dict[str, str]:
    """The environment of a process of the test: this checkout first on the path, the store at `db`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEBANK_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["CASEBANK_DB"] = str(db)
    return env


class _Lines:
    """Lines of a process's stdout, read from the pipe as they come (a buffered reader would hide a
    line that arrived with the one before from `select`)."""

    def __init__(self, fd: int, what: str, stderr: Callable[[], str]) -> None:
        self.fd, self.what, self.stderr = fd, what, stderr
        self.buffer = b""

    def next(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"{self.what}: no answer within {timeout_s:.0f} s\n{self._stderr()}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"{self.what}: the process ended\n{self._stderr()}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def _stderr(self) -> str:
        return self.stderr()[-3000:]


class Process:
    def __init__(self, args: list[str], db: str | Path, folder: Path, name: str) -> None:
        self.name = name
        # stderr through a pipe, not into a file: a test may forbid the process to write files.
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=environment(db),
            cwd=folder,
        )
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        assert self.proc.stdout is not None
        self._lines = _Lines(self.proc.stdout.fileno(), name, self.stderr)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def line(self, timeout_s: float = TIMEOUT_S) -> str:
        return self._lines.next(timeout_s)

    def stderr(self) -> str:
        """What the process wrote to stderr (all of it once it has ended)."""
        if self.proc.poll() is not None:
            self._drain.join(10)
        return "".join(self._stderr)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def close(self) -> None:
        self.kill()
        self._drain.join(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:  # stdin of a process that was killed with input unread
                    pass


class App(Process):
    """`app.py`: a product with casebank.init() into `db` (see its docstring for the commands)."""

    def __init__(self, db: str | Path, folder: Path, name: str = "app") -> None:
        super().__init__([str(HERE / "app.py")], db, folder, name)

    def wait_ready(self) -> None:
        ready = self.answer()
        assert ready == {"ready": True}, f"{self.name} did not start capturing: {self.stderr()}"

    def answer(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.line())
        return value

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str) -> dict[str, Any]:
        self.send(command)
        return self.answer()

    def call(self, n: int, size: int = 10, label: str = "call") -> dict[str, Any]:
        return self.ask(f"call {n} {size} {label}")

    def until(
        self, condition: Callable[[dict[str, Any]], bool], label: str, timeout_s: float = TIMEOUT_S
    ) -> dict[str, Any]:
        """Make a traced call and flush, again, until capture's stats meet `condition`; the stats then."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.call(1, 10, label)
            stats = self.ask("flush")
            if condition(stats):
                return stats
            assert time.monotonic() < deadline, f"capture did not resume: {stats}\n{self.stderr()[-3000:]}"

    def quit(self) -> dict[str, Any]:
        stats = self.ask("quit")
        assert self.proc.wait(30) == 0, self.stderr()
        return stats

    def casebank_lines(self, level: str) -> list[str]:
        return [line for line in self.stderr().splitlines() if line.startswith(f"{level} casebank ")]


class Flagger(Process):
    """`flagger.py`: flags the store's recent traces until `stop()`, recording each acknowledged one."""

    def __init__(self, db: str | Path, folder: Path, name: str = "flagger") -> None:
        self.record = folder / f"{name}.flags"
        self.stop_file = folder / f"{name}.stop"
        self.stop_file.unlink(missing_ok=True)
        super().__init__([str(HERE / "flagger.py"), str(db), str(self.record), str(self.stop_file)], db, folder, name)
        self.flagged = 0

    def wait_for(self, flags: int) -> None:
        """Until `flags` flags in all were acknowledged."""
        while self.flagged < flags:
            self.flagged = int(self.line().split()[1])

    def stop(self) -> None:
        self.stop_file.touch()
        assert self.proc.wait(60) == 0, self.stderr()

    def recorded(self) -> list[str]:
        return self.record.read_text().split() if self.record.exists() else []


TRACE_ID = "ab" * 16

# Once the flag is tried, the file-size limit (`no_writes`) is lifted again: the process's own exit
# handlers write files (coverage's data, under `make test`), and their failure is not casebank's.
_FLAG = """
import json, resource, sys
import casebank
from casebank.errors import CasebankError
try:
    print(json.dumps({"incident": casebank.flag(sys.argv[2], reason="wrong", db=sys.argv[1])}))
except CasebankError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
"""


def flag_in_a_process(db: str | Path, *, no_writes: bool = False) -> dict[str, Any]:
    """casebank.flag in a process of its own (with `no_writes`, one the kernel lets write no file)."""

    def forbid_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    done = subprocess.run(
        [sys.executable, "-c", _FLAG, str(db), TRACE_ID],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(db),
        preexec_fn=forbid_writes if no_writes else None,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def write_a_trace(db: str | Path) -> None:
    span = (TRACE_ID, TRACE_ID[:16], None, "answer", "internal", "t1", 1, 1.0, "ok", None, "{}", None, "svc")
    trace = (TRACE_ID, "answer", "bot:answer", '"q"', '"a"', "ok", None, "t1", 1, 1.0, "svc", 1, None)
    with open_store(db) as store:
        store.write_spans([span], [trace])
