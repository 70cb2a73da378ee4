"""casebank's own failures on the app's request path: counted, logged once, never raised.

Every piece of instrumentation code that runs inside the app's LLM call catches its own
exceptions and hands them to `warn`: the app's call goes on as if casebank were not there, the
first failure is logged so that someone can see it, and the rest are only counted (a broken
attribute builder would otherwise log once per call).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("casebank")

errors = 0  # failures so far in this process
_warned = False


def warn(exc: BaseException) -> None:
    """Count a failure of casebank's own code; log the first one. The app's call is unaffected."""
    global errors, _warned
    errors += 1
    if not _warned:
        _warned = True
        logger.warning("casebank: could not record an LLM call (the app is unaffected): %r", exc)
