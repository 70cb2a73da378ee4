"""Graders: each turns (output, expected) into a Verdict. Importing this registers them all.

    text        exact, contains, not_contains, regex, one_of           _text.py
    structured  json_valid, json_schema, json_fields, numeric          _structured.py
    programs    python_compiles, python_tests (sandboxed), sql_rows    _program.py, _sandbox.py, _sql.py
    custom      python (your function), all, any                      _custom.py
    meaning     embedding (local model or endpoint), llm_judge          _embedding.py, _judge.py

Heavy libraries (jsonschema, sqlglot) are imported when a grader that needs them is built.
"""

from casebank.replay.graders import (  # noqa: F401  (register)
    _custom,
    _embedding,
    _judge,
    _program,
    _sql,
    _structured,
    _text,
)
from casebank.replay.graders._base import (
    DEFAULT_BASE_DIR,
    GRADERS,
    Grader,
    Verdict,
    as_text,
    batches,
    grade_batch_safely,
    grade_safely,
    make_grader,
    register,
)

__all__ = [
    "DEFAULT_BASE_DIR",
    "GRADERS",
    "Grader",
    "Verdict",
    "as_text",
    "batches",
    "grade_batch_safely",
    "grade_safely",
    "make_grader",
    "register",
]
