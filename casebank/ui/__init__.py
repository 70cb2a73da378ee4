"""The review pages of `cases serve` under /ui: sign in with a token, find a trace by the ticket id
people know, read it as a conversation, flag it; annotate or dismiss incidents; see how runs went.

Server-rendered (Jinja2, autoescape on) and readable without JavaScript - the pages have none -
so they work offline and behind a strict Content-Security-Policy. Mounted by `cases serve`
through `create_app(extra_routes=...)`: the server package knows nothing of replay, and this one
may use both (the grader registry validates annotations; the HTML report draws the runs).
Never imported by `import casebank`.
"""

from __future__ import annotations

from casebank.ui._routes import ui_routes
from casebank.ui._session import Sessions

__all__ = ["Sessions", "ui_routes"]
