"""Running code a model wrote, in a child process that cannot harm the runner.

`run_python_tests` starts a fresh interpreter (`python -I`: no user site, no PYTHON* variables)
in its own session, with a scratch folder as its working directory and HOME and an environment
of a few fixed variables. The child first limits itself, before any untrusted line runs:

    what                          how                                             when it is hit
    wall-clock time               the parent kills the child's process group      "did not finish"
    CPU time                      RLIMIT_CPU (time limit + 1 s)                    killed by SIGXCPU
    memory                        RLIMIT_AS (option memory_mb)                     MemoryError
    processes                     RLIMIT_NPROC=0, and an audit hook refusing       PermissionError
                                  os.fork/exec/spawn/system/posix_spawn,
                                  subprocess and pty (RLIMIT_NPROC does not bind root)
    signals to other processes    audit hook on os.kill/killpg                     PermissionError
    network                       audit hook refusing socket creation, connect,    PermissionError
                                  bind and name lookups
    writes outside the scratch    audit hook on open (write modes and O_WRONLY/    PermissionError
    folder                        O_RDWR/O_CREAT/O_APPEND/O_TRUNC), and on remove,
                                  rename, mkdir, rmdir, chmod, chown, link,
                                  symlink, truncate, utime, rmtree, sqlite3.connect
    big files, many descriptors   RLIMIT_FSIZE (64 MB), RLIMIT_NOFILE (256)        OSError
    native escape hatches         importing ctypes, _ctypes or _posixsubprocess    PermissionError
    flooding the parent           stdout/stderr go to files (size-capped), not
                                  pipes; the parent reads only their tails

What it does NOT prevent: reading any file the runner's user can read; code that defeats an
audit hook from inside the interpreter (a C extension already installed in the environment that
forks or opens sockets itself; `os.open` with a `dir_fd` pointing outside the scratch folder);
and, since the tests run in the same interpreter as the code under test, code written to forge a
pass by inspecting the harness. It protects the runner from runaway or careless code, the usual
failure of a model's output; it is not a jail for an adversary - use a container for that.

The verdict travels back as one line on the child's stdout, prefixed by a random nonce that the
child reads from stdin before any untrusted code runs; a child that dies, hangs or prints
anything else has failed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank._words import count

__all__ = ["SandboxResult", "run_python_tests"]

_TAIL = 2000  # bytes of the child's stderr kept for the reason

# Runs in the child as `python -I -c _HARNESS`. Stdlib only, and nothing imported after the hook
# that the hook would refuse.
_HARNESS = r"""
import io, json, os, resource, sys, traceback, types

def _main():
    job = json.loads(sys.stdin.readline())
    nonce = job.pop("nonce")
    scratch = os.path.realpath(job["scratch"])
    limits = [
        (resource.RLIMIT_AS, job["memory"]),
        (resource.RLIMIT_CPU, job["cpu"]),
        (resource.RLIMIT_FSIZE, 64 * 1024 * 1024),
        (resource.RLIMIT_NOFILE, 256),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in limits:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    for name in ("ctypes", "_ctypes", "_posixsubprocess", "subprocess"):
        sys.modules.pop(name, None)
    real = os.path.realpath
    sep = os.sep

    def inside(path):
        if isinstance(path, int):
            return True
        try:
            full = real(os.fsdecode(path))
        except Exception:
            return False
        return full == scratch or full.startswith(scratch + sep)

    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    refused = {"os.fork", "os.forkpty", "os.exec", "os.spawn", "os.posix_spawn", "os.system", "os.startfile",
               "subprocess.Popen", "pty.spawn", "socket.__new__", "socket.connect", "socket.bind",
               "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto",
               "os.setuid", "resource.setrlimit", "resource.prlimit", "sys.addaudithook"}
    paths1 = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
              "shutil.rmtree", "os.listxattr", "os.setxattr", "os.removexattr", "sqlite3.connect"}
    paths2 = {"os.rename", "os.link", "os.symlink"}
    native = {"ctypes", "_ctypes", "_posixsubprocess"}

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            wants_write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & writes)
            if wants_write and not inside(path):
                raise PermissionError(f"sandbox: writing outside the scratch folder is not allowed: {path!r}")
        elif event in refused:
            raise PermissionError(f"sandbox: {event} is not allowed")
        elif event in ("os.kill", "os.killpg"):
            if args[0] not in (0, os.getpid()):
                raise PermissionError(f"sandbox: {event} is not allowed")
        elif event == "import":
            if args[0] in native:
                raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
        elif event in paths1:
            if args and not inside(args[0]):
                raise PermissionError(f"sandbox: {event} outside the scratch folder is not allowed")
        elif event in paths2:
            if not (inside(args[0]) and inside(args[1])):
                raise PermissionError(f"sandbox: {event} outside the scratch folder is not allowed")

    result_out = sys.stdout
    sys.addaudithook(hook)
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    sys.path.insert(0, scratch)
    report = {"stage": "import", "passed": 0, "total": 0, "failures": []}
    module = types.ModuleType("solution")
    module.__file__ = os.path.join(scratch, "solution.py")
    sys.modules["solution"] = module
    try:
        exec(compile(job["code"], module.__file__, "exec"), module.__dict__)
        report["stage"] = "tests"
        namespace = dict(module.__dict__)
        namespace["__name__"] = "__casebank_tests__"
        exec(compile(job["tests"], "<tests>", "exec"), namespace)
        tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test") and callable(fn)
                 and getattr(getattr(fn, "__code__", None), "co_filename", "") == "<tests>"]
        report["total"] = max(len(tests), 1)
        for name, fn in tests:
            try:
                fn()
                report["passed"] += 1
            except BaseException as exc:
                report["failures"].append(f"{name}: {_describe(exc)}")
        if not tests:
            report["passed"] = 1
        report["stage"] = "done"
    except BaseException as exc:
        report["failures"].append(_describe(exc))
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    report["printed"] = captured.getvalue()[-500:]
    result_out.write("\n" + nonce + json.dumps(report) + "\n")
    result_out.flush()

def _describe(exc):
    text = " ".join(str(exc).split())
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name == "<tests>":
            where = f" (line {tb.tb_lineno} of the tests)"
        elif name.endswith("solution.py"):
            where = f" (line {tb.tb_lineno} of the output)"
        tb = tb.tb_next
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"

_main()
"""


@dataclass(kw_only=True)
class SandboxResult:
    passed: bool
    reason: str
    tests_passed: int = 0
    tests_total: int = 0
    failures: list[str] = field(default_factory=list)


def run_python_tests(code: str, tests: str, *, timeout: float, memory_mb: int) -> SandboxResult:
    """Run `code` as module `solution`, then `tests` in its namespace, in a limited child process."""
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="casebank-sandbox-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        job = {
            "nonce": nonce,
            "scratch": str(scratch),
            "code": code,
            "tests": tests,
            "memory": memory_mb * 1024 * 1024,
            "cpu": int(timeout) + 1,
        }
        env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-X", "utf8", "-c", _HARNESS],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                cwd=scratch,
                env=env,
                start_new_session=True,  # its own process group: killed whole, never signals ours
            )
            timed_out = False
            try:
                proc.communicate(orjson.dumps(job) + b"\n", timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)
                proc.wait()
        return _result(proc.returncode, timed_out, timeout, _tail(out_path, 64 * 1024), _tail(err_path, _TAIL), nonce)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, size: int) -> str:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return f.read().decode("utf-8", errors="replace")


def _result(code: int | None, timed_out: bool, timeout: float, out: str, err: str, nonce: str) -> SandboxResult:
    if timed_out:
        return SandboxResult(passed=False, reason=f"the tests did not finish within {timeout:g} s - killed (a loop?)")
    report: dict[str, Any] | None = None
    for line in reversed(out.splitlines()):
        if line.startswith(nonce):
            report = orjson.loads(line[len(nonce) :])
            break
    if report is None:
        return SandboxResult(passed=False, reason=_death(code, err))
    failures = [str(f) for f in report["failures"]]
    if report["stage"] == "import":
        return SandboxResult(passed=False, reason=f"the output raised on import: {failures[0]}", failures=failures)
    if report["stage"] == "tests":
        return SandboxResult(passed=False, reason=f"the tests raised: {failures[0]}", failures=failures)
    passed, total = int(report["passed"]), int(report["total"])
    if not failures:
        return SandboxResult(
            passed=True, reason=f"{passed} of {count(total, 'test')} passed", tests_passed=passed, tests_total=total
        )
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    return SandboxResult(
        passed=False,
        reason=f"{total - passed} of {count(total, 'test')} failed: {failures[0]}{more}",
        tests_passed=passed,
        tests_total=total,
        failures=failures,
    )


def _death(code: int | None, err: str) -> str:
    last = next((line.strip() for line in reversed(err.splitlines()) if line.strip()), "")
    detail = f": {last[:200]}" if last else ""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        hint = " (CPU time limit)" if name == "SIGXCPU" else ""
        return f"the test process was killed by {name}{hint} before reporting{detail}"
    return f"the test process exited with code {code} before reporting{detail}"
