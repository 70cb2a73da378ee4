"""Growing the public API is a decision: this list changes only on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import casebank
from casebank.store import open_store


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
        "span",
        "tool",
        "trace",
        "uninstrument",
        "wrap",
    ]
    for name in casebank.__all__:
        assert hasattr(casebank, name)


def test_importing_casebank_does_not_load_the_cli_the_runner_or_heavy_packages() -> None:
    heavy = ["typer", "rich", "click", "sqlite_utils", "opentelemetry.sdk", "casebank.cli", "casebank.replay"]
    heavy += ["openai", "anthropic", "wrapt", "scipy", "jsonschema", "sqlglot", "yaml", "sqlite3", "pydantic"]
    heavy += ["casebank.server", "starlette", "uvicorn", "google.protobuf", "opentelemetry.proto"]
    heavy += ["psycopg", "psycopg_pool", "datasketch", "numpy", "casebank.audit"]
    code = f"import sys, casebank; print([m for m in {heavy!r} if m in sys.modules])"
    # Coverage, when it measures this run, starts in the child too and loads sqlite3 itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "COVERAGE_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"


def test_capturing_into_a_new_store_loads_no_sqlite_utils(tmp_path: Path) -> None:
    # sqlite-utils imports pandas and numpy whenever they are installed: not in the product's process.
    code = (
        "import sys, casebank\n"
        f"casebank.init({str(tmp_path / 'new.db')!r})\n"
        "casebank.trace(lambda question: 'answer')('question')\n"
        "casebank.flush()\n"
        "print([m for m in ('sqlite_utils', 'numpy', 'pandas') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    with open_store(tmp_path / "new.db") as store:
        assert store.counts().traces == 1


def test_the_package_says_it_is_typed_and_its_version_is_the_distributions() -> None:
    from importlib import metadata, resources

    assert resources.files("casebank").joinpath("py.typed").is_file()
    assert metadata.version("casebank") == casebank.__version__
