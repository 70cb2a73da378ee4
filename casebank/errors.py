"""Every error casebank raises on purpose.

    CasebankError                 exit 1 unless a subclass says otherwise
    ├── UsageError                exit 2: the user asked for something that cannot be done as asked
    │   ├── NotFound
    │   │   ├── TraceNotFound
    │   │   └── IncidentNotFound
    │   ├── AmbiguousId
    │   ├── InvalidTransition     an incident cannot go there from its status (annotate a promoted one, ...)
    │   ├── InvalidInput          a malformed option value, expected output, grader option, ...
    │   ├── StoreError            the file is not a casebank store, or cannot be opened
    │   ├── SuiteError            the suite folder or a case file cannot be used
    │   │   └── CaseIntegrityError  a case file whose content hash does not match
    │   ├── TargetImportError     `module:function` does not import
    │   └── FactoryError          no instance to replay a method on (its class or its factory fails)
    ├── PromotionRefused          exit 1: the case would not have caught the incident
    └── MissingFixture            a frozen replay called a tool with arguments the case has no answer for

    RecordedToolError             (not a CasebankError) a frozen replay re-raises a tool's recorded
                                  exception as this when its own type no longer imports or builds

Messages quote the bad value and name the fix, on one line: the CLI prints them as they are.
The capture path never raises any of these into the product; it logs and counts instead.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousId",
    "CaseIntegrityError",
    "CasebankError",
    "FactoryError",
    "IncidentNotFound",
    "InvalidInput",
    "InvalidTransition",
    "MissingFixture",
    "NotFound",
    "PromotionRefused",
    "RecordedToolError",
    "StoreError",
    "SuiteError",
    "TargetImportError",
    "TraceNotFound",
    "UsageError",
]


class CasebankError(Exception):
    """Base of every casebank error; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(CasebankError):
    exit_code = 2


class NotFound(UsageError):
    pass


class TraceNotFound(NotFound):
    pass


class IncidentNotFound(NotFound):
    pass


class AmbiguousId(UsageError):
    pass


class InvalidInput(UsageError):
    pass


class InvalidTransition(UsageError):
    pass


class StoreError(UsageError):
    pass


class SuiteError(UsageError):
    pass


class CaseIntegrityError(SuiteError):
    pass


class TargetImportError(UsageError):
    pass


class FactoryError(UsageError):
    pass


class PromotionRefused(CasebankError):
    exit_code = 1


class MissingFixture(CasebankError):
    """Raised into the replayed app by a `@casebank.tool` call the case has no recorded answer for
    (`cases run --frozen-tools --on-missing-fixture fail`); the case fails whatever the app does with it."""

    exit_code = 1


class RecordedToolError(Exception):
    """A tool's recorded exception, raised again by a frozen replay when its own type cannot be
    rebuilt (it no longer imports, or does not take a message). `type_name` is the recorded
    `module:qualname`, `message` its text. Not a CasebankError: it stands for the app's own error."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
