"""Bearer tokens: 401 without a token or with a wrong one, 403 for a token without the scope.

The admin token (`CASEBANK_TOKEN` or `--token-file`) lives only in the server's memory and has
every scope; it is compared in constant time. Other tokens are kept in the store by the hash of
their secret (`cases token create`), looked up by that hash on every request, so a revoked token
stops working at once, on every server of the store.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from casebank.server._calls import StoreCalls
from casebank.server._errors import HTTPError
from casebank.store import TOKEN_SCOPES, token_hash

__all__ = ["Auth"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="casebank"'}


class Auth:
    def __init__(self, admin_token: str | None, calls: StoreCalls) -> None:
        self._admin = admin_token.encode() if admin_token else None
        self._calls = calls

    async def identify(self, hashed: str) -> tuple[str, tuple[str, ...]] | None:
        """(name, scopes) of the token whose secret hashes to `hashed` (`token_hash`), None for one
        this server does not know (any more): the review pages keep a session by the hash and ask
        on every request, so a revoked token stops working at once there too."""
        if self._admin is not None and hmac.compare_digest(hashed.encode(), token_hash(self._admin.decode()).encode()):
            return "admin", TOKEN_SCOPES
        token = await self._calls(self._calls.store.token_by_hash, hashed)
        if token is None:
            return None
        return str(token.get("name")), tuple(token.get("scopes") or ())

    async def require(self, request: Request, scope: str) -> str:
        """The name of the request's token ("admin" for the admin token) if it has `scope`."""
        secret = _bearer(request)
        if self._admin is not None and hmac.compare_digest(secret.encode(), self._admin):
            return "admin"
        token = await self._calls(self._calls.store.token_by_hash, token_hash(secret))
        if token is None:
            raise HTTPError(401, "the bearer token is not one this server knows - see 'cases token list'", _CHALLENGE)
        scopes = token.get("scopes") or []
        if scope not in scopes and "admin" not in scopes:
            raise HTTPError(
                403,
                f"token '{token.get('name')}' lacks the '{scope}' scope - "
                f"create one with 'cases token create --name NAME --scope {scope}'",
            )
        return str(token.get("name"))


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPError(
            401,
            "this route needs 'Authorization: Bearer <token>' - pass the admin token or one from 'cases token create'",
            _CHALLENGE,
        )
    return secret.strip()
