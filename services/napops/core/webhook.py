"""Authentication of inbound webhooks: bearer tokens and HMAC-SHA256 body signatures.

Both comparisons are constant-time. A signature is the lowercase hex HMAC-SHA256 of the raw
body under a shared secret, in a header whose name is configurable (Gitea sends
``X-Gitea-Signature``; a ``sha256=`` prefix, as GitHub and Gitea's newer header use, is
accepted too). The body is read only after its declared length passed the limit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Request, Response, request

from .http import json_error

Answer = tuple[Response, int]


def bearer_ok(header: str | None, tokens: str | Iterable[str]) -> bool:
    """True when ``header`` is ``Bearer <t>`` for one of ``tokens`` (constant time)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return False
    given = value.strip().encode()
    candidates = [tokens] if isinstance(tokens, str) else list(tokens)
    ok = False
    for token in candidates:  # compare with every token: time does not tell which matched
        ok |= hmac.compare_digest(given, token.encode())
    return ok


def signature(body: bytes, secret: str | bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``body`` under ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str | None, secret: str | bytes) -> bool:
    """True when ``header`` holds the HMAC-SHA256 of ``body`` (hex, optional ``sha256=``)."""
    value = (header or "").strip()
    if value.lower().startswith("sha256="):
        value = value[len("sha256=") :]
    if not value:
        return False
    return hmac.compare_digest(value.lower().encode(), signature(body, secret).encode())


def body_within(req: Request, limit: int) -> bytes | None:
    """The raw body when it is at most ``limit`` bytes, else None (read no further)."""
    length = req.content_length
    if length is not None and length > limit:
        return None
    data = req.stream.read(limit + 1)
    return None if len(data) > limit else data


def require_bearer(token_of: Callable[[], str | Iterable[str]], realm: str) -> Callable[..., Any]:
    """Decorator for a Flask view: 401 with a JSON reason unless the bearer token matches.

    ``token_of`` is called per request, so a token may be reloaded from its file.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not bearer_ok(request.headers.get("Authorization"), token_of()):
                return unauthorised(realm)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def unauthorised(realm: str, reason: str = "missing or wrong bearer token") -> Answer:
    resp, code = json_error(401, reason)
    resp.headers["WWW-Authenticate"] = f'Bearer realm="{realm}"'
    return resp, code


def require_json(req: Request) -> Answer | None:
    """415 with a reason unless the request says its body is JSON."""
    mimetype = (req.mimetype or "").lower()
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return None
    shown = req.content_type or "none"
    return json_error(415, f"expected Content-Type application/json, got {shown}")
