"""Sessions of the review pages: a signed cookie that names a token by its hash, and CSRF tokens.

The cookie `casebank_session` holds `{sid, token hash, expiry}` signed with HMAC-SHA256 under a
secret - never the token itself, so the cookie is no bearer credential for the API. The token
behind it is looked up on every request (`Auth.identify`), so a token revoked with `cases token
revoke` ends its sessions at once, on every server, as it does on the API.

The secret is given (`cases serve` reads `CASEBANK_SESSION_SECRET`), so that servers behind one
load balancer, and a server after a restart, read each other's sessions; or else made when the
server starts, and a restart ends every session. Signing out (`forget`) keeps the sid until its
cookie would have expired, so a copy of the cookie is refused too - by this process: the list
is not shared, so with a shared secret another server takes a copied cookie until it expires or
its token is revoked.

A session without a token (`token_hash` None) is made by the sign-in page, so that its form
carries a CSRF token too. Every form carries `csrf`, an HMAC of the session's sid under the same
secret, compared in constant time: a page of another site can neither read it (the cookie is
HttpOnly, SameSite=Strict, and the pages send no CORS headers) nor make it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import orjson

__all__ = ["COOKIE", "SESSION_S", "Session", "Sessions"]

COOKIE = "casebank_session"
SESSION_S = 8 * 3600  # a working day; then sign in again


@dataclass(frozen=True)
class Session:
    sid: str
    token_hash: str | None  # None: not signed in yet (the sign-in page's own session)
    expires: int  # unix seconds


class Sessions:
    def __init__(self, *, secret: bytes | None = None, lifetime_s: int = SESSION_S) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._lifetime_s = lifetime_s
        self._gone: dict[str, int] = {}  # sid -> expiry, of sessions signed out
        self._lock = threading.Lock()

    def new(self, token_hash: str | None) -> tuple[Session, str]:
        """A new session (a new sid each sign-in: a sid seen before signing in is never trusted
        after) and its cookie value."""
        session = Session(secrets.token_urlsafe(18), token_hash, int(time.time()) + self._lifetime_s)
        body = _b64(orjson.dumps({"sid": session.sid, "h": session.token_hash, "exp": session.expires}))
        return session, f"{body}.{self._sign('session:' + body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds; None for no cookie, a forged or expired one, or one signed out."""
        if not cookie or "." not in cookie:
            return None
        body, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign("session:" + body)):
            return None
        try:
            fields = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(fields["sid"]), fields["h"], int(fields["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= time.time():
            return None
        with self._lock:
            if session.sid in self._gone:
                return None
        return session

    def forget(self, session: Session) -> None:
        """Sign a session out: its cookie is refused from now on, even if a copy of it survives."""
        now = time.time()
        with self._lock:
            self._gone = {sid: exp for sid, exp in self._gone.items() if exp > now}
            self._gone[session.sid] = session.expires

    def csrf(self, session: Session) -> str:
        return self._sign("csrf:" + session.sid)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf(session))

    @property
    def lifetime_s(self) -> int:
        return self._lifetime_s

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._secret, text.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
