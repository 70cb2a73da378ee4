"""`cases audit`: checks that the suite is still worth trusting (issue 17).

One module an audit, `casebank.audit._<name>`, each with `audit(context) -> AuditResult`;
`AUDIT_NAMES` is their order. Imported only by the CLI (and `cases run`/`cases promote`'s short
forms), never by `import casebank`.
"""

from casebank.audit._base import AUDIT_NAMES, CHEAP_AUDITS, AuditContext, AuditResult, run_audit

__all__ = ["AUDIT_NAMES", "CHEAP_AUDITS", "AuditContext", "AuditResult", "run_audit"]
