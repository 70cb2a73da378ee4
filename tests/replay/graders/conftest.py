"""The CLI fixtures (a real store, the real `cases` command) for the grader CLI test.

Under mutmut (`make mutants`), every mutant's tests run in a child forked from the process that
ran the whole selection once, local embedding model included; a forked child whose parent has
started torch's OpenMP thread pool hangs in its first encode. One thread has no pool to inherit,
so the embedding tests run there too. It is set before torch is imported, which is when it is read.
"""

import os

from tests.cli.conftest import cases, db, flagged, make_trace  # noqa: F401  (fixtures)

if "MUTANT_UNDER_TEST" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
