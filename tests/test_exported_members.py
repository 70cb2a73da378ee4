"""Growing the public API is a decision: this list changes only on purpose."""

from __future__ import annotations

import subprocess
import sys

import casebank


def test_the_public_api_is_exactly_this() -> None:
    assert casebank.__all__ == [
        "__version__",
        "attach",
        "current_trace_id",
        "flag",
        "flush",
        "init",
        "instrument_anthropic",
        "instrument_openai",
        "set_attributes",
        "shutdown",
        "trace",
        "uninstrument",
        "wrap",
    ]
    for name in casebank.__all__:
        assert hasattr(casebank, name)


def test_importing_casebank_does_not_load_the_cli_the_runner_or_heavy_packages() -> None:
    heavy = ["typer", "rich", "click", "sqlite_utils", "opentelemetry.sdk", "casebank.cli", "casebank.replay"]
    heavy += ["openai", "anthropic", "wrapt", "scipy", "jsonschema", "sqlglot", "yaml"]
    code = f"import sys, casebank; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
