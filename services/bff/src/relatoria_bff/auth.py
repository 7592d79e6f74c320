"""Bearer JWT verification with PyJWT.

The accepted algorithms come from configuration, never from the token: HS* with a shared
secret (development) or RS*/ES* with keys from a JWKS URL (production, see `jwks`).
Issuer, audience, expiry and subject are required. The owner of a report is the token's
`sub`. A refusal says what was wrong in words of ours, never the library's text.

HMAC secrets shorter than `MIN_SECRET_BYTES` are refused at start-up, and so is the
development secret of `.env.dev` unless `jwt_allow_development_secret` is set (as
`.env.dev` itself does).
"""

import re
import time
from collections import OrderedDict
from typing import Any

import jwt

from relatoria_bff.errors import ApiError
from relatoria_bff.jwks import JwksKeys, UnknownSigningKeyError
from relatoria_shared.settings import Settings

_REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
MIN_SECRET_BYTES = 32
"""RFC 7518 3.2: an HS256 key at least as long as the hash's output."""
DEVELOPMENT_SECRET = "dev-only-secret-change-me-in-every-real-deployment"  # noqa: S105 - refused
"""The secret committed in `.env.dev` (and the Compose example): public, so never trusted
unless development is declared."""
# What a refusal says, by PyJWT's exception (most specific first).
_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this service"),
    (jwt.InvalidIssuerError, "the token was not issued by the expected issuer"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim (exp, iss, aud, sub)"),
    (jwt.InvalidAlgorithmError, "the token is signed with an algorithm not accepted here"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (UnknownSigningKeyError, "the token's signing key is not known"),
    (jwt.DecodeError, "the token is not a well-formed JWT"),
)
VERIFIED_TOKENS_KEPT = 4096
"""Tokens remembered once verified (a client sends the same one with every request)."""
REMEMBERED_SECONDS = 300.0
"""At most this long: a key withdrawn from the JWKS stops its tokens within minutes."""
# Owner ids are stored and logged: no control characters, no surrogates, bounded.
_SUBJECT = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,255}$")


def unauthorized(message: str) -> ApiError:
    """A 401 answer asking for a bearer token."""
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


class TokenVerifier:
    """Verifies bearer tokens against the configured issuer, audience and keys."""

    def __init__(self, settings: Settings, jwks: JwksKeys | None = None) -> None:
        """`jwks`: the key set of asymmetric algorithms, if not the one `jwt_jwks_url`
        names with its default timings."""
        self._algorithms = list(settings.jwt_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._verified: OrderedDict[str, tuple[str, float]] = OrderedDict()
        # HMAC: the current secret, then the previous one while a rotation is under way.
        self._secrets: list[str] = []
        self._jwks: JwksKeys | None = None
        if settings.uses_hmac:
            if settings.jwt_secret is None:
                raise ValueError("RELATORIA_JWT_SECRET is required for HS* algorithms")
            self._secrets = [
                secret.get_secret_value()
                for secret in (settings.jwt_secret, settings.jwt_previous_secret)
                if secret is not None
            ]
            for secret in self._secrets:
                _check_secret(secret, settings.jwt_allow_development_secret)
        else:
            if not settings.jwt_jwks_url:
                raise ValueError("RELATORIA_JWT_JWKS_URL is required for asymmetric algorithms")
            self._jwks = jwks or JwksKeys(settings.jwt_jwks_url)

    async def owner_of(self, token: str) -> str:
        """The subject of a valid token; raises a 401 `ApiError` otherwise.

        A token verified once is remembered (the most recent `VERIFIED_TOKENS_KEPT`) until
        it expires, for `REMEMBERED_SECONDS` at most: its signature and claims cannot
        change, only time (or a key withdrawn from the JWKS) can end it."""
        remembered = self._verified.get(token)
        if remembered is not None:
            owner, expires = remembered
            if time.time() < expires:
                self._verified.move_to_end(token)
                return owner
            del self._verified[token]
        try:
            claims = await self._verified_claims(token)
        except (jwt.PyJWTError, UnknownSigningKeyError) as exc:
            raise unauthorized(f"invalid token: {_refusal(exc)}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise unauthorized("invalid token: the subject must be 1-255 printable characters")
        expires = min(float(claims["exp"]) + self._leeway, time.time() + REMEMBERED_SECONDS)
        self._remember(token, subject, expires)
        return subject

    def _remember(self, token: str, subject: str, expires: float) -> None:
        self._verified[token] = (subject, expires)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        keys: list[Any] = list(self._secrets) or [await self._jwks_key(token)]
        for key in keys[:-1]:
            try:
                return self._decode(token, key)
            except jwt.InvalidSignatureError:
                continue  # signed with the other secret of a rotation
        return self._decode(token, keys[-1])

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=self._algorithms,
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            options={"require": _REQUIRED_CLAIMS},
        )
        return claims

    async def _jwks_key(self, token: str) -> Any:
        assert self._jwks is not None
        return await self._jwks.key_for(token)


def _refusal(exc: Exception) -> str:
    for kind, words in _REFUSALS:
        if isinstance(exc, kind):
            return words
    return "the token could not be verified"


def _check_secret(secret: str, development_allowed: bool) -> None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"RELATORIA_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
    if secret == DEVELOPMENT_SECRET and not development_allowed:
        raise ValueError(
            "RELATORIA_JWT_SECRET is the public development secret of .env.dev; set a secret "
            "of your own (or RELATORIA_JWT_ALLOW_DEVELOPMENT_SECRET=true on a development "
            "machine)"
        )


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
