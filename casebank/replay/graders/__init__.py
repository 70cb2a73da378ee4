"""Graders: each turns (output, expected) into a Verdict. One registry finds them by name.

    text        exact, contains, not_contains, regex, one_of           _text.py
    structured  json_valid, json_schema, json_fields, numeric          _structured.py
    programs    python_compiles, python_tests (sandboxed), sql_rows    _program.py, _sandbox.py, _sql.py
    custom      python (your function); function plug-ins               _custom.py
    composite   all, any                                               _composite.py
    spans       tool_called, tool_not_called, llm_calls, tokens, latency  _spans.py (read a `Replay`, _replay.py)
    meaning     embedding (local model or endpoint), llm_judge          _embedding.py, _judge*.py

What every grader shares (Verdict, Grader) is `_base.py`; how it declares its options (Number,
Text, Choice, ... - exported here for a team's own graders) is `_options.py`; which grader a
name, an entry point (group `casebank.graders`) or an import path `module:name` means is
`_registry.py`; the help and README table generated from that is `_help.py` (`python -m
casebank.replay.graders` prints the table). A grader's module is imported when it is first asked
for, and heavy libraries (jsonschema, sqlglot, a model) when a grader that needs them is built
or first grades.
"""

from casebank.replay.graders._base import (
    DEFAULT_BASE_DIR,
    Grader,
    NoReference,
    Verdict,
    as_text,
    batches,
    grade_batch_safely,
    grade_safely,
)
from casebank.replay.graders._options import REQUIRED, Choice, File, Flag, Integer, Json, Number, Text, Texts
from casebank.replay.graders._registry import (
    DEFAULT_GRADER,
    ENTRY_POINT_GROUP,
    GRADERS,
    make_grader,
    register,
)
from casebank.replay.graders._replay import Replay, ToolCall

__all__ = [
    "DEFAULT_BASE_DIR",
    "REQUIRED",
    "Choice",
    "File",
    "Flag",
    "Integer",
    "Json",
    "Number",
    "Text",
    "Texts",
    "DEFAULT_GRADER",
    "ENTRY_POINT_GROUP",
    "GRADERS",
    "Grader",
    "NoReference",
    "Replay",
    "ToolCall",
    "Verdict",
    "as_text",
    "batches",
    "grade_batch_safely",
    "grade_safely",
    "make_grader",
    "register",
]
