"""The CLI fixtures (a real store, the real `cases` command) for the grader CLI test."""

from tests.cli.conftest import cases, db, flagged, make_trace  # noqa: F401  (fixtures)
