"""The server a client talks to, as the span's `server.address` and `server.port`.

Read from the client's base URL on every call, so it is cached: by the URL object's id, checked
by identity (a client keeps its URL object for its lifetime; a new URL is a new entry), and
cleared when it grows past a few dozen entries. A module-level function has no client: no server.
"""

from __future__ import annotations

from typing import Any

_servers: dict[int, tuple[Any, tuple[str, int] | None]] = {}


def server_of(instance: Any) -> tuple[str, int] | None:
    """(host, port) of the client's base URL, cached by URL object (clients keep theirs)."""
    client = getattr(instance, "_client", None)
    url = getattr(client, "_base_url", None)  # the SDKs keep it there; openai's `base_url` is a computed property
    if url is None:
        url = getattr(client, "base_url", None)
        if url is None:
            return None
    cached = _servers.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    host, port = getattr(url, "host", None), getattr(url, "port", None)
    if not isinstance(port, int):
        port = 443 if getattr(url, "scheme", None) == "https" else 80
    server = (host, port) if isinstance(host, str) and host else None
    if len(_servers) > 64:
        _servers.clear()
    _servers[id(url)] = (url, server)
    return server
