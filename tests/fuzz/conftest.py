"""Property-based tests (hypothesis): inputs nobody would write by hand, none of which may end in a
traceback. Deterministic (`derandomize`: the same examples every run, so a failure reproduces and
CI never flakes) and modest in number, so the folder stays within seconds; the fuzz benchmark
(`benchmarks/faults_fuzz.py`) runs the same strategies with many more examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# `CASEBANK_FUZZ_EXAMPLES` is for a deeper run by hand; the default keeps `make test` fast.
settings.register_profile(
    "casebank",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("CASEBANK_FUZZ_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("casebank")

# The real `cases` command and `cases serve` for the spot checks, as the CLI and server tests run them.
from tests.cli.conftest import cases, db  # noqa: E402, F401
from tests.server.conftest import servers  # noqa: E402, F401
