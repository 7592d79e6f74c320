"""Bearer JWT verification with PyJWT.

The accepted algorithms come from configuration, never from the token: HS* with a shared
secret (development) or RS*/ES* with keys from a JWKS URL (production). Issuer, audience,
expiry and subject are required. The owner of a report is the token's `sub`.
"""

import asyncio
import re
import time
from typing import Any

import jwt

from relatoria_bff.errors import ApiError
from relatoria_shared.settings import Settings

_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# Owner ids are stored and logged: no control characters, no surrogates, bounded.
_SUBJECT = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,255}$")


def unauthorized(message: str) -> ApiError:
    """A 401 answer asking for a bearer token."""
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


class TokenVerifier:
    """Verifies bearer tokens against the configured issuer, audience and keys."""

    def __init__(self, settings: Settings) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._secret: str | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if settings.uses_hmac:
            if settings.jwt_secret is None:
                raise ValueError("RELATORIA_JWT_SECRET is required for HS* algorithms")
            self._secret = settings.jwt_secret.get_secret_value()
        else:
            if not settings.jwt_jwks_url:
                raise ValueError("RELATORIA_JWT_JWKS_URL is required for asymmetric algorithms")
            self._jwks = jwt.PyJWKClient(
                settings.jwt_jwks_url, cache_keys=True, lifespan=300, timeout=3
            )

    async def owner_of(self, token: str) -> str:
        """The subject of a valid token; raises a 401 `ApiError` otherwise."""
        try:
            key = await self._key_for(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise unauthorized(f"invalid token: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise unauthorized("invalid token: the subject must be 1-255 printable characters")
        return subject

    async def _key_for(self, token: str) -> Any:
        if self._secret is not None:
            return self._secret
        assert self._jwks is not None
        # PyJWKClient fetches over blocking urllib (cached afterwards): keep it off the loop.
        signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key


def issue_token(settings: Settings, subject: str, ttl_seconds: int = 3600) -> str:
    """A development token signed with the shared secret (HS* deployments only)."""
    if not settings.uses_hmac or settings.jwt_secret is None:
        raise ValueError("development tokens need an HS* algorithm and RELATORIA_JWT_SECRET")
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), settings.jwt_algorithms[0])
