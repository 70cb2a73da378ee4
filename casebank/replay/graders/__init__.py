"""Graders: each turns (output, expected) into a Verdict. Importing this registers them all."""

from casebank.replay.graders import _text  # noqa: F401  (registers exact, contains, regex)
from casebank.replay.graders._base import GRADERS, Grader, Verdict, as_text, grade_safely, make_grader, register

__all__ = ["GRADERS", "Grader", "Verdict", "as_text", "grade_safely", "make_grader", "register"]
